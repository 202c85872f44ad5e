"""Together's fine-tune job and its checkpoints, as much of them as archiving needs."""

from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator


class JobStatus(StrEnum):
    """Every status ``GET /fine-tunes`` reports; only ``completed`` has a model to archive."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPRESSING = "compressing"
    UPLOADING = "uploading"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    ERROR = "error"
    USER_ERROR = "user_error"
    COMPLETED = "completed"


# The training type older jobs report: {"type": ""}, Full to the SDK.
LEGACY_FULL = "Full"


class ApiDocument(BaseModel):
    """A model read from one JSON object of the API that keeps that whole object.

    Unknown fields are ignored so API additions never break us, but the whole answer is
    kept in ``document`` (not part of any dump) for the provenance manifest."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    document: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _keep_document(cls, value: Any) -> Any:
        if isinstance(value, dict) and "document" not in value:
            return {**value, "document": dict(value)}
        return value


class JobSummary(ApiDocument):
    """One entry of ``GET /fine-tunes`` (``FinetuneResponseTruncated``): only what the list
    promises. Together documents no ``training_type`` and no ``model_output_path`` here,
    so no rule is ever decided on an entry: the job is retrieved first."""

    id: str
    status: str | None = None
    created_at: str | None = None

    @property
    def completed(self) -> bool:
        return (self.status or "").lower() == JobStatus.COMPLETED


class FineTuneJob(JobSummary):
    """``GET /fine-tunes/{id}`` (``FinetuneResponse``). ``status`` is kept as text: a
    status the API adds later is simply not ``completed``. ``training_type`` is the name
    of the nested type, ``"Full"`` for the legacy ``""`` as the 1.x SDK reads it."""

    training_type: str | None = None
    model_output_name: str | None = Field(
        default=None, validation_alias=AliasChoices("model_output_name", "output_name")
    )

    @field_validator("training_type", mode="before")
    @classmethod
    def _training_type_name(cls, value: Any) -> Any:
        # The API nests it: {"training_type": {"type": "Lora", "lora_r": 8, ...}}; older
        # jobs say {"type": ""}, which together-python's validate_training_type takes for
        # Full (src/together/types/finetune.py).
        if isinstance(value, dict):
            value = value.get("type")
        return LEGACY_FULL if value == "" else value


class Checkpoint(ApiDocument):
    """One entry of ``GET /fine-tunes/{id}/checkpoints``, kept whole in ``document``.

    As the SDK reads them: an entry whose type contains "intermediate" is downloadable as
    ``{id}:{step}``; any other entry (``Final``) is the final model, downloaded without a
    step."""

    step: int
    checkpoint_type: str
    created_at: str | None = None
    path: str | None = None

    @property
    def intermediate(self) -> bool:
        return "intermediate" in self.checkpoint_type.lower()
