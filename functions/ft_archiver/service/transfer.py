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
from types import TracebackType
from typing import Any, Protocol

from ft_archiver.adapters.s3 import ObjectSpec, StoredObject, UploadedPart
from ft_archiver.domain.checksums import Buffer
from ft_archiver.domain.parts import Lanes, PartPlan, PartRange
from ft_archiver.errors import IntegrityError, TransferCancelledError

ProgressCallback = Callable[[int], None]


class Cancellation(Protocol):
    def is_set(self) -> bool: ...


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


class PartUpload(Protocol):
    """An open multipart upload; leaving its ``with`` block without completing aborts it."""

    def __enter__(self) -> "PartUpload": ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def upload_part(self, number: int, body: Buffer, crc: int) -> UploadedPart: ...

    def complete(self, parts: list[UploadedPart], size: int, crc: int) -> StoredObject: ...


class ObjectStore(Protocol):
    def put_object(self, spec: ObjectSpec, body: Buffer, crc: int) -> StoredObject: ...

    def start_multipart(self, spec: ObjectSpec) -> PartUpload: ...

    def tag(self, stored: StoredObject, tags: dict[str, str]) -> None: ...


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
    """SHA-256 fed with parts that arrive in any order, hashing them in part order."""

    def __init__(self, on_hashed: Callable[[int], None]) -> None:
        self._sha = hashlib.sha256()
        self._next = 1
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
            finally:
                with self._lock:
                    self._next += 1
                    self._draining = False
                    self.hashed_bytes += len(data)
            self._on_hashed(number)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


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
    buffer at once, so reading never waits for uploads while buffers remain.
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
    ) -> None:
        self.upload = upload
        self.spec = spec
        self.read = read
        self.pool = pool
        self.uploads = uploads
        self.stop = stop
        self.on_progress = on_progress
        self.digest = OrderedDigest(self._done_with)
        self._buffers: dict[int, bytearray] = {}
        self._holds: dict[int, int] = {}
        self._lock = threading.Lock()

    def _done_with(self, number: int) -> None:
        """Called twice per part (uploaded, hashed); the second call frees its buffer."""
        with self._lock:
            self._holds[number] -= 1
            if self._holds[number]:
                return
            del self._holds[number]
            buffer = self._buffers.pop(number)
        self.pool.release(buffer)

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
) -> TransferResult:
    """Upload every part, complete with the full-object CRC, verify; abort on any failure."""
    pool = BufferPool(lanes.buffers, plan.part_size)
    halt = Halt(stop)
    with store.start_multipart(spec) as upload:
        downloads = ThreadPoolExecutor(lanes.downloads, thread_name_prefix="ft-get")
        uploads = ThreadPoolExecutor(lanes.uploads, thread_name_prefix="ft-put")
        state = _PartTransfer(upload, spec, read, pool, uploads, halt, on_progress)
        fetches: list[Future[Future[UploadedPart]]] = []
        try:
            for part in plan.ranges():
                buffer = pool.acquire(halt)
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
        parts = [send.result() for send in sends]
        if state.digest.hashed_bytes != plan.size:
            raise IntegrityError(
                f"hashed {state.digest.hashed_bytes} bytes of a {plan.size}-byte archive"
            )
        crc = spec.algorithm.combine((p.crc, p.length) for p in parts)
        stored = upload.complete(parts, plan.size, crc)
    return TransferResult(
        stored, plan.size, state.digest.hexdigest(), crc, len(parts), plan.part_size
    )


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
