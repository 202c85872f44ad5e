"""The first Ctrl-C or SIGTERM stops the work; repeats wait for its clean-up."""

import os
import signal
from collections.abc import Iterator

import pytest

from ft_archiver_tools.interrupts import graceful_interrupts


@pytest.fixture
def pytest_handlers() -> Iterator[None]:
    """This test process's own handlers, put back after a test that stops."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.mark.parametrize(
    ("number", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_the_first_signal_interrupts_and_repeats_do_not(
    number: int, code: int, word: str, pytest_handlers: None
) -> None:
    cleaned = False
    with graceful_interrupts() as interrupts:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), number)  # the handler runs before the next instruction
        os.kill(os.getpid(), signal.SIGINT)  # impatient: during the clean-up
        os.kill(os.getpid(), signal.SIGTERM)
        cleaned = True  # reached: the repeats raised nothing
    assert cleaned
    assert (interrupts.exit_code, interrupts.word, interrupts.repeats) == (code, word, 2)
    # stopping: a repeat arriving while the process exits is ignored, not a traceback
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN


def test_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with graceful_interrupts():
        assert signal.getsignal(signal.SIGTERM) != before
    assert signal.getsignal(signal.SIGTERM) == before
