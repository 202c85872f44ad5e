"""The AWS side of a test: the emulator, the test credentials and the endpoint, set one way.

boto3 and the archiver read their AWS settings from the environment; a test (through
pytest's monkeypatch) or a benchmark (through ``os.environ``, or a child process's
environment) sets the same variables from here.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ft_archiver_tools.local.aws import TEST_CREDENTIALS, MotoServer

if TYPE_CHECKING:  # the benchmarks' environment has no pytest
    import pytest

# moto refuses non-last parts below this, like S3 does below 5 MiB; lowered so that
# many-part archives stay small enough for moto's in-memory assembly.
PART_MIN_SIZE = 64 * 1024

# Variables a developer's shell may hold that would point a test at real resources.
FOREIGN = ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "ARCHIVE_BUCKET", "ARCHIVE_PREFIX",
           "EVENT_BUS_NAME", "AWS_PROFILE")  # fmt: skip

SetEnv = Callable[[str, str], None]


def moto_server() -> MotoServer:
    """moto's server, taking parts down to PART_MIN_SIZE; start it with ``with``."""
    return MotoServer(part_min_size=PART_MIN_SIZE)


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """The test credentials and region, and the emulator every AWS call goes to."""
    return {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url}


def set_all(setenv: SetEnv, variables: Mapping[str, str]) -> None:
    """Every variable through ``setenv`` (monkeypatch.setenv, or os.environ's setter)."""
    for name, value in variables.items():
        setenv(name, value)


def isolate(monkeypatch: "pytest.MonkeyPatch", endpoint_url: str) -> None:
    """For one test: nothing of the developer's own AWS or Together set-up, and the
    emulator's endpoint with the test credentials."""
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    set_all(monkeypatch.setenv, aws_environment(endpoint_url))
