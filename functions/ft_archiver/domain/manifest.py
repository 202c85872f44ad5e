"""The provenance manifest kept next to each archive, at ``{key}.manifest.json``.

An archive read years from now, when Together may no longer answer, has to explain
itself: which job produced it (base model, training settings, files, timestamps, as
``GET /fine-tunes/{id}`` answered them), which checkpoint it is, and what was stored
(size, SHA-256, S3's full-object checksum, ETag, version).

What is kept of Together's answers is an allowlist (``JOB_FIELDS``, ``CHECKPOINT_FIELDS``):
a denylist of secret-sounding names let ``authorization``, ``passwd``, ``signature`` and
presigned URLs through. A field Together adds later is listed by name only
(``omitted_fields``), never by value. Within what is kept, fields whose name says they
hold a credential are removed at any depth, and every URL loses its user, password,
query and fragment (a presigned link's signature is a credential too).
"""

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    field_validator,
)

from ft_archiver.domain.checksums import Proof
from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.job import Checkpoint

SCHEMA_VERSION = 1
CONTENT_TYPE = "application/json"
# A field whose name contains one of these (in any case) is never written, at any depth.
SECRET_MARKERS = ("key", "token", "secret", "password", "passwd", "authorization",
                  "signature", "credential", "cookie")  # fmt: skip
# What a provenance record needs of FinetuneResponse (togethercomputer/openapi,
# openapi.yaml): what was trained, on what, how, when, and where it went. Not kept:
# events (log lines that quote paths and links), progress and queue_depth (moments of a
# run), owner_address and user_id (who, not what).
JOB_FIELDS = frozenset({
    "id", "status", "model", "model_output_name", "model_output_path", "adapter_output_name",
    "training_file", "validation_file", "trainingfile_numlines", "trainingfile_size",
    "TrainingFileNumLines", "TrainingFileSize", "created_at", "updated_at", "started_at",
    "n_epochs", "n_checkpoints", "n_evals", "batch_size", "learning_rate", "lr_scheduler",
    "warmup_ratio", "max_grad_norm", "weight_decay", "eval_steps", "train_on_inputs",
    "training_method", "training_type", "multimodal_params", "job_id", "token_count",
    "param_count", "total_price", "total_steps", "steps_completed", "epochs_completed",
    "evals_completed", "from_checkpoint", "from_hf_model", "hf_model_revision", "suffix",
    "packing", "max_seq_length", "random_seed", "wandb_url", "wandb_project_name", "wandb_name",
})  # fmt: skip
# FineTuneCheckpoint: all four of its fields.
CHECKPOINT_FIELDS = frozenset({"step", "checkpoint_type", "created_at", "path"})
URL_SCHEMES = ("http://", "https://", "s3://", "gs://")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def bare_url(text: str) -> str:
    """A URL without its user, password, query and fragment; any other text as it is."""
    if not text.lower().startswith(URL_SCHEMES):
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact(value: Any) -> Any:
    """A copy of ``value`` without the secret-named fields of any object in it, at any
    depth (objects in lists included), and every URL in it bare (``bare_url``)."""
    if isinstance(value, dict):
        return {name: redact(item) for name, item in value.items() if not is_secret_name(str(name))}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return bare_url(value)
    return value


def allowed(document: dict[str, Any], fields: Collection[str]) -> tuple[dict[str, Any], list[str]]:
    """The allowed fields of one of Together's answers, and the names of the others but
    those whose name says they hold a credential (their name adds nothing)."""
    kept = {name: value for name, value in document.items() if name in fields}
    others = (name for name in document if name not in fields and not is_secret_name(name))
    return kept, sorted(others)


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


def _in_utc_to_the_millisecond(value: datetime) -> datetime:
    """As it is written, so that a manifest read back equals the one written."""
    return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)


def _iso_8601(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A moment of the manifest: aware, in UTC to the millisecond, written as ISO 8601 with Z.
Milliseconds = Annotated[
    AwareDatetime,
    AfterValidator(_in_utc_to_the_millisecond),
    PlainSerializer(_iso_8601, return_type=str),
]


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
    proof: Proof = "full-object-checksum"  # as the event's: what proved the bytes
    etag: str
    version_id: str | None
    parts: int
    part_size: int
    sha256_tree: str | None = None
    part_sha256: list[str] | None = None  # a distributed archive's parts, in order
    archived_at: Milliseconds
    ft_archiver_version: str


class UnpackedPointer(BaseModel):
    """Where the archive was unpacked (issue 18): its folder and the folder's index,
    ``{folder}.files.json``, added to the manifest once an unpack is complete."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    folder: str  # the key prefix the files are under, ending with '/'
    index_key: str
    files: int
    bytes: int
    unpacked_at: Milliseconds

    def same_folder(self, other: "UnpackedPointer") -> bool:
        """The same folder, index and contents, whenever it was unpacked."""
        return (self.folder, self.index_key, self.files, self.bytes) == (
            other.folder, other.index_key, other.files, other.bytes,
        )  # fmt: skip


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
    job: dict[str, Any]  # GET /fine-tunes/{id}: JOB_FIELDS, redacted
    checkpoint: dict[str, Any] | None  # its entry of GET /fine-tunes/{id}/checkpoints
    result: ManifestResult
    # The fields of Together's answers that were not kept, by name: {"job": [...], ...}
    omitted_fields: dict[str, list[str]] = {}
    # The folder it was unpacked into, once an unpack completed; None until then.
    unpacked: UnpackedPointer | None = None

    @field_validator("job", "checkpoint")
    @classmethod
    def _redacted(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else redact(value)

    def to_json(self) -> bytes:
        """The manifest as written; ``unpacked`` only once there is a pointer, so a
        manifest of an archive never unpacked is as earlier releases wrote it."""
        unset = {"unpacked"} if self.unpacked is None else None
        return self.model_dump_json(indent=2, exclude=unset).encode("utf-8")


def build_manifest(
    detail: ArchivedDetail,
    job_document: dict[str, Any],
    checkpoint: Checkpoint | None,
    archived_at: datetime,
    version: str,
    part_sha256: list[str] | None = None,
) -> Manifest:
    """The manifest of a verified archive, from its event detail and Together's answers."""
    job, job_omitted = allowed(job_document, JOB_FIELDS)
    entry, entry_omitted = (
        allowed(checkpoint.document, CHECKPOINT_FIELDS) if checkpoint else ({}, [])
    )
    return Manifest(
        fine_tune_id=detail.id,
        checkpoint_step=detail.checkpoint_step,
        checkpoint_type=detail.checkpoint_type,
        training_type=detail.training_type,
        model_output_name=detail.model_output_name,
        job=job,
        checkpoint=entry if checkpoint is not None else None,
        omitted_fields={"job": job_omitted, "checkpoint": entry_omitted},
        result=ManifestResult(
            bucket=detail.bucket,
            key=detail.key,
            size=detail.size,
            content_type=detail.content_type,
            sha256=detail.sha256,
            checksum_algorithm=detail.checksum_algorithm,
            checksum=detail.checksum,
            proof=detail.proof,
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
