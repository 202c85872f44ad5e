"""One pass over the archive: ranged GETs in order, decompressed, read as a tar stream,
each member admitted by the member rules before any byte of it is written, each file
written as its own verified object, or confirmed, when an earlier run stored it.

A stream cannot be resumed in the middle, so every pass starts at the archive's first
byte; what an earlier run verified (same key, size and checksum, confirmed by S3) is read
over, not uploaded again, and the upload an earlier run left open at its deadline is
resumed at its next part. At this run's deadline the pass stops (PassSuspended): in the
middle of a file, its upload left open; or between files, once it has stored one.
"""

import tarfile
from collections.abc import Callable
from typing import cast

from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.unpack.budget import UnpackBudget
from ft_archiver.domain.unpack.compression import Compression
from ft_archiver.domain.unpack.index import IndexedFile, OpenUpload
from ft_archiver.domain.unpack.layout import UnpackLayout
from ft_archiver.domain.unpack.members import MemberPlanner, Placement, UnpackLimits, member_type
from ft_archiver.errors import CorruptArchiveError
from ft_archiver.service.ports import StoredObject
from ft_archiver.service.unpack.archive_stream import ChunkRead, Decompressed, OrderedRangeReader
from ft_archiver.service.unpack.file_writer import (
    ByteStream,
    FileSuspended,
    FileWriter,
    StreamParts,
)
from ft_archiver.service.unpack.model_files import ModelFiles

# What tarfile asks of the decompressed stream at a time (its default is 10 KiB).
TAR_READ_SIZE = 1024 * 1024
# Verified by an earlier run: the entry of its index, if S3 still holds it as recorded.
EarlierFile = Callable[[Placement], IndexedFile | None]


class PassSuspended(Exception):  # noqa: N818 - not an error: a deadline, the work saved
    """The pass stopped at the deadline: in the middle of a file (``upload``, left
    open), or between files (``upload`` None)."""

    def __init__(self, upload: OpenUpload | None) -> None:
        super().__init__("stopped at the deadline")
        self.upload = upload


class TarPass:
    """The files of one pass, in archive order (``files``), the objects this pass wrote
    (``written``: what is removed if the archive is refused), and what the readiness
    verdicts are computed from (``model``)."""

    def __init__(
        self,
        read: ChunkRead,
        size: int,
        compression: Compression,
        layout: UnpackLayout,
        limits: UnpackLimits,
        budget: UnpackBudget,
        writer: FileWriter,
        algorithm: CrcAlgorithm,
        earlier: EarlierFile,
        cancel: Cancellation,
        on_read: Callable[[int], None],
        read_attempts: int = 3,
        *,
        open_upload: OpenUpload | None = None,
        should_suspend: Callable[[], bool] = lambda: False,
        on_file_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._planner = MemberPlanner(layout, size, limits)
        self._reader = OrderedRangeReader(
            read, size, budget.read_chunk, budget.read_ahead,
            attempts=read_attempts, on_consumed=on_read,
        )  # fmt: skip
        self._compression = compression
        self._window = budget.window
        self._writer = writer
        self._algorithm = algorithm
        self._earlier = earlier
        self._cancel = cancel
        self._open_upload = open_upload
        self._should_suspend = should_suspend
        self._on_file_stored = on_file_stored
        self.took_open_upload = False  # the earlier run's upload was resumed (or aborted)
        self.files: list[IndexedFile] = []
        self.written: list[StoredObject] = []
        self.kept = 0  # files an earlier run had stored
        self.model = ModelFiles()

    def run(self) -> str:
        """Every member, then the rest of the archive read: the SHA-256 of its bytes."""
        reader = self._reader
        with (
            reader,
            Decompressed(
                reader, self._compression, self._window, self._planner.check_stream
            ) as stream,
        ):
            try:
                tar = tarfile.open(  # noqa: SIM115 - closed by the with below
                    fileobj=stream, mode="r|", bufsize=TAR_READ_SIZE,
                    encoding="utf-8", errors="surrogateescape",
                )  # fmt: skip
            except tarfile.TarError as exc:
                raise CorruptArchiveError(f"the archive is not a tar ({exc})") from None
            with tar:
                while (info := _next(tar)) is not None:
                    placement = self._planner.admit(info.name, member_type(info.type), info.size)
                    if placement is None:
                        continue
                    member = tar.extractfile(info)
                    if member is None:  # a regular file always has a stream
                        raise CorruptArchiveError(f"member {info.name!r} has no data")
                    # an io.BufferedReader, which typeshed calls IO[bytes]: it has readinto
                    self._take(placement, cast(ByteStream, member))
            reader.drain()
        return reader.sha256_hexdigest()

    def _take(self, placement: Placement, member: ByteStream) -> None:
        wanted = ModelFiles.head_wanted(placement.path, placement.size)
        earlier = self._earlier(placement)
        if earlier is not None:
            parts = StreamParts(member, placement.size, wanted)
            parts.skip_rest(self._cancel)
            self.files.append(earlier)
            self.kept += 1
            self.model.add(placement.path, placement.size, bytes(parts.head))
            return
        if self.written and self._should_suspend():  # this run has stored a file
            raise PassSuspended(None)
        resume = self._open_upload
        if resume is not None and resume.key == placement.key:
            self.took_open_upload = True
        else:
            resume = None
        try:
            written = self._writer.write(
                placement.key, placement.path, placement.size, member, wanted, resume
            )
        except FileSuspended as stopped:
            raise PassSuspended(stopped.upload) from None
        self.written.append(written.stored)
        self.files.append(
            IndexedFile(
                path=placement.path,
                key=placement.key,
                size=placement.size,
                sha256=written.sha256,
                checksum=self._algorithm.encode(written.crc),
                version_id=written.stored.version_id,
                parts=written.parts,
            )
        )
        self.model.add(placement.path, placement.size, written.head)
        self._on_file_stored()


def _next(tar: tarfile.TarFile) -> tarfile.TarInfo | None:
    try:
        info = tar.next()
    except tarfile.TarError as exc:
        raise CorruptArchiveError(f"the archive's tar stream is broken ({exc})") from None
    # tarfile keeps every member it has read, for getmembers(); a pass needs none once
    # it has the next, and an archive may hold 100,000 of them.
    tar.members.clear()  # type: ignore[attr-defined]  # typeshed leaves it out
    return info
