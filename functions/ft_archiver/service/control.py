"""What the caller of one archive hands in and gets back.

``TransferControl`` is the caller's hold on a running archive, in the way of s3transfer's
subscribers plus a future's cancel: it hears the size and the progress (subclass it and
override ``on_size`` / ``on_progress``), it can cancel, and in Lambda it knows the time
left and how many invocations came before. The archive returns ``Archived`` or, when the
deadline came first, ``Suspended``: a normal outcome, not an error.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ft_archiver.domain.events import ArchivedDetail


class TransferControl:
    def __init__(
        self,
        cancel: threading.Event | None = None,
        remaining_s: Callable[[], float] | None = None,
        continuation: int = 0,
    ) -> None:
        """``cancel``: set it to stop the archive (the upload is aborted).
        ``remaining_s``: the invocation's time left; without it the archive never
        suspends. ``continuation``: how many invocations of this archive came before."""
        self.cancel = cancel or threading.Event()
        self.remaining_s = remaining_s
        self.continuation = continuation

    def on_size(self, size: int) -> None:
        """The archive's size, once its download is open (before any byte moves)."""

    def on_progress(self, nbytes: int) -> None:
        """``nbytes`` more bytes are stored; called from transfer threads."""


@dataclass(frozen=True)
class Archived:
    """The archive is stored, verified and announced. ``transferred`` is False when it
    had been archived before and this run moved no bytes."""

    detail: ArchivedDetail
    transferred: bool = True


@dataclass(frozen=True)
class Suspended:
    """The deadline came first: the finished parts are saved and the upload left open
    for the next invocation."""

    parts_done: int
    parts: int

    def __str__(self) -> str:
        return f"stopped at part {self.parts_done} of {self.parts} before the deadline"


@dataclass(frozen=True)
class Delegated:
    """The archive is large enough for the distributed path: a state machine execution
    archives it and announces the outcome."""

    execution_arn: str


ArchiveOutcome = Archived | Suspended | Delegated


def without_deadline(outcome: ArchiveOutcome) -> Archived:
    """The outcome of an archive run without ``remaining_s`` and without a state machine
    (the command line), which is always Archived."""
    if not isinstance(outcome, Archived):
        raise RuntimeError(f"an archive run here ended {type(outcome).__name__}: {outcome}")
    return outcome
