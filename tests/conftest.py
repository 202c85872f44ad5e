from collections.abc import Iterator

import pytest

from ft_archiver_tools.local.simulator import TogetherSimulator


@pytest.fixture(scope="session")
def together() -> Iterator[TogetherSimulator]:
    """The Together simulator on 127.0.0.1, shared by every test that needs it."""
    with TogetherSimulator() as simulator:
        yield simulator
