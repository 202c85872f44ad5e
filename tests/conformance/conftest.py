"""Integrity conformance against two S3 servers that validate checksums as S3 does:
LocalStack's S3 (the most AWS-like here) and SeaweedFS (a native one, as an
S3-compatible store a user would run). Every test taking ``target`` runs on both.

Run by `make conformance` (and .ci/run), which installs both first; the session fixtures
start each (LocalStack in host mode, ``weed mini``) on 127.0.0.1 and stop it after.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from ft_archiver.settings import CliSettings
from ft_archiver.wiring.aws import aws_client
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.seaweedfs import SeaweedFS
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from tests.support.aws import isolate
from tests.support.bucket import BucketInspector
from tests.support.settings import archiver_variables, settings_from


@pytest.fixture(scope="session")
def localstack() -> Iterator[LocalStack]:
    with LocalStack() as server:
        yield server


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    with SeaweedFS() as server:
        yield server


SERVERS = ["localstack", "seaweedfs"]


@dataclass
class Target:
    server: str  # one of SERVERS
    endpoint_url: str
    bucket: str
    settings: CliSettings
    stored: BucketInspector


@pytest.fixture(params=SERVERS)
def target(
    request: pytest.FixtureRequest, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Target:
    server: LocalStack | SeaweedFS = request.getfixturevalue(request.param)
    # LocalStack answers for the other services (the result events) in either case
    isolate(monkeypatch, request.getfixturevalue("localstack").endpoint_url)
    if request.param == "seaweedfs":
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint_url)
        # it reads a session token as one its own STS issued, and refuses ours; and
        # boto3's default session keeps the credentials it first resolved (an earlier
        # LocalStack test's, token included), so this test gets a session of its own
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
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
    return Target(request.param, server.endpoint_url, settings.archive_bucket, settings, stored)
