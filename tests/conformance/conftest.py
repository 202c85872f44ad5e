"""Integrity conformance against LocalStack's S3, which validates checksums as S3 does.

Run by `make conformance` (and .ci/run), which installs LocalStack first; the session
fixture starts it in host mode and stops it after.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ft_archiver.settings import CliSettings
from ft_archiver.wiring.aws import aws_client
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from tests.support.aws import isolate
from tests.support.bucket import BucketInspector
from tests.support.settings import archiver_variables, settings_from


@pytest.fixture(scope="session")
def localstack() -> Iterator[LocalStack]:
    with LocalStack() as server:
        yield server


@dataclass
class Target:
    localstack: LocalStack
    bucket: str
    settings: CliSettings
    stored: BucketInspector


@pytest.fixture
def target(
    localstack: LocalStack, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Target:
    isolate(monkeypatch, localstack.endpoint_url)
    together.set_faults(Faults())
    variables = archiver_variables(
        together,
        bucket=f"conformance-{uuid.uuid4().hex[:10]}",
        bus="default",
        FT_ARCHIVER_PART_SIZE="5MiB",
        FT_ARCHIVER_PART_SIZE_FLOOR="5MiB",  # S3's own minimum: LocalStack enforces it
    )
    settings = settings_from(variables)
    assert settings.archive_bucket
    s3 = aws_client("s3", settings)
    s3.create_bucket(Bucket=settings.archive_bucket)
    stored = BucketInspector(s3, settings.archive_bucket)
    return Target(localstack, settings.archive_bucket, settings, stored)
