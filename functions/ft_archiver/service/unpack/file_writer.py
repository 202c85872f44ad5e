"""Each file of the tar stream as its own verified S3 object, through the archive's own
transfer engine (service/transfer.py): no second multipart writer.

A file of at most one part goes up in one PutObject, a larger one as a multipart upload
whose parts are read from the stream in order by one lane and uploaded by several, in
reused buffers; the parts' CRCs are combined into the full-object checksum that S3
checks on completion, and the SHA-256 is computed in order as the parts pass. Every
object carries its SHA-256: in its metadata when it went up in one request, and, as an
archive does, in its ``sha256`` tag, which is written only once S3 holds the verified
object. A failure aborts the open upload (the engine's PartUpload does).
"""

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass

from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.parts import plan_parts
from ft_archiver.domain.unpack.budget import UnpackBudget
from ft_archiver.service.ports import Digests, ObjectSpec, ObjectStore, StoredObject
from ft_archiver.service.resume import ResumePoint
from ft_archiver.service.transfer import TransferResult, transfer_multipart, transfer_single
from ft_archiver.service.unpack.stream_parts import ByteStream, HeadWanted, StreamParts, no_head

OCTETS = "application/octet-stream"


@dataclass(frozen=True)
class WrittenFile:
    stored: StoredObject
    size: int
    sha256: str
    crc: int
    parts: int
    head: bytes  # the file's first bytes, as many as were asked for


@dataclass(frozen=True)
class WriterOptions:
    bucket: str
    algorithm: CrcAlgorithm
    part_size: int
    part_size_floor: int
    uploads: int  # UploadParts at once
    budget: UnpackBudget


class _FileHooks:
    """The engine's hooks for one file: progress to the caller, never a suspension (a
    file is finished or aborted within the run), the last resume point kept."""

    def __init__(self, cancel: Cancellation, on_stored: Callable[[int], None]) -> None:
        self._cancel = cancel
        self._on_stored = on_stored
        self.resume_point: ResumePoint | None = None

    @property
    def cancel(self) -> Cancellation:
        return self._cancel

    def on_progress(self, nbytes: int) -> None:
        self._on_stored(nbytes)

    def on_resume_point(self, point: ResumePoint) -> None:
        self.resume_point = point

    def should_suspend(self) -> bool:
        return False


def content_type(path: str) -> str:
    guessed, encoding = mimetypes.guess_type(path, strict=False)
    return guessed if guessed and not encoding else OCTETS


def file_spec(bucket: str, key: str, path: str, algorithm: CrcAlgorithm) -> ObjectSpec:
    """A file's object: its type by its name, no metadata but what the write adds."""
    return ObjectSpec(bucket, key, content_type(path), {}, algorithm)


class FileWriter:
    """Writes one file after the other, as the tar stream delivers them."""

    def __init__(
        self,
        store: ObjectStore,
        digests: Digests,
        options: WriterOptions,
        cancel: Cancellation,
        on_stored: Callable[[int], None] = lambda nbytes: None,
    ) -> None:
        self._store = store
        self._digests = digests
        self._options = options
        self._cancel = cancel
        self._on_stored = on_stored

    def write(
        self,
        key: str,
        path: str,
        size: int,
        stream: ByteStream,
        head_wanted: HeadWanted = no_head,
    ) -> WrittenFile:
        """The file's ``size`` bytes from ``stream``, stored at ``key`` and verified."""
        options = self._options
        spec = file_spec(options.bucket, key, path, options.algorithm)
        parts = StreamParts(stream, size, head_wanted)
        plan = plan_parts(size, options.part_size, options.part_size_floor)
        result: TransferResult
        if plan.single_request:
            result = transfer_single(self._store, spec, size, parts, self._cancel)
            self._on_stored(size)
        else:
            hooks = _FileHooks(self._cancel, self._on_stored)
            lanes = options.budget.lanes(plan.part_size, options.uploads)
            outcome = transfer_multipart(
                self._store, spec, plan, parts, lanes, hooks, digests=self._digests
            )
            if not isinstance(outcome, TransferResult):  # hooks never suspend
                raise RuntimeError(f"the upload of {key} was suspended: {outcome}")
            result = outcome
        self._store.tag(result.stored, {"sha256": result.sha256})
        return WrittenFile(
            result.stored, size, result.sha256, result.crc, result.parts, bytes(parts.head)
        )
