"""The provenance manifest kept next to each archive, at ``{key}.manifest.json``.

An archive read years from now, when Together may no longer answer, has to explain
itself: which job produced it (the job exactly as ``GET /fine-tunes/{id}`` answered,
base model, training settings, files), which checkpoint it is, and what was stored
(size, SHA-256, S3's full-object checksum, ETag, version). Fields whose name says they
hold a credential are removed, at any depth, before anything is written.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_serializer, field_validator

from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.job import Checkpoint

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/json"
# A field whose name contains one of these (in any case) is never written.
SECRET_MARKERS = ("key", "token", "secret", "password")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def redact(value: Any) -> Any:
    """A copy of ``value`` without the secret-named fields of any object in it, at any
    depth (objects in lists included). Values are kept as they are."""
    if isinstance(value, dict):
        return {name: redact(item) for name, item in value.items() if not is_secret_name(str(name))}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


# The final entry each resolved download kind comes from; a LoRA job lists "Final
# Merged" and "Final Adapter" at one step (together-python's FinetuneCheckpoint names them).
FINAL_ENTRY = {"merged": "final merged", "adapter": "final adapter"}


def checkpoint_entry(
    checkpoints: Sequence[Checkpoint], step: int | None, checkpoint: str
) -> Checkpoint | None:
    """The entry an archive comes from: the intermediate checkpoint at ``step``, or for
    the final model (no step) the final entry of the resolved kind (``checkpoint``:
    merged, adapter or model_output_path), or a plain ``Final`` where Together lists
    only one; the latest such entry, and None if none fits (never the adapter's entry
    for a merged archive)."""
    if step is not None:
        return next((c for c in checkpoints if c.intermediate and c.step == step), None)
    finals = [c for c in checkpoints if not c.intermediate]
    for wanted in (FINAL_ENTRY.get(checkpoint), "final"):
        matching = [c for c in finals if c.checkpoint_type.strip().lower() == wanted]
        if matching:
            return max(matching, key=lambda c: c.step)
    return None


class ManifestResult(BaseModel):
    """The archive as it was stored in S3 and verified there."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket: str
    key: str
    size: int
    content_type: str
    sha256: str | None
    checksum_algorithm: str
    checksum: str
    etag: str
    version_id: str | None
    parts: int
    part_size: int
    sha256_tree: str | None = None
    part_sha256: list[str] | None = None  # a distributed archive's parts, in order
    archived_at: AwareDatetime
    ft_archiver_version: str

    @field_validator("archived_at")
    @classmethod
    def _in_utc_to_the_millisecond(cls, value: datetime) -> datetime:
        """As it is written, so that a manifest read back equals the one written."""
        return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)

    @field_serializer("archived_at")
    def _iso_8601(self, value: datetime) -> str:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Manifest(BaseModel):
    """``{key}.manifest.json``. Unknown fields are ignored when one is read, so a reader
    of this version can list manifests written by a later one."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = SCHEMA_VERSION
    fine_tune_id: str
    checkpoint_step: int | None  # None: the final model
    checkpoint_type: str  # the resolved one: merged, adapter or model_output_path
    training_type: str
    model_output_name: str | None
    job: dict[str, Any]  # GET /fine-tunes/{id}, redacted
    checkpoint: dict[str, Any] | None  # its entry of GET /fine-tunes/{id}/checkpoints
    result: ManifestResult

    @field_validator("job", "checkpoint")
    @classmethod
    def _redacted(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else redact(value)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8")


def build_manifest(
    detail: ArchivedDetail,
    job_document: dict[str, Any],
    checkpoint: Checkpoint | None,
    archived_at: datetime,
    version: str,
    part_sha256: list[str] | None = None,
) -> Manifest:
    """The manifest of a verified archive, from its event detail and Together's answers."""
    return Manifest(
        fine_tune_id=detail.id,
        checkpoint_step=detail.checkpoint_step,
        checkpoint_type=detail.checkpoint_type,
        training_type=detail.training_type,
        model_output_name=detail.model_output_name,
        job=job_document,
        checkpoint=checkpoint.document if checkpoint is not None else None,
        result=ManifestResult(
            bucket=detail.bucket,
            key=detail.key,
            size=detail.size,
            content_type=detail.content_type,
            sha256=detail.sha256,
            checksum_algorithm=detail.checksum_algorithm,
            checksum=detail.checksum,
            etag=detail.etag,
            version_id=detail.version_id,
            parts=detail.parts,
            part_size=detail.part_size,
            sha256_tree=detail.sha256_tree,
            part_sha256=part_sha256,
            archived_at=archived_at,
            ft_archiver_version=version,
        ),
    )
