"""Each file of the tar stream as its own verified S3 object (``FileWriter``), through
the archive's own transfer engine (service/transfer.py): no second multipart writer.
The engine asks a ``RangeReader`` for each part by its offset. An archive answers with a
ranged GET in any order; a file inside a tar stream can only be read front to back. Run
with a single download lane, the engine asks for the parts in order, so the stream
answers each by reading on (``StreamParts``): the one multipart writer serves both.

A file of at most one part goes up in one PutObject, a larger one as a multipart upload
whose parts are read from the stream in order by one lane and uploaded by several, in
reused buffers; the parts' CRCs are combined into the full-object checksum that S3
checks on completion, and the SHA-256 is computed in order as the parts pass. Every
object carries its SHA-256: in its metadata when it went up in one request, and, as an
archive does, in its ``sha256`` tag, which is written only once S3 holds the verified
object. A failure aborts the open upload (the engine's PartUpload does).

At a deadline (``should_suspend``: the run's ``Deadline``, below) a multipart file stops
taking parts, its upload is left open and ``FileSuspended`` says where it stopped; the
next run resumes it at its next part, reading over the parts S3 holds, with the SHA-256
state and CRC saved then. The same record of the upload goes to ``on_part`` after each
part, for the progress that a run killed without warning leaves
(service/unpack/folder_index.py).
"""

import base64
import logging
import mimetypes
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.parts import Lanes, PartPlan, plan_parts
from ft_archiver.domain.unpack.budget import UnpackBudget
from ft_archiver.domain.unpack.index import OpenUpload
from ft_archiver.errors import (
    ContinuationLimitError,
    CorruptArchiveError,
    IntegrityError,
    TransferCancelledError,
    UploadGoneError,
)
from ft_archiver.service.control import Suspended, TransferControl
from ft_archiver.service.ports import Digests, ObjectSpec, ObjectStore, StoredObject
from ft_archiver.service.resume import ResumePoint
from ft_archiver.service.transfer import TransferResult, transfer_multipart, transfer_single

# Read from the stream at most this much at a time, so that a cancel is seen between.
READ_STEP = 1024 * 1024


class ByteStream(Protocol):
    """What tarfile's ``extractfile`` gives for a member in a stream."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


# How many of a file's first bytes to keep, given those kept so far: a .safetensors
# header says its own length in its first 8 bytes.
HeadWanted = Callable[[bytearray], int]


def no_head(head: bytearray) -> int:
    return 0


class StreamParts:
    """Parts of ``size`` bytes of ``stream``, asked for in order. A part that starts
    past the position (a resumed upload skips the parts S3 holds) is reached by reading
    over the bytes before it. The file's first bytes are kept (``head``), as many as
    ``head_wanted`` asks for: what a check of the file reads (a .safetensors header, a
    config.json) without a second pass."""

    def __init__(self, stream: ByteStream, size: int, head_wanted: HeadWanted = no_head) -> None:
        self._stream = stream
        self.size = size
        self._head_wanted = head_wanted
        self.head = bytearray()
        self.position = 0

    def __call__(self, start: int, into: memoryview, cancel: Cancellation) -> None:
        if start < self.position:
            raise IntegrityError(
                f"part at byte {start:,} asked after byte {self.position:,}: a stream "
                "cannot go back"
            )
        if start + len(into) > self.size:
            raise IntegrityError(f"part at byte {start:,} ends past the file's {self.size:,}")
        if start > self.position:
            self.skip(start - self.position, cancel)
        self._fill(into, cancel)

    def skip(self, count: int, cancel: Cancellation) -> None:
        """Read over ``count`` bytes (kept only as far as the head wants them)."""
        scratch = bytearray(min(READ_STEP, count))
        while count:
            view = memoryview(scratch)[: min(len(scratch), count)]
            self._fill(view, cancel)
            count -= len(view)

    def skip_rest(self, cancel: Cancellation) -> None:
        self.skip(self.size - self.position, cancel)

    def _fill(self, into: memoryview, cancel: Cancellation) -> None:
        filled = 0
        while filled < len(into):
            if cancel.is_set():
                raise TransferCancelledError("the unpack was stopped")
            step = into[filled : filled + READ_STEP]
            try:
                count = self._stream.readinto(step)
            except tarfile.TarError as exc:  # tarfile's "unexpected end of data"
                raise CorruptArchiveError(f"the archive is cut short ({exc})") from None
            if not count:  # the tar said more: the archive is cut short
                raise CorruptArchiveError(
                    f"the archive's file ended after {self.position + filled:,} of its "
                    f"{self.size:,} bytes"
                )
            self._keep_head(step[:count], self.position + filled)
            filled += count
        self.position += filled

    def _keep_head(self, data: memoryview, at: int) -> None:
        taken = 0
        while at + taken == len(self.head) and taken < len(data):
            wanted = min(self._head_wanted(self.head), self.size) - len(self.head)
            if wanted <= 0:
                return
            piece = data[taken : taken + wanted]
            self.head += piece
            taken += len(piece)


log = logging.getLogger(__name__)
OCTETS = "application/octet-stream"


class FileSuspended(Exception):  # noqa: N818 - not an error: a deadline, the work saved
    """The deadline came in the middle of a file: its upload is left open (``upload``)."""

    def __init__(self, upload: OpenUpload) -> None:
        super().__init__(f"stopped at part {upload.parts_done} of {upload.key}")
        self.upload = upload


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
    """The engine's hooks for one file: progress to the caller, a suspension when the
    caller's deadline says so, the last resume point kept for it."""

    def __init__(
        self,
        cancel: Cancellation,
        on_stored: Callable[[int], None],
        should_suspend: Callable[[], bool],
        on_open_upload: Callable[[ResumePoint], None],
    ) -> None:
        self._cancel = cancel
        self._on_stored = on_stored
        self._should_suspend = should_suspend
        self._on_open_upload = on_open_upload
        self.resume_point: ResumePoint | None = None

    @property
    def cancel(self) -> Cancellation:
        return self._cancel

    def on_progress(self, nbytes: int) -> None:
        self._on_stored(nbytes)

    def on_resume_point(self, point: ResumePoint) -> None:
        self.resume_point = point
        self._on_open_upload(point)

    def should_suspend(self) -> bool:
        return self._should_suspend()


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
        should_suspend: Callable[[], bool] = lambda: False,
        on_part: Callable[[OpenUpload], None] = lambda upload: None,
    ) -> None:
        """``should_suspend``: True once the run must stop taking parts (its deadline);
        asked only while a multipart file is under way. ``on_part``: a multipart file's
        upload as it stands after each part, for the progress record."""
        self._store = store
        self._digests = digests
        self._options = options
        self._cancel = cancel
        self._on_stored = on_stored
        self._should_suspend = should_suspend
        self._on_part = on_part

    def write(
        self,
        key: str,
        path: str,
        size: int,
        stream: ByteStream,
        head_wanted: HeadWanted = no_head,
        resume: OpenUpload | None = None,
    ) -> WrittenFile:
        """The file's ``size`` bytes from ``stream``, stored at ``key`` and verified;
        ``resume``: its upload as an earlier run left it at its deadline. Raises
        FileSuspended when this run's deadline comes first."""
        options = self._options
        spec = file_spec(options.bucket, key, path, options.algorithm)
        parts = StreamParts(stream, size, head_wanted)
        plan = plan_parts(size, options.part_size, options.part_size_floor)
        result: TransferResult
        if plan.single_request:
            result = transfer_single(self._store, spec, size, parts, self._cancel)
            self._on_stored(size)
        else:
            result = self._multipart(spec, path, plan, parts, resume)
        self._store.tag(result.stored, {"sha256": result.sha256})
        return WrittenFile(
            result.stored, size, result.sha256, result.crc, result.parts, bytes(parts.head)
        )

    def _multipart(
        self,
        spec: ObjectSpec,
        path: str,
        plan: PartPlan,
        parts: StreamParts,
        resume: OpenUpload | None,
    ) -> TransferResult:
        def on_open_upload(point: ResumePoint) -> None:
            self._on_part(_open_upload(spec.key, path, plan, point))

        hooks = _FileHooks(self._cancel, self._on_stored, self._should_suspend, on_open_upload)
        lanes = self._options.budget.lanes(plan.part_size, self._options.uploads)
        point = self._resume_point(spec, plan, resume)
        try:
            outcome = self._transfer(spec, plan, parts, lanes, hooks, point)
        except UploadGoneError:
            if point is None or parts.position:
                raise
            # the upload the last run left is gone (the bucket's lifecycle rule, an
            # abort): nothing of the file was read yet, so it starts over
            log.warning("the open upload of %s is gone; uploading it from the start", spec.key)
            outcome = self._transfer(spec, plan, parts, lanes, hooks, None)
        if isinstance(outcome, TransferResult):
            return outcome
        saved = hooks.resume_point
        if saved is None:  # a suspension follows a finished part, which reports one
            raise RuntimeError(f"the upload of {spec.key} stopped without a resume point")
        raise FileSuspended(_open_upload(spec.key, path, plan, saved))

    def _transfer(
        self,
        spec: ObjectSpec,
        plan: PartPlan,
        parts: StreamParts,
        lanes: Lanes,
        hooks: _FileHooks,
        point: ResumePoint | None,
    ) -> TransferResult | Suspended:
        return transfer_multipart(
            self._store, spec, plan, parts, lanes, hooks, resume=point, digests=self._digests
        )

    def _resume_point(
        self, spec: ObjectSpec, plan: PartPlan, resume: OpenUpload | None
    ) -> ResumePoint | None:
        """The engine's resume point for an upload left open, if its parts are the
        parts this run would make; an upload cut otherwise is aborted."""
        if resume is None:
            return None
        if (resume.key, resume.size, resume.part_size) != (spec.key, plan.size, plan.part_size):
            self._store.abort_multipart(spec, resume.upload_id)
            return None
        return ResumePoint(
            resume.upload_id,
            resume.parts_done,
            base64.b64decode(resume.digest_state),
            resume.prefix_crc,
        )


def _open_upload(key: str, path: str, plan: PartPlan, point: ResumePoint) -> OpenUpload:
    """The file's upload as the index records it: where the next run resumes it."""
    return OpenUpload(
        path=path,
        key=key,
        size=plan.size,
        part_size=plan.part_size,
        upload_id=point.upload_id,
        parts_done=point.parts_done,
        digest_state=base64.b64encode(point.digest_state).decode("ascii"),
        prefix_crc=point.prefix_crc,
    )


class Deadline:
    """Whether the run should stop taking parts and files: with a deadline (the control's
    ``remaining_s``) that is within the margin, where the SHA-256 can be resumed. Past
    the continuation limit it raises instead (ContinuationLimitError). The writer asks it
    between parts, the pass between files (``should_suspend``)."""

    def __init__(
        self, control: TransferControl, resumable: bool, margin_s: float, limit: int | None
    ) -> None:
        self._control = control
        self._resumable = resumable
        self._margin_s = margin_s
        self._limit = limit

    def reached(self) -> bool:
        remaining_s = self._control.remaining_s
        if remaining_s is None or not self._resumable:
            return False
        if remaining_s() >= self._margin_s:
            return False
        _check_continuations(self._limit, self._control.continuation)
        return True


def _check_continuations(limit: int | None, continuation: int) -> None:
    """At a deadline: raise when the unpack has used up its continuations (the file under
    way is aborted, the files verified stay in the incomplete index)."""
    if limit is not None and continuation >= limit:
        raise ContinuationLimitError(
            f"the unpack needs more than {limit} continuations (the stack's "
            f"MaxContinuations, FT_ARCHIVER_MAX_CONTINUATIONS): invocation "
            f"{continuation + 1} reached its deadline; the files verified so far stay "
            "listed in the incomplete index, and a new run (ft-archiver unpack KEY) "
            "finishes the folder without uploading them again"
        )
