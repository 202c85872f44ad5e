"""The EventBridge events ft-archiver emits: the contract downstream pipelines consume."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ft_archiver.domain.checksums import Proof
from ft_archiver.domain.unpack.readiness import Readiness

EVENT_SOURCE = "ft-archiver"
ARCHIVED = "Fine-tune Archived"
ARCHIVE_FAILED = "Fine-tune Archive Failed"
UNPACKED = "Fine-tune Unpacked"
UNPACK_FAILED = "Fine-tune Unpack Failed"
IMPORTED = "Fine-tune Imported"
IMPORT_FAILED = "Fine-tune Import Failed"


class ArchivedDetail(BaseModel):
    """Detail of ``Fine-tune Archived``; its first five fields mirror the SDK's download result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    object: Literal["s3"] = "s3"
    id: str
    checkpoint_step: int | None
    checkpoint_type: str
    training_type: str
    filename: str
    bucket: str
    key: str
    # Where the provenance manifest is, next to the archive; null only for an archive
    # finished before manifests existed, announced again on a redelivery.
    manifest_key: str | None
    size: int
    etag: str
    version_id: str | None
    content_type: str
    # The digests the archive carries: the full-object CRC (always, verified by S3), the
    # whole archive's SHA-256 when it was computed (always, unless a distributed archive
    # was not read back), and for a distributed archive the SHA-256 tree of its parts
    # (domain/distributed.py says how to recompute it).
    sha256: str | None
    sha256_tree: str | None = None
    checksum_algorithm: str
    # The CRC of the whole archive, computed while streaming (with a composite proof the
    # store shows the checksum of the parts' checksums instead).
    checksum: str
    # What proved the stored bytes (ChecksumMode): the store checked the full-object CRC,
    # or each part's CRC (composite), or the archive was read back and its SHA-256
    # compared (for stores that keep no checksum).
    proof: Proof = "full-object-checksum"
    parts: int
    part_size: int
    model_output_name: str | None
    duration_s: float


class ArchiveFailedDetail(BaseModel):
    """Detail of ``Fine-tune Archive Failed``; ``error`` never carries a secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    checkpoint_step: int | None
    checkpoint_type: str
    error_type: str
    error: str
    retryable: bool


class UnpackedDetail(BaseModel):
    """Detail of ``Fine-tune Unpacked``: the archive's files are under ``folder``, each
    its own verified object, listed in the index at ``index_key``, and ``readiness``
    says which consumers load the folder as it is. ``id`` and the checkpoint are the
    archive's (null for an archive ft-archiver did not write)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    object: Literal["s3"] = "s3"
    id: str | None
    checkpoint_step: int | None
    checkpoint_type: str | None
    bucket: str
    archive_key: str
    archive_version_id: str | None
    archive_sha256: str | None
    folder: str  # the key prefix of the files, ending with '/'
    folder_url: str  # s3://bucket/folder: what Bedrock, SageMaker and vLLM are given
    index_key: str
    files: int
    bytes: int
    checksum_algorithm: str
    readiness: Readiness
    uploaded: int  # files this run wrote; the others an earlier run had verified
    duration_s: float


class UnpackFailedDetail(BaseModel):
    """Detail of ``Fine-tune Unpack Failed``. ``retryable`` False: the archive was
    refused (links, '..', a limit, not verified) and nothing of it is left; True: the
    index says incomplete and a later run (the queue's retry) finishes the folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None
    checkpoint_step: int | None
    checkpoint_type: str | None
    bucket: str
    archive_key: str
    folder: str | None  # None when the archive's name gives no folder
    index_key: str | None
    error_type: str
    error: str
    retryable: bool


class _ImportOf(BaseModel):
    """What both import events say of the folder imported and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Literal["bedrock"] = "bedrock"
    id: str | None
    checkpoint_step: int | None
    checkpoint_type: str | None
    bucket: str
    archive_key: str
    archive_sha256: str | None
    folder_url: str
    index_key: str


class ImportedDetail(_ImportOf):
    """Detail of ``Fine-tune Imported``: the folder is a model Bedrock serves.
    ``model_id`` is what InvokeModel takes (the imported model's ARN)."""

    job_arn: str
    job_name: str
    imported_model_name: str
    imported_model_arn: str
    model_id: str
    model_architecture: str | None
    instruct_supported: bool | None
    custom_model_units_per_copy: int | None
    custom_model_units_version: str | None
    duration_s: float | None  # the job's, from its creation to its end, when Bedrock says


class ImportFailedDetail(_ImportOf):
    """Detail of ``Fine-tune Import Failed``: the job failed (``error`` is Bedrock's
    failureMessage), or the folder was refused before any call, or the import waited
    past its limit. ``retryable`` False: asking again gets the same answer."""

    job_arn: str | None  # None when no job was started
    job_name: str | None
    imported_model_name: str | None
    error_type: str
    error: str
    retryable: bool


SCHEMA_FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "fine-tune-archived.schema.json": (ARCHIVED, ArchivedDetail),
    "fine-tune-archive-failed.schema.json": (ARCHIVE_FAILED, ArchiveFailedDetail),
    "fine-tune-unpacked.schema.json": (UNPACKED, UnpackedDetail),
    "fine-tune-unpack-failed.schema.json": (UNPACK_FAILED, UnpackFailedDetail),
    "fine-tune-imported.schema.json": (IMPORTED, ImportedDetail),
    "fine-tune-import-failed.schema.json": (IMPORT_FAILED, ImportFailedDetail),
}


def detail_schema(detail_type: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of an event's detail: the published contract."""
    models = dict(SCHEMA_FILES.values())
    schema = models[detail_type].model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://ft-archiver.dev/schemas/{detail_type.lower().replace(' ', '-')}.json",
        **schema,
    }
