"""Ctrl-C and SIGTERM for the command line: the first one stops the work (as
KeyboardInterrupt, so every ``finally`` and abort runs), later ones are ignored until
that clean-up is done, so impatient repeated Ctrl-C cannot cut an abort short and
leave a multipart upload open. SIGTERM (what ``timeout``, ``docker stop`` and
Kubernetes send) is handled the same way."""

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Interrupts:
    received: int | None = None  # the first signal's number
    repeats: int = 0

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report a process it ended."""
        return 128 + (self.received or signal.SIGINT)

    @property
    def word(self) -> str:
        return "terminated" if self.received == signal.SIGTERM else "interrupted"

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            raise KeyboardInterrupt
        self.repeats += 1
        if self.repeats == 1:
            sys.stderr.write("\nft-archiver: stopping; cleaning up first (aborting uploads)\n")


@contextmanager
def graceful_interrupts() -> Iterator[Interrupts]:
    interrupts = Interrupts()
    previous = {number: signal.getsignal(number) for number in HANDLED}
    for number in HANDLED:
        signal.signal(number, interrupts.handle)
    try:
        yield interrupts
    finally:
        for number, handler in previous.items():
            # Once stopping, stay deaf: a repeat arriving as the process exits would
            # otherwise end it with a traceback and the wrong status.
            signal.signal(number, signal.SIG_IGN if interrupts.received else handler)
