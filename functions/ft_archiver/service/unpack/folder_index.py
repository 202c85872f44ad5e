"""The folder's index in the bucket, ``{folder}.files.json``: read back what an earlier
run wrote, and written by this run as it goes. The index is the one object the unpacker
replaces: it describes the folder as it is now.

``EarlierFiles`` is what an earlier run's index lists, checked against the bucket.
``RunIndex`` is this run's: ``incomplete`` while it runs (now and then with its progress,
at a deadline with the upload it stopped in, after a failure with the error), then
``complete`` with the readiness verdicts. What it lists and which upload it names follow
domain/unpack/resume.py.

A run that fails or stops at its deadline writes the index itself; a run killed without
warning (a Lambda out of memory, SIGKILL, a host gone) writes nothing more. So that such
a run still leaves what it verified, ``ProgressCheckpoints`` records the progress after a
file is stored and after each part of a large file (its upload then open, where the next
run resumes it), at most once every ``every_s`` seconds: a kill loses at most that.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from ft_archiver import __version__
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.unpack.index import (
    INDEX_CONTENT_TYPE,
    IndexedFile,
    IndexStatus,
    OpenUpload,
    SourceArchive,
    UnpackIndex,
    build_index,
)
from ft_archiver.domain.unpack.layout import UnpackLayout
from ft_archiver.domain.unpack.members import Placement
from ft_archiver.domain.unpack.readiness import Readiness
from ft_archiver.domain.unpack.resume import EarlierRun, left_open, reusable, verified_files
from ft_archiver.service.ports import ObjectSpec, ObjectStore, StoredObject
from ft_archiver.service.unpack.file_writer import file_spec
from ft_archiver.service.unpack.ports import UnpackedObjects

log = logging.getLogger(__name__)


def read_index(objects: UnpackedObjects, bucket: str, key: str) -> UnpackIndex | None:
    """The index at ``key``; None when there is none, or one this release cannot read
    (the folder is then unpacked as if new: a file already there with the same bytes is
    kept, never written over)."""
    document = objects.read(bucket, key)
    if document is None:
        return None
    try:
        return UnpackIndex.model_validate_json(document)
    except ValidationError:
        log.warning("s3://%s/%s is not an index this release reads; it is ignored", bucket, key)
        return None


def write_index(
    store: ObjectStore, bucket: str, key: str, index: UnpackIndex, algorithm: CrcAlgorithm
) -> StoredObject:
    body = index.model_dump_json(indent=2).encode("utf-8")
    spec = ObjectSpec(bucket, key, INDEX_CONTENT_TYPE, {}, algorithm)
    return store.put_object(spec, body, algorithm.compute(body), overwrite=True)


class EarlierFiles:
    """The files an earlier run verified, as the bucket holds them now: an entry of its
    index stands for a file only while S3 holds its key with its size and checksum
    (HeadObject); which entries may stand for a member at all is domain/unpack/resume.py."""

    def __init__(
        self, objects: UnpackedObjects, bucket: str, earlier: EarlierRun, algorithm: CrcAlgorithm
    ) -> None:
        self._objects = objects
        self._bucket = bucket
        self._earlier = earlier
        self._algorithm = algorithm

    def standing_for(self, placement: Placement) -> IndexedFile | None:
        """The earlier run's file for this member, if it may stand for it and S3 holds it."""
        entry = self._earlier.trusted.get(placement.key)
        if entry is None or not reusable(entry, placement):
            return None
        return self._confirmed(entry)

    def still_complete(self) -> bool:
        """A complete index of these bytes whose every file S3 still holds as listed."""
        index = self._earlier.index
        if not self._earlier.complete or index is None:
            return False
        return all(self._confirmed(entry) for entry in index.files)

    def _confirmed(self, entry: IndexedFile) -> IndexedFile | None:
        spec = file_spec(self._bucket, entry.key, entry.path, self._algorithm)
        found = self._objects.find_verified(
            spec, entry.size, self._algorithm.decode(entry.checksum)
        )
        if found is None:
            return None
        return entry.model_copy(update={"version_id": found.version_id})


class PassProgress(Protocol):
    """What the index needs of the pass under way."""

    @property
    def files(self) -> list[IndexedFile]:
        """This pass's files so far, in archive order."""

    @property
    def took_open_upload(self) -> bool:
        """Whether it took up the upload the earlier run left open."""


class RunIndex:
    def __init__(
        self,
        store: ObjectStore,
        bucket: str,
        layout: UnpackLayout,
        source: SourceArchive,
        algorithm: CrcAlgorithm,
        earlier: EarlierRun,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._bucket = bucket
        self._layout = layout
        self._source = source
        self._algorithm = algorithm
        self._earlier = earlier
        self._clock = clock
        self._pass: PassProgress | None = None

    def follow(self, tar_pass: PassProgress) -> None:
        """The pass whose files the incomplete index lists (set once it exists)."""
        self._pass = tar_pass

    def progress(self, upload: OpenUpload | None) -> None:
        """The files verified so far and the upload under way (``upload``), if any."""
        self._write(self._incomplete(upload))

    def suspended(self, upload: OpenUpload | None) -> UnpackIndex:
        """At the deadline: the files verified so far and the upload left open."""
        index = self._incomplete(upload)
        self._write(index)
        return index

    def failed(self, exc: BaseException) -> None:
        """After a failure: the files verified so far and the error. Never raises: the
        unpack's own error is the one to report."""
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        files = verified_files(self._files(), self._earlier.trusted)
        index = self._build("incomplete", files, None, error)
        try:
            self._write(index)
        except Exception as failed:
            log.error("could not write the incomplete index s3://%s/%s (%s)",
                      self._bucket, self._layout.index_key, failed)  # fmt: skip

    def complete(self, files: list[IndexedFile], readiness: Readiness) -> UnpackIndex:
        index = self._build("complete", files, readiness)
        self._write(index)
        return index

    def _files(self) -> list[IndexedFile]:
        return [] if self._pass is None else self._pass.files

    def _incomplete(self, upload: OpenUpload | None) -> UnpackIndex:
        took = self._pass is not None and self._pass.took_open_upload
        still_open = left_open(upload, self._earlier.resumed_upload, took)
        files = verified_files(self._files(), self._earlier.trusted)
        return self._build("incomplete", files, None, open_upload=still_open)

    def _build(
        self,
        status: IndexStatus,
        files: list[IndexedFile],
        readiness: Readiness | None,
        error: str | None = None,
        open_upload: OpenUpload | None = None,
    ) -> UnpackIndex:
        return build_index(
            status=status, bucket=self._bucket, folder=self._layout.folder,
            archive=self._source, checksum_algorithm=self._algorithm.name, files=files,
            readiness=readiness, error=error, unpacked_by=f"ft-archiver {__version__}",
            updated_at=self._clock(), open_upload=open_upload,
        )  # fmt: skip

    def _write(self, index: UnpackIndex) -> None:
        write_index(self._store, self._bucket, self._layout.index_key, index, self._algorithm)


# Writes the incomplete index: the files verified so far, and the upload under way.
WriteProgress = Callable[[OpenUpload | None], None]


class ProgressCheckpoints:
    def __init__(
        self,
        write: WriteProgress,
        every_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._every_s = every_s
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()  # parts report from the upload threads

    def file_stored(self) -> None:
        self._maybe(None)

    def part_stored(self, upload: OpenUpload) -> None:
        self._maybe(upload)

    def _maybe(self, upload: OpenUpload | None) -> None:
        if self._clock() - self._last < self._every_s:
            return
        if not self._lock.acquire(blocking=False):  # another thread is recording it
            return
        try:
            self._last = self._clock()
            self._write(upload)
        except Exception as exc:  # the unpack goes on; a kill now would lose more
            log.warning("could not record the unpack's progress (%s)", exc)
        finally:
            self._lock.release()
