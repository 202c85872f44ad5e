"""unpack(archive) -> Unpacked: the verified archive in the bucket as a folder of plain
files that Bedrock, SageMaker and vLLM load as they are (issue 18).

It reads as its steps: the archive (verified: it carries its sha256 tag), where its
files go, what an earlier run left (the index), one pass over the stream, the index.
The pass never touches Together: the archive is read back from the bucket.

It ends in one of three ways, so that nothing is ever half-written:

- done: every file stored and verified, then the index, ``complete``, with the
  readiness verdicts, then the archive's manifest with a pointer to the index
  (``manifest_pointer``; none when the archive has no manifest);
- refused (an ``UnpackRefusedError``: a hostile or corrupt archive, a limit): every
  object this run wrote is removed (its version, so no trace is left) and no index
  is written; an index an earlier, failed run left stays as it was, incomplete;
- failed (S3, an interrupt, anything else): the open upload is aborted and the index is
  written ``incomplete`` with the files verified so far; a re-run reads them over
  without uploading them again, and finishes the folder.

A run with a deadline (a Lambda's time left) that comes first is none of these: it
stops taking parts, leaves the upload of the file it is in open, and writes the index
``incomplete`` with that upload in it (UnpackSuspended); the next run reads over the
verified files and resumes that upload at its next part. Past ``max_continuations``
deadlines it fails instead.

While it runs, the index is written ``incomplete`` now and then with the progress
(service/unpack/checkpoints.py): a run killed without warning leaves its verified files
and its open upload to the next, which resumes that upload at its next part too. A run
that fails aborts the upload of the file it is in (nothing is left open that no index
names), so a re-run uploads that one file again, and only that one.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ft_archiver import __version__
from ft_archiver.domain.catalog import step_of
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.unpack.budget import plan_unpack_budget
from ft_archiver.domain.unpack.compression import Compression, compression_of
from ft_archiver.domain.unpack.index import (
    IndexedFile,
    IndexStatus,
    OpenUpload,
    SourceArchive,
    UnpackIndex,
    build_index,
)
from ft_archiver.domain.unpack.layout import UnpackLayout, unpack_layout
from ft_archiver.domain.unpack.members import Placement, UnpackLimits
from ft_archiver.domain.unpack.readiness import Readiness
from ft_archiver.errors import (
    ArchiveMissingError,
    ContinuationLimitError,
    UnpackedArchiveMismatchError,
    UnpackRefusedError,
    UnverifiedArchiveError,
)
from ft_archiver.service.control import TransferControl
from ft_archiver.service.ports import ArchiveStore, Digests, StoredObject
from ft_archiver.service.unpack.checkpoints import ProgressCheckpoints
from ft_archiver.service.unpack.file_writer import FileWriter, WriterOptions, file_spec
from ft_archiver.service.unpack.index_store import read_index, write_index
from ft_archiver.service.unpack.manifest_pointer import ManifestPointer, point_manifest
from ft_archiver.service.unpack.ports import ArchiveObjects, StoredArchive, UnpackedObjects
from ft_archiver.service.unpack.tar_pass import PassSuspended, TarPass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UnpackRequest:
    bucket: str
    key: str  # the archive's
    prefix: str  # the folder goes under it (UNPACK_PREFIX)


@dataclass(frozen=True)
class UnpackOptions:
    part_size: int
    part_size_floor: int
    upload_concurrency: int  # UploadParts at once
    memory_budget: int
    algorithm: CrcAlgorithm
    limits: UnpackLimits = field(default_factory=UnpackLimits)
    read_attempts: int = 3  # per ranged GET of the archive
    # With a deadline (TransferControl.remaining_s), stop taking parts and files when less
    # than this is left: enough to finish the parts under way and write the index.
    deadline_margin_s: float = 60.0
    # How often the incomplete index records the progress (service/unpack/checkpoints).
    checkpoint_every_s: float = 30.0
    # Continuations past the deadline one unpack may take (TransferControl.continuation
    # counts them); at the next deadline beyond it fails. None: no limit.
    max_continuations: int | None = None


@dataclass(frozen=True)
class Unpacked:
    """The folder is complete: ``index`` (at ``index_key``) lists it. ``uploaded`` files
    were written by this run, ``kept`` had been verified by an earlier one;
    ``transferred`` is False when the folder was complete already and nothing was read;
    ``manifest`` says whether the archive's manifest points at the index."""

    index: UnpackIndex
    index_key: str
    uploaded: int
    kept: int
    transferred: bool
    duration_s: float
    manifest: ManifestPointer | None = None


@dataclass(frozen=True)
class UnpackSuspended:
    """The deadline came first: ``index`` (incomplete) lists the files verified so far
    and the upload left open in the file the run stopped in; the next run goes on."""

    index: UnpackIndex
    index_key: str
    uploaded: int
    kept: int

    def __str__(self) -> str:
        where = self.index.open_upload
        within = f", {where.key} at part {where.parts_done}" if where else ""
        return f"stopped at the deadline after {len(self.index.files)} files{within}"


UnpackOutcome = Unpacked | UnpackSuspended


def without_deadline(outcome: UnpackOutcome) -> Unpacked:
    """The outcome of an unpack run without ``remaining_s`` (the command line), which is
    always Unpacked."""
    if not isinstance(outcome, Unpacked):
        raise RuntimeError(f"an unpack run without a deadline ended suspended: {outcome}")
    return outcome


class Unpacker:
    def __init__(
        self,
        archives: ArchiveObjects,
        store: ArchiveStore,
        unpacked: UnpackedObjects,
        digests: Digests,
        options: UnpackOptions,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._archives = archives
        self._store = store
        self._unpacked = unpacked
        self._digests = digests
        self._options = options
        self._clock = clock

    def unpack(
        self, request: UnpackRequest, control: TransferControl | None = None
    ) -> UnpackOutcome:
        """Unpack one archive (module docstring: how it ends). ``control`` hears the
        archive's size and the bytes read of it, and can cancel; with its
        ``remaining_s`` (a Lambda's time left) the run stops when that drops below the
        margin, and the outcome is UnpackSuspended: a later run goes on."""
        control = control or TransferControl()
        started = time.monotonic()
        layout = unpack_layout(request.prefix, request.key)
        archive = self._verified_archive(request)
        source = _source(archive)
        earlier = read_index(self._unpacked, request.bucket, layout.index_key)
        trusted = self._trusted(earlier, source, layout)
        if earlier is not None and self._still_complete(request.bucket, earlier, trusted):
            pointer = self._point(earlier, layout.index_key)
            return Unpacked(earlier, layout.index_key, 0, len(earlier.files), False,
                            time.monotonic() - started, pointer)  # fmt: skip
        left_open = earlier.open_upload if earlier is not None else None
        open_upload = left_open if trusted is not None else None
        if left_open is not None and open_upload is None:  # of other bytes: of no use
            self._abort(request.bucket, left_open)
        untaken = open_upload

        def verified() -> list[IndexedFile]:
            seen = {entry.key for entry in tar_pass.files}
            return tar_pass.files + [e for e in (trusted or {}).values() if e.key not in seen]

        def record_progress(upload: OpenUpload | None) -> None:
            still_open = upload or (None if tar_pass.took_open_upload else untaken)
            index = self._index("incomplete", request, layout, source, verified(), None,
                                None, still_open)  # fmt: skip
            write_index(self._store, request.bucket, layout.index_key, index,
                        self._options.algorithm)  # fmt: skip

        checkpoints = ProgressCheckpoints(record_progress, self._options.checkpoint_every_s)
        tar_pass = self._pass(request, archive, layout, trusted or {}, open_upload, control,
                              checkpoints)  # fmt: skip

        try:
            digest = tar_pass.run()
            _check_digest(source, digest)
        except PassSuspended as stopped:
            still_open = stopped.upload or (None if tar_pass.took_open_upload else untaken)
            index = self._index("incomplete", request, layout, source, verified(), None,
                                None, still_open)  # fmt: skip
            write_index(self._store, request.bucket, layout.index_key, index,
                        self._options.algorithm)  # fmt: skip
            return UnpackSuspended(index, layout.index_key, len(tar_pass.written),
                                   tar_pass.kept)  # fmt: skip
        except (UnpackRefusedError, UnpackedArchiveMismatchError):
            self._abort_untaken(request.bucket, untaken, tar_pass)
            self._remove(tar_pass.written)
            raise
        except BaseException as exc:
            self._abort_untaken(request.bucket, untaken, tar_pass)
            self._write_incomplete(request, layout, source, verified(), exc)
            raise
        self._abort_untaken(request.bucket, untaken, tar_pass)
        index = self._index("complete", request, layout, source, tar_pass.files,
                            tar_pass.model.readiness())  # fmt: skip
        write_index(self._store, request.bucket, layout.index_key, index, self._options.algorithm)
        pointer = self._point(index, layout.index_key)
        return Unpacked(index, layout.index_key, len(tar_pass.written), tar_pass.kept, True,
                        time.monotonic() - started, pointer)  # fmt: skip

    def _point(self, index: UnpackIndex, index_key: str) -> ManifestPointer:
        """The archive's manifest points at the complete index (a failure to write it
        fails the run; a re-run finds the folder complete and writes it again)."""
        return point_manifest(self._unpacked, self._store, index, index_key,
                              self._options.algorithm, self._clock())  # fmt: skip

    def _pass(
        self,
        request: UnpackRequest,
        archive: StoredArchive,
        layout: UnpackLayout,
        trusted: dict[str, IndexedFile],
        open_upload: OpenUpload | None,
        control: TransferControl,
        checkpoints: ProgressCheckpoints,
    ) -> TarPass:
        """The pass over the archive, its writer, and what it asks of the earlier run."""
        options = self._options
        budget = plan_unpack_budget(options.memory_budget, options.part_size)
        control.on_size(archive.size)
        resumable = self._digests.resumable()

        def should_suspend() -> bool:
            remaining_s = control.remaining_s
            if remaining_s is None or not resumable:
                return False
            if remaining_s() >= options.deadline_margin_s:
                return False
            _check_continuations(options.max_continuations, control.continuation)
            return True

        writer = FileWriter(
            self._store,
            self._digests,
            WriterOptions(request.bucket, options.algorithm, options.part_size,
                          options.part_size_floor, options.upload_concurrency, budget),
            control.cancel,
            should_suspend=should_suspend,
            # a part's record holds the SHA-256 state: only where it can be resumed
            on_part=checkpoints.part_stored if resumable else lambda upload: None,
        )  # fmt: skip

        def read(start: int, into: memoryview) -> None:
            self._archives.read_into(archive.stored, start, into)

        def earlier_file(placement: Placement) -> IndexedFile | None:
            entry = trusted.get(placement.key)
            if entry is None or (entry.path, entry.size) != (placement.path, placement.size):
                return None
            return self._confirmed(request.bucket, entry)

        return TarPass(
            read, archive.size, _compression(request.key, archive), layout, options.limits,
            budget, writer, options.algorithm, earlier_file, control.cancel,
            control.on_progress, options.read_attempts,
            open_upload=open_upload, should_suspend=should_suspend,
            on_file_stored=checkpoints.file_stored,
        )  # fmt: skip

    def _abort_untaken(self, bucket: str, upload: OpenUpload | None, tar_pass: TarPass) -> None:
        """The upload an earlier run left open, if this run did not take it up."""
        if upload is not None and not tar_pass.took_open_upload:
            self._abort(bucket, upload)

    def _abort(self, bucket: str, upload: OpenUpload) -> None:
        spec = file_spec(bucket, upload.key, upload.path, self._options.algorithm)
        self._store.abort_multipart(spec, upload.upload_id)

    def _verified_archive(self, request: UnpackRequest) -> StoredArchive:
        where = f"s3://{request.bucket}/{request.key}"
        archive = self._archives.describe(request.bucket, request.key)
        if archive is None:
            raise ArchiveMissingError(f"no archive at {where}")
        if not (archive.tags.get("sha256") or archive.tags.get("sha256-tree")):
            raise UnverifiedArchiveError(
                f"{where} has no sha256 tag, which ft-archiver writes once it has verified "
                "an archive: only verified archives are unpacked (archive it with "
                "ft-archiver, or tag it sha256=<its SHA-256> if you vouch for its bytes)"
            )
        return archive

    def _trusted(
        self, earlier: UnpackIndex | None, source: SourceArchive, layout: UnpackLayout
    ) -> dict[str, IndexedFile] | None:
        """The files an earlier run verified, if it read these very bytes into this
        folder with this checksum; None otherwise."""
        if earlier is None or not earlier.archive.same_as(source):
            return None
        if earlier.folder != layout.folder:
            return None
        if earlier.checksum_algorithm != self._options.algorithm.name:
            return None
        return {entry.key: entry for entry in earlier.files}

    def _still_complete(
        self, bucket: str, earlier: UnpackIndex, trusted: dict[str, IndexedFile] | None
    ) -> bool:
        """A complete index of these bytes whose every file S3 still holds as listed."""
        if earlier.status != "complete" or trusted is None:
            return False
        return all(self._confirmed(bucket, entry) for entry in earlier.files)

    def _confirmed(self, bucket: str, entry: IndexedFile) -> IndexedFile | None:
        """The entry, if S3 holds its key with its size and checksum (HeadObject)."""
        algorithm = self._options.algorithm
        spec = file_spec(bucket, entry.key, entry.path, algorithm)
        found = self._unpacked.find_verified(spec, entry.size, algorithm.decode(entry.checksum))
        if found is None:
            return None
        return entry.model_copy(update={"version_id": found.version_id})

    def _remove(self, written: list[StoredObject]) -> None:
        for stored in written:
            self._store.delete(stored)

    def _write_incomplete(
        self,
        request: UnpackRequest,
        layout: UnpackLayout,
        source: SourceArchive,
        verified: list[IndexedFile],
        exc: BaseException,
    ) -> None:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        index = self._index("incomplete", request, layout, source, verified, None, error)
        try:
            write_index(
                self._store, request.bucket, layout.index_key, index, self._options.algorithm
            )
        except Exception as failed:  # the unpack's own error is the one to report
            log.error("could not write the incomplete index s3://%s/%s (%s)",
                      request.bucket, layout.index_key, failed)  # fmt: skip

    def _index(
        self,
        status: IndexStatus,
        request: UnpackRequest,
        layout: UnpackLayout,
        source: SourceArchive,
        files: list[IndexedFile],
        readiness: Readiness | None,
        error: str | None = None,
        open_upload: OpenUpload | None = None,
    ) -> UnpackIndex:
        return build_index(
            status=status, bucket=request.bucket, folder=layout.folder, archive=source,
            checksum_algorithm=self._options.algorithm.name, files=files,
            readiness=readiness, error=error, unpacked_by=f"ft-archiver {__version__}",
            updated_at=self._clock(), open_upload=open_upload,
        )  # fmt: skip


def _source(archive: StoredArchive) -> SourceArchive:
    stored = archive.stored
    return SourceArchive(
        bucket=stored.bucket,
        key=stored.key,
        version_id=stored.version_id,
        etag=stored.etag,
        size=archive.size,
        sha256=archive.tags.get("sha256"),
        sha256_tree=archive.tags.get("sha256-tree"),
        fine_tune_id=archive.metadata.get("fine-tune-id"),
        checkpoint_step=step_of(archive.metadata.get("checkpoint-step")),
        checkpoint_type=archive.metadata.get("checkpoint-type"),
    )


def _compression(key: str, archive: StoredArchive) -> Compression:
    found = compression_of(key, archive.content_type)
    if found is None:  # unpack_layout refused such a name already
        raise UnverifiedArchiveError(f"{key!r} is neither .tar.zst nor .tar.gz")
    return found


def _check_digest(source: SourceArchive, digest: str) -> None:
    """The bytes read are the archive that was verified: its tag's SHA-256 (a
    distributed archive tagged with a SHA-256 tree only is trusted by its version)."""
    if source.sha256 is not None and digest != source.sha256:
        raise UnpackedArchiveMismatchError(
            f"s3://{source.bucket}/{source.key} read back as SHA-256 {digest}, but its "
            f"sha256 tag says {source.sha256}; the files this run wrote were removed"
        )


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
