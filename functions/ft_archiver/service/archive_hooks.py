"""How one archive's transfer reports to its caller and ledger, and when it must suspend."""

from ft_archiver.cancellation import Cancellation
from ft_archiver.errors import ContinuationLimitError
from ft_archiver.service.control import TransferControl
from ft_archiver.service.ports import ArchiveSource
from ft_archiver.service.resume import Lease, ResumePoint, SavedProgress


class ArchiveHooks:
    """The transfer's hooks for one archive: progress goes to the caller's control, each
    resume point to the lease, and near the deadline the transfer suspends, unless the
    archive has used up its continuations, in which case it fails (the upload is
    aborted) rather than start one more.

    ``resumable`` False (the digest's state cannot be saved): nothing is saved and the
    transfer never suspends; it finishes in this run or not at all."""

    def __init__(
        self,
        control: TransferControl,
        lease: Lease,
        key: str,
        source: ArchiveSource,
        resumable: bool,
        deadline_margin_s: float,
        max_continuations: int | None,
    ) -> None:
        self._control = control
        self._lease = lease
        self._key = key
        self._source = source
        self._resumable = resumable
        self._margin_s = deadline_margin_s
        self._max_continuations = max_continuations

    @property
    def cancel(self) -> Cancellation:
        return self._control.cancel

    def on_progress(self, nbytes: int) -> None:
        self._control.on_progress(nbytes)

    def on_resume_point(self, point: ResumePoint) -> None:
        if self._resumable:
            self._lease.save(SavedProgress(self._key, self._source.size, self._source.etag, point))

    def should_suspend(self) -> bool:
        remaining_s = self._control.remaining_s
        if not self._resumable or remaining_s is None or remaining_s() >= self._margin_s:
            return False
        limit, continuation = self._max_continuations, self._control.continuation
        if limit is not None and continuation >= limit:
            raise ContinuationLimitError(
                f"the archive needs more than {limit} continuations (the stack's "
                f"MaxContinuations, FT_ARCHIVER_MAX_CONTINUATIONS): invocation "
                f"{continuation + 1} reached its deadline and the upload was aborted; "
                "raise MaxContinuations, or ArchiverMemorySize for more parts in "
                "flight, and request the archive again"
            )
        return True
