"""Parallel ranged GETs into parallel UploadPart calls, memory bounded by the buffers alive.

Each part is read into one of ``lanes.buffers`` reused buffers (part_buffers), its CRC
computed, and uploaded; the SHA-256 of the whole archive is fed in part order by
whichever thread finishes the next part (ordered_digest), so hashing overlaps the
transfer; the unbroken run of parts both uploaded and hashed is the point a later
invocation resumes from (completed_prefix).
"""

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.parts import Lanes, PartPlan, PartRange
from ft_archiver.errors import (
    IntegrityError,
    NoProgressError,
    TransferCancelledError,
    UploadGoneError,
)
from ft_archiver.service.completed_prefix import CompletedPrefix
from ft_archiver.service.control import Suspended
from ft_archiver.service.futures import raise_first_failure
from ft_archiver.service.ordered_digest import OrderedDigest
from ft_archiver.service.part_buffers import HOLDERS_PER_PART, BufferPool, PartBuffers
from ft_archiver.service.ports import (
    Digests,
    ObjectSpec,
    ObjectStore,
    PartUpload,
    StoredObject,
    UploadedPart,
)
from ft_archiver.service.resume import ResumePoint


class RangeReader(Protocol):
    def __call__(self, start: int, into: memoryview, cancel: Cancellation) -> None:
        """Fill ``into`` with the archive's bytes from ``start`` on, or raise."""


class TransferHooks(Protocol):
    """What one transfer tells its caller, and asks it, while it runs."""

    @property
    def cancel(self) -> Cancellation: ...

    def on_progress(self, nbytes: int) -> None: ...

    def on_resume_point(self, point: ResumePoint) -> None: ...

    def should_suspend(self) -> bool:
        """True: take no new part. Raising fails the transfer (the upload is aborted)."""


class TransferCancellation:
    """Cancels one transfer: set by its first failing part, or by the caller's cancel.
    Its own flag lives and dies with the transfer, so a transfer started again after a
    failure (a vanished upload) is not born cancelled."""

    def __init__(self, caller: Cancellation) -> None:
        self._own = threading.Event()
        self._caller = caller

    def set(self) -> None:
        self._own.set()

    def is_set(self) -> bool:
        return self._own.is_set() or self._caller.is_set()


@dataclass(frozen=True)
class TransferResult:
    stored: StoredObject
    size: int
    sha256: str
    crc: int
    parts: int
    part_size: int


def transfer_single(
    store: ObjectStore, spec: ObjectSpec, size: int, read: RangeReader, cancel: Cancellation
) -> TransferResult:
    """An archive of at most one part: one read, one PutObject (a zero-byte one for 0 bytes)."""
    buffer = bytearray(size)
    if size:
        read(0, memoryview(buffer), cancel)
    crc = spec.algorithm.compute(buffer)
    sha256 = hashlib.sha256(buffer).hexdigest()
    with_digest = replace(spec, metadata={**spec.metadata, "sha256": sha256})
    stored = store.put_object(with_digest, buffer, crc)
    return TransferResult(stored, size, sha256, crc, 1, size)


class _PartDispatch:
    """Moves one part: read it into its buffer, checksum it, hand it to the digest and to
    an upload lane. The download lane takes the next free buffer at once, so reading
    never waits for uploads while buffers remain."""

    def __init__(
        self,
        upload: PartUpload,
        spec: ObjectSpec,
        read: RangeReader,
        buffers: PartBuffers,
        uploads: ThreadPoolExecutor,
        cancel: TransferCancellation,
        hooks: TransferHooks,
        resume: ResumePoint | None,
        digests: Digests,
        composite: bool,
    ) -> None:
        self.upload = upload
        self.spec = spec
        self.read = read
        self.buffers = buffers
        self.uploads = uploads
        self.cancel = cancel
        self.hooks = hooks
        self.prefix = CompletedPrefix(
            upload.upload_id, spec.algorithm, resume, hooks.on_resume_point,
            keep_part_crcs=composite,
        )  # fmt: skip
        self.first = (resume.parts_done if resume else 0) + 1
        self.digest = OrderedDigest(
            self._hashed,
            resume.digest_state if resume else None,
            first=self.first,
            digests=digests,
        )
        # The first part this transfer uploads is answered before any other is sent: a
        # store that does not keep the checksum it was sent is stopped there.
        self.first_answered = threading.Event()

    def _hashed(self, number: int, digest_state: bytes) -> None:
        self.buffers.done_with(number)
        self.prefix.hashed(number, digest_state)

    def fetch_part(self, part: PartRange, buffer: bytearray) -> Future[UploadedPart]:
        self.buffers.lend(part.number, buffer)
        try:
            view = memoryview(buffer)[: part.length]
            self.read(part.start, view, self.cancel)
            crc = self.spec.algorithm.compute(view)
        except BaseException:
            self.cancel.set()
            self.buffers.done_with(part.number, HOLDERS_PER_PART)  # it reaches neither
            raise
        self.digest.add(part.number, view)
        if part.number != self.first:
            self._await_first_answer(part)
        return self.uploads.submit(self.send_part, part, view, crc)

    def _await_first_answer(self, part: PartRange) -> None:
        """Until the first part is answered; a failed one has set the cancel first."""
        while not self.first_answered.wait(0.05) and not self.cancel.is_set():
            pass
        if self.cancel.is_set():
            self.buffers.done_with(part.number)  # the upload lane's hold: never sent
            raise TransferCancelledError("the transfer was cancelled")

    def send_part(self, part: PartRange, view: memoryview, crc: int) -> UploadedPart:
        try:
            uploaded = self.upload.upload_part(part.number, view, crc)
        except BaseException:
            self.cancel.set()
            raise
        finally:
            self.buffers.done_with(part.number)
            if part.number == self.first:
                self.first_answered.set()  # answered (or failed: the cancel says so)
        self.prefix.uploaded(uploaded)
        self.hooks.on_progress(part.length)
        return uploaded


def transfer_multipart(
    store: ObjectStore,
    spec: ObjectSpec,
    plan: PartPlan,
    read: RangeReader,
    lanes: Lanes,
    hooks: TransferHooks,
    *,
    resume: ResumePoint | None = None,
    digests: Digests,
) -> TransferResult | Suspended:
    """Upload every part (after those a resumed transfer already has), complete with the
    full-object CRC, verify; abort on any failure. ``digests`` makes the archive's SHA-256
    (resumed from ``resume``'s saved state). When ``hooks.should_suspend()`` says so,
    take no new parts, let those under way finish, and leave the upload open: the
    result is Suspended."""
    cancel = TransferCancellation(hooks.cancel)
    pool = BufferPool(lanes.buffers, plan.part_size)
    opened = (
        store.resume_multipart(spec, resume.upload_id) if resume else store.start_multipart(spec)
    )
    with opened as upload:
        composite = store.mode == "composite"
        earlier = _earlier_parts(upload, plan, resume, spec.algorithm, composite) if resume else []
        downloads = ThreadPoolExecutor(lanes.downloads, thread_name_prefix="ft-get")
        uploads = ThreadPoolExecutor(lanes.uploads, thread_name_prefix="ft-put")
        dispatch = _PartDispatch(
            upload, spec, read, PartBuffers(pool), uploads, cancel, hooks, resume, digests,
            composite=composite,
        )  # fmt: skip
        fetches: list[Future[Future[UploadedPart]]] = []
        suspended = False
        try:
            for part in plan.ranges():
                if part.number <= len(earlier):
                    continue
                if hooks.should_suspend():
                    suspended = True
                    break
                buffer = pool.acquire(cancel)
                if hooks.should_suspend():  # waited past it
                    pool.release(buffer)
                    suspended = True
                    break
                fetches.append(downloads.submit(dispatch.fetch_part, part, buffer))
        except TransferCancelledError:
            pass  # a part failed (its error is raised below) or the caller cancelled
        except BaseException:
            cancel.set()
            raise
        finally:
            downloads.shutdown(wait=True, cancel_futures=cancel.is_set())
            uploads.shutdown(wait=True, cancel_futures=cancel.is_set())
        sends = [f.result() for f in fetches if not f.cancelled() and f.exception() is None]
        raise_first_failure([*fetches, *sends], cancel)
        if suspended:
            return _suspend(upload, plan, len(earlier), dispatch.prefix.parts_done)
        parts = [*earlier, *(send.result() for send in sends)]
        expected = plan.size - sum(p.length for p in earlier)
        if dispatch.digest.hashed_bytes != expected:
            raise IntegrityError(
                f"hashed {dispatch.digest.hashed_bytes} bytes of the {expected} left to transfer"
            )
        prefix = (resume.prefix_crc, sum(p.length for p in earlier)) if resume else (0, 0)
        crc = spec.algorithm.combine([prefix, *((p.crc, p.length) for p in parts[len(earlier) :])])
        stored = upload.complete(parts, plan.size, crc, dispatch.digest.hexdigest())
    return TransferResult(
        stored, plan.size, dispatch.digest.hexdigest(), crc, len(parts), plan.part_size
    )


def _suspend(upload: PartUpload, plan: PartPlan, parts_before: int, parts_done: int) -> Suspended:
    if parts_done == parts_before:
        # Not one part finished in this invocation: continuing would loop forever.
        # Failing instead lets the queue's retries and dead-letter queue bound it.
        raise NoProgressError(
            f"no part finished before the deadline (part {parts_before + 1} of "
            f"{plan.count} still open); is the margin larger than the time left?"
        )
    upload.suspend()
    return Suspended(parts_done, plan.count)


def _earlier_parts(
    upload: PartUpload,
    plan: PartPlan,
    resume: ResumePoint,
    algorithm: CrcAlgorithm,
    composite: bool,
) -> list[UploadedPart]:
    """Parts 1..parts_done as S3 holds them; any missing or of the wrong size, and the
    saved progress cannot be trusted: the upload starts again. A part whose CRC ListParts
    does not return takes the one saved with the progress; a composite Complete cannot
    go without it (full-object can: the object's CRC covers the part)."""
    listed = {part.number: part for part in upload.list_parts()}
    width = algorithm.width_bytes
    parts = []
    for planned in plan.ranges():
        if planned.number > resume.parts_done:
            break
        part = listed.get(planned.number)
        if part is None or part.length != planned.length:
            raise UploadGoneError(f"part {planned.number} of the resumed upload is missing")
        saved = resume.part_crcs[(planned.number - 1) * width : planned.number * width]
        if part.crc < 0 and len(saved) == width:
            part = replace(part, crc=int.from_bytes(saved, "big"))
        if part.crc < 0 and composite:
            raise UploadGoneError(f"the CRC of part {planned.number} of the resumed upload "
                                  "is neither listed by the store nor saved")  # fmt: skip
        parts.append(part)
    return parts
