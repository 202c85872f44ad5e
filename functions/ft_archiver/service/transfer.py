"""Parallel ranged GETs into parallel UploadPart calls, memory bounded by the buffers alive.

Each part is read into one of ``lanes.buffers`` reused buffers, its CRC computed, and
uploaded; the SHA-256 of the whole archive is fed in part order by whichever thread
finishes the next part, so hashing overlaps the transfer. A buffer returns to the pool
only once its part is both uploaded and hashed, so at most ``lanes.buffers`` exist.
"""

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.parts import Lanes, PartPlan, PartRange
from ft_archiver.errors import (
    IntegrityError,
    NoProgressError,
    TransferCancelledError,
    TransferSuspendedError,
    UploadGoneError,
)
from ft_archiver.service.ports import (
    Digests,
    ObjectSpec,
    ObjectStore,
    PartUpload,
    StoredObject,
    UploadedPart,
)

ProgressCallback = Callable[[int], None]


class RangeReader(Protocol):
    def __call__(self, start: int, into: memoryview, cancelled: Cancellation) -> None:
        """Fill ``into`` with the archive's bytes from ``start`` on, or raise."""


class Halt:
    """Stops one transfer: set by its first failing part, or by the caller's stop event.
    Its own flag lives and dies with the transfer, so a transfer started again after a
    failure (a vanished upload) is not born stopped."""

    def __init__(self, caller: threading.Event) -> None:
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


class BufferPool:
    """At most ``capacity`` buffers of ``size`` bytes; allocated on first use, then reused."""

    def __init__(self, capacity: int, size: int) -> None:
        self.capacity = capacity
        self.size = size
        self.allocated = 0
        self._free: list[bytearray] = []
        self._slots = threading.Semaphore(capacity)
        self._lock = threading.Lock()

    def acquire(self, stop: Cancellation) -> bytearray:
        while not self._slots.acquire(timeout=0.05):
            if stop.is_set():
                raise TransferCancelledError("transfer stopped")
        with self._lock:
            if self._free:
                return self._free.pop()
            self.allocated += 1
        return bytearray(self.size)

    def release(self, buffer: bytearray) -> None:
        with self._lock:
            self._free.append(buffer)
        self._slots.release()


class OrderedDigest:
    """SHA-256 fed with parts that arrive in any order, hashing them in part order; after
    each part it reports the digest's state, so a transfer can be resumed from there."""

    def __init__(
        self,
        on_hashed: Callable[[int, bytes], None],
        state: bytes | None = None,
        first: int = 1,
        *,
        digests: Digests,
    ) -> None:
        self._sha = digests.new_sha256(state)
        self._next = first
        self._pending: dict[int, memoryview] = {}
        self._draining = False
        self._lock = threading.Lock()
        self._on_hashed = on_hashed
        self.hashed_bytes = 0

    def add(self, number: int, data: memoryview) -> None:
        with self._lock:
            self._pending[number] = data
        while True:
            with self._lock:
                if self._draining or self._next not in self._pending:
                    return
                self._draining = True
                number = self._next
                data = self._pending.pop(number)
            try:
                self._sha.update(data)  # releases the GIL: other parts keep moving
                state = self._sha.state()
            finally:
                with self._lock:
                    self._next += 1
                    self._draining = False
                    self.hashed_bytes += len(data)
            self._on_hashed(number, state)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


@dataclass(frozen=True)
class ResumePoint:
    """Where an earlier invocation stopped: its upload, how many parts (1..k) it had
    finished, and the SHA-256 state after part k."""

    upload_id: str
    done: int
    digest_state: bytes
    prefix_crc: int  # the full-object CRC of parts 1..done


# upload id, parts done (1..k), digest state after part k, CRC of parts 1..k
Checkpoint = Callable[[str, int, bytes, int], None]


def transfer_single(
    store: ObjectStore, spec: ObjectSpec, size: int, read: RangeReader, stop: threading.Event
) -> TransferResult:
    """An archive of at most one part: one read, one PutObject (a zero-byte one for 0 bytes)."""
    buffer = bytearray(size)
    if size:
        read(0, memoryview(buffer), stop)
    crc = spec.algorithm.compute(buffer)
    sha256 = hashlib.sha256(buffer).hexdigest()
    with_digest = replace(spec, metadata={**spec.metadata, "sha256": sha256})
    stored = store.put_object(with_digest, buffer, crc)
    return TransferResult(stored, size, sha256, crc, 1, size)


class _PartTransfer:
    """The shared state of one multipart transfer: a download stage and an upload stage.

    A part is read into a free buffer by a download lane, checksummed and fed to the
    digest there, then handed to an upload lane; the download lane takes the next free
    buffer at once, so reading never waits for uploads while buffers remain. Whenever
    the parts both hashed and uploaded form a longer unbroken run from part 1, the
    checkpoint callback hears of it (with the digest's state there).
    """

    def __init__(
        self,
        upload: PartUpload,
        spec: ObjectSpec,
        read: RangeReader,
        pool: BufferPool,
        uploads: ThreadPoolExecutor,
        stop: Halt,
        on_progress: ProgressCallback | None,
        resume: ResumePoint | None,
        on_checkpoint: Checkpoint | None,
        digests: Digests,
    ) -> None:
        self.upload = upload
        self.spec = spec
        self.read = read
        self.pool = pool
        self.uploads = uploads
        self.stop = stop
        self.on_progress = on_progress
        self.on_checkpoint = on_checkpoint
        done = resume.done if resume else 0
        self.digest = OrderedDigest(
            self._hashed,
            resume.digest_state if resume else None,
            first=done + 1,
            digests=digests,
        )
        self.done_through = done
        self.prefix_crc = resume.prefix_crc if resume else 0
        self._checkpointed = done
        self._uploaded: dict[int, UploadedPart] = {}
        self._states: dict[int, bytes] = {}
        self._buffers: dict[int, bytearray] = {}
        self._holds: dict[int, int] = {}
        self._lock = threading.Lock()
        self._checkpoint_lock = threading.Lock()

    def _done_with(self, number: int) -> None:
        """Called twice per part (uploaded, hashed); the second call frees its buffer."""
        with self._lock:
            self._holds[number] -= 1
            if self._holds[number]:
                return
            del self._holds[number]
            buffer = self._buffers.pop(number)
        self.pool.release(buffer)

    def _hashed(self, number: int, state: bytes) -> None:
        with self._lock:
            self._states[number] = state
        self._done_with(number)
        self._advance()

    def _advance(self) -> None:
        algorithm = self.spec.algorithm
        with self._lock:
            through = self.done_through
            while through + 1 in self._uploaded and through + 1 in self._states:
                through += 1
                part = self._uploaded[through]
                self.prefix_crc = algorithm.extend(self.prefix_crc, part.crc, part.length)
            if through == self.done_through:
                return
            self.done_through = through
            state, crc = self._states[through], self.prefix_crc
            for number in [n for n in self._states if n < through]:
                del self._states[number]
        self.checkpoint(through, state, crc)

    def checkpoint(self, through: int, state: bytes, crc: int) -> None:
        if self.on_checkpoint is None:
            return
        with self._checkpoint_lock:  # never let an older checkpoint overwrite a newer one
            if through > self._checkpointed:
                self.on_checkpoint(self.upload.upload_id, through, state, crc)
                self._checkpointed = through

    def fetch_part(self, part: PartRange, buffer: bytearray) -> Future[UploadedPart]:
        with self._lock:
            self._buffers[part.number] = buffer
            self._holds[part.number] = 2
        try:
            view = memoryview(buffer)[: part.length]
            self.read(part.start, view, self.stop)
            crc = self.spec.algorithm.compute(view)
        except BaseException:
            self.stop.set()
            self._done_with(part.number)  # it reaches neither the digest...
            self._done_with(part.number)  # ...nor an upload lane
            raise
        self.digest.add(part.number, view)
        return self.uploads.submit(self.send_part, part, view, crc)

    def send_part(self, part: PartRange, view: memoryview, crc: int) -> UploadedPart:
        try:
            uploaded = self.upload.upload_part(part.number, view, crc)
        except BaseException:
            self.stop.set()
            raise
        finally:
            self._done_with(part.number)
        with self._lock:
            self._uploaded[part.number] = uploaded
        self._advance()
        if self.on_progress:
            self.on_progress(part.length)
        return uploaded


def transfer_multipart(
    store: ObjectStore,
    spec: ObjectSpec,
    plan: PartPlan,
    read: RangeReader,
    lanes: Lanes,
    stop: threading.Event,
    on_progress: ProgressCallback | None = None,
    *,
    resume: ResumePoint | None = None,
    on_checkpoint: Checkpoint | None = None,
    should_suspend: Callable[[], bool] | None = None,
    digests: Digests,
) -> TransferResult:
    """Upload every part (after those a resumed transfer already has), complete with the
    full-object CRC, verify; abort on any failure. ``digests`` makes the archive's SHA-256
    (and resumes it from ``resume``'s saved state). When ``should_suspend`` says so, take
    no new parts, let those under way finish, checkpoint, and leave the upload open:
    TransferSuspendedError tells the caller to continue later. An exception raised by
    ``should_suspend`` (no continuation allowed) fails the transfer like a failed part:
    the parts under way are cancelled and the upload is aborted."""
    pool = BufferPool(lanes.buffers, plan.part_size)
    halt = Halt(stop)
    opened = (
        store.resume_multipart(spec, resume.upload_id) if resume else store.start_multipart(spec)
    )
    with opened as upload:
        done = _finished_parts(upload, plan, resume.done) if resume else []
        downloads = ThreadPoolExecutor(lanes.downloads, thread_name_prefix="ft-get")
        uploads = ThreadPoolExecutor(lanes.uploads, thread_name_prefix="ft-put")
        state = _PartTransfer(
            upload, spec, read, pool, uploads, halt, on_progress, resume, on_checkpoint, digests
        )
        fetches: list[Future[Future[UploadedPart]]] = []
        suspended = False
        try:
            for part in plan.ranges():
                if part.number <= len(done):
                    continue
                if should_suspend is not None and should_suspend():
                    suspended = True
                    break
                buffer = pool.acquire(halt)
                if should_suspend is not None and should_suspend():  # waited past it
                    pool.release(buffer)
                    suspended = True
                    break
                fetches.append(downloads.submit(state.fetch_part, part, buffer))
        except TransferCancelledError:
            pass  # a part failed (its error is raised below) or the caller set stop
        except BaseException:
            halt.set()
            raise
        finally:
            downloads.shutdown(wait=True, cancel_futures=halt.is_set())
            uploads.shutdown(wait=True, cancel_futures=halt.is_set())
        sends = [f.result() for f in fetches if not f.cancelled() and f.exception() is None]
        _raise_first_failure([*fetches, *sends], halt)
        if suspended:
            if state.done_through == len(done):
                # Not one part finished in this invocation: continuing would loop forever.
                # Failing instead lets the queue's retries and dead-letter queue bound it.
                raise NoProgressError(
                    f"no part finished before the deadline (part {len(done) + 1} of "
                    f"{plan.count} still open); is the margin larger than the time left?"
                )
            upload.suspend()
            raise TransferSuspendedError(
                f"stopped at part {state.done_through} of {plan.count} before the deadline"
            )
        parts = [*done, *(send.result() for send in sends)]
        expected = plan.size - sum(p.length for p in done)
        if state.digest.hashed_bytes != expected:
            raise IntegrityError(
                f"hashed {state.digest.hashed_bytes} bytes of the {expected} left to transfer"
            )
        prefix = (resume.prefix_crc, sum(p.length for p in done)) if resume else (0, 0)
        crc = spec.algorithm.combine([prefix, *((p.crc, p.length) for p in parts[len(done) :])])
        stored = upload.complete(parts, plan.size, crc)
    return TransferResult(
        stored, plan.size, state.digest.hexdigest(), crc, len(parts), plan.part_size
    )


def _finished_parts(upload: PartUpload, plan: PartPlan, count: int) -> list[UploadedPart]:
    """Parts 1..count as S3 holds them; any missing or of the wrong size, and the saved
    progress cannot be trusted: the upload starts again."""
    listed = {part.number: part for part in upload.list_parts()}
    parts = []
    for planned in plan.ranges():
        if planned.number > count:
            break
        part = listed.get(planned.number)
        if part is None or part.length != planned.length:
            raise UploadGoneError(f"part {planned.number} of the resumed upload is missing")
        parts.append(part)
    return parts


def _raise_first_failure(futures: Sequence[Future[Any]], stop: Halt) -> None:
    """The root cause, not the cancellations it caused in the other parts."""
    errors = [
        error
        for future in futures
        if not future.cancelled() and (error := future.exception()) is not None
    ]
    for error in errors:
        if not isinstance(error, TransferCancelledError):
            raise error
    if errors:
        raise errors[0]
    if stop.is_set():
        raise TransferCancelledError("transfer stopped before every part was uploaded")
