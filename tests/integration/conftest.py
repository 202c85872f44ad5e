"""Real wire protocols: a moto server process for AWS, the Together simulator for Together.

Both are started once per session on 127.0.0.1; every test gets its own bucket, bus and
capture queue, and a simulator with no faults switched on.
"""

import uuid
from collections.abc import Iterator

import pytest

from ft_archiver_tools.local.aws import TEST_CREDENTIALS, MotoServer, capture_events
from ft_archiver_tools.local.resources import deploy_local
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator

from .harness import Harness

# moto refuses non-last parts below this, like S3 does below 5 MiB; lowered so that
# many-part archives stay small enough for moto's in-memory assembly.
PART_MIN_SIZE = 64 * 1024


@pytest.fixture(scope="session")
def aws() -> Iterator[MotoServer]:
    with MotoServer(part_min_size=PART_MIN_SIZE) as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated_environment(aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "ARCHIVE_BUCKET", "ARCHIVE_PREFIX",
                 "EVENT_BUS_NAME", "AWS_PROFILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)


@pytest.fixture
def harness(aws: MotoServer, together: TogetherSimulator) -> Iterator[Harness]:
    together.set_faults(Faults())
    name = f"t-{uuid.uuid4().hex[:12]}"
    stack = deploy_local(
        aws, name, together_api_key=together.api_key, together_base_url=together.base_url
    )
    capture_queue_url = capture_events(aws, stack.bus_name, f"{name}-capture")
    yield Harness(aws, together, stack, capture_queue_url, PART_MIN_SIZE)
    together.set_faults(Faults())
