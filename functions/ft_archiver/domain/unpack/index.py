"""The folder's index, ``{folder}.files.json``: what the folder holds and where it came
from. Pure.

It sits beside the folder, not inside (the folder holds only the model). It is written
last, ``complete``, once every file is stored and verified; when an unpack fails, or
stops at its deadline, it is written ``incomplete`` with the files verified so far
(and, at a deadline, the upload of the file it stopped in), which the next run does not
upload again. A consumer that finds no index, or an incomplete one, has no model yet.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ft_archiver.domain.unpack.readiness import Readiness

INDEX_CONTENT_TYPE = "application/json"
IndexStatus = Literal["complete", "incomplete"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SourceArchive(_Model):
    """The archive the folder was unpacked from, as the bucket holds it: the version
    read, and the SHA-256 its ``sha256`` tag carries (written once it was verified)."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    size: int
    sha256: str | None  # None for a distributed archive tagged only with sha256-tree
    sha256_tree: str | None = None
    # What the archive is of, from the metadata ft-archiver wrote on it (None for an
    # archive it did not write): the fine-tune, its step (None: final) and the type.
    fine_tune_id: str | None = None
    checkpoint_step: int | None = None
    checkpoint_type: str | None = None

    def same_as(self, other: "SourceArchive") -> bool:
        """The same bytes: what an earlier run's verified files can be trusted for."""
        return (self.bucket, self.key, self.version_id, self.etag, self.size) == (
            other.bucket, other.key, other.version_id, other.etag, other.size,
        )  # fmt: skip


class IndexedFile(_Model):
    """One file of the folder, verified: its size and full-object checksum as S3
    checked them, its SHA-256 as computed in order while it was uploaded."""

    path: str  # relative to the folder
    key: str
    size: int
    sha256: str
    checksum: str  # S3's form (base64) of the full-object checksum, checksum_algorithm
    version_id: str | None
    parts: int


class OpenUpload(_Model):
    """The multipart upload of the file a run stopped in at its deadline, left open for
    the next run, which resumes it at its next part: the parts are deterministic (the
    file's bytes, cut at ``part_size``), so parts 1..``parts_done`` are read over, not
    sent again, and the SHA-256 goes on from its saved state."""

    path: str
    key: str
    size: int
    part_size: int
    upload_id: str
    parts_done: int
    digest_state: str  # base64 of the SHA-256 state after part ``parts_done``
    prefix_crc: int  # the full-object CRC of parts 1..``parts_done``


class UnpackIndex(_Model):
    status: IndexStatus
    bucket: str
    folder: str  # the key prefix the files are under, ending with '/'
    archive: SourceArchive
    checksum_algorithm: str
    files: tuple[IndexedFile, ...]
    file_count: int
    total_bytes: int
    readiness: Readiness | None  # complete indexes only
    error: str | None = None  # why an incomplete one stopped
    open_upload: OpenUpload | None = None  # an incomplete one stopped at its deadline
    unpacked_by: str  # ft-archiver's version
    updated_at: datetime


def build_index(
    *,
    status: IndexStatus,
    bucket: str,
    folder: str,
    archive: SourceArchive,
    checksum_algorithm: str,
    files: list[IndexedFile],
    readiness: Readiness | None,
    error: str | None,
    unpacked_by: str,
    updated_at: datetime,
    open_upload: OpenUpload | None = None,
) -> UnpackIndex:
    """The index, its counts from its files."""
    return UnpackIndex(
        status=status,
        bucket=bucket,
        folder=folder,
        archive=archive,
        checksum_algorithm=checksum_algorithm,
        files=tuple(files),
        file_count=len(files),
        total_bytes=sum(entry.size for entry in files),
        readiness=readiness,
        error=error,
        open_upload=open_upload,
        unpacked_by=unpacked_by,
        updated_at=updated_at,
    )
