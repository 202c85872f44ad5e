"""Real wire protocols: a moto server process for AWS, the Together simulator for Together.

Both are started once per session on 127.0.0.1; every test gets its own bucket, bus and
capture queue, and a simulator with no faults switched on.
"""

import uuid
from collections.abc import Callable, Iterator

import pytest

from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from tests.support.aws import isolate, moto_server

from .harness import Harness


@pytest.fixture(scope="session")
def aws() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated_environment(aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, aws.endpoint_url)


@pytest.fixture
def harness(aws: MotoServer, together: TogetherSimulator) -> Iterator[Harness]:
    together.set_faults(Faults())
    yield Harness.deploy(aws, together, f"t-{uuid.uuid4().hex[:12]}")
    together.set_faults(Faults())


@pytest.fixture
def reconfigure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Set one of the functions' variables for this test, as a new deployment would."""
    from ft_archiver.handlers import dependencies

    def setenv(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        dependencies.reset()

    yield setenv
    monkeypatch.undo()
    dependencies.reset()
