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
(service/unpack/folder_index.py): a run killed without warning leaves its verified files
and its open upload to the next, which resumes that upload at its next part too. A run
that fails aborts the upload of the file it is in (nothing is left open that no index
names), so a re-run uploads that one file again, and only that one.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from ft_archiver.domain.catalog import step_of
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.unpack.budget import plan_unpack_budget
from ft_archiver.domain.unpack.compression import Compression, compression_of
from ft_archiver.domain.unpack.index import OpenUpload, SourceArchive, UnpackIndex
from ft_archiver.domain.unpack.layout import UnpackLayout, unpack_layout
from ft_archiver.domain.unpack.members import UnpackLimits
from ft_archiver.domain.unpack.resume import EarlierRun, earlier_run
from ft_archiver.errors import (
    ArchiveMissingError,
    UnpackedArchiveMismatchError,
    UnpackRefusedError,
    UnverifiedArchiveError,
)
from ft_archiver.service.control import TransferControl
from ft_archiver.service.ports import ArchiveStore, Digests, StoredObject
from ft_archiver.service.unpack.file_writer import Deadline, FileWriter, WriterOptions, file_spec
from ft_archiver.service.unpack.folder_index import (
    EarlierFiles,
    ProgressCheckpoints,
    RunIndex,
    read_index,
)
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
        earlier = self._earlier_run(request.bucket, layout, source)
        earlier_files = EarlierFiles(self._unpacked, request.bucket, earlier,
                                     self._options.algorithm)  # fmt: skip
        if earlier.index is not None and earlier_files.still_complete():
            return Unpacked(earlier.index, layout.index_key, 0, len(earlier.index.files),
                            False, time.monotonic() - started,
                            self._point(earlier.index, layout.index_key))  # fmt: skip
        index = RunIndex(self._store, request.bucket, layout, source, self._options.algorithm,
                         earlier, self._clock)  # fmt: skip
        tar_pass = self._pass(request, archive, layout, earlier, earlier_files, control, index)
        try:
            _check_digest(source, tar_pass.run())
        except PassSuspended as stopped:
            return UnpackSuspended(index.suspended(stopped.upload), layout.index_key,
                                   len(tar_pass.written), tar_pass.kept)  # fmt: skip
        except (UnpackRefusedError, UnpackedArchiveMismatchError):
            self._abort_untaken(request.bucket, earlier, tar_pass)
            self._remove(tar_pass.written)
            raise
        except BaseException as exc:
            self._abort_untaken(request.bucket, earlier, tar_pass)
            index.failed(exc)
            raise
        self._abort_untaken(request.bucket, earlier, tar_pass)
        done = index.complete(tar_pass.files, tar_pass.model.readiness())
        pointer = self._point(done, layout.index_key)
        return Unpacked(done, layout.index_key, len(tar_pass.written), tar_pass.kept, True,
                        time.monotonic() - started, pointer)  # fmt: skip

    def _earlier_run(self, bucket: str, layout: UnpackLayout, source: SourceArchive) -> EarlierRun:
        """What the earlier run's index proves; an upload it left open of other bytes is
        of no use to anyone, and aborted now."""
        found = read_index(self._unpacked, bucket, layout.index_key)
        earlier = earlier_run(found, source, layout.folder, self._options.algorithm.name)
        if earlier.stale_upload is not None:
            self._abort(bucket, earlier.stale_upload)
        return earlier

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
        earlier: EarlierRun,
        earlier_files: EarlierFiles,
        control: TransferControl,
        index: RunIndex,
    ) -> TarPass:
        """The pass over the archive, its writer, and what it asks of the earlier run."""
        options = self._options
        budget = plan_unpack_budget(options.memory_budget, options.part_size)
        control.on_size(archive.size)
        resumable = self._digests.resumable()
        deadline = Deadline(control, resumable, options.deadline_margin_s,
                            options.max_continuations)  # fmt: skip
        checkpoints = ProgressCheckpoints(index.progress, options.checkpoint_every_s)
        writer = FileWriter(
            self._store,
            self._digests,
            WriterOptions(request.bucket, options.algorithm, options.part_size,
                          options.part_size_floor, options.upload_concurrency, budget),
            control.cancel,
            should_suspend=deadline.reached,
            # a part's record holds the SHA-256 state: only where it can be resumed
            on_part=checkpoints.part_stored if resumable else _no_record,
        )  # fmt: skip
        tar_pass = TarPass(
            partial(self._archives.read_into, archive.stored), archive.size,
            _compression(request.key, archive), layout, options.limits, budget, writer,
            options.algorithm, earlier_files.standing_for,
            control.cancel, control.on_progress, options.read_attempts,
            open_upload=earlier.resumed_upload, should_suspend=deadline.reached,
            on_file_stored=checkpoints.file_stored,
        )  # fmt: skip
        index.follow(tar_pass)
        return tar_pass

    def _abort_untaken(self, bucket: str, earlier: EarlierRun, tar_pass: TarPass) -> None:
        """The upload an earlier run left open, if this run did not take it up."""
        if earlier.resumed_upload is not None and not tar_pass.took_open_upload:
            self._abort(bucket, earlier.resumed_upload)

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

    def _remove(self, written: list[StoredObject]) -> None:
        for stored in written:
            self._store.delete(stored)


def _no_record(upload: OpenUpload) -> None:
    """Where the SHA-256 state cannot be saved, a part's progress is not recorded."""


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
