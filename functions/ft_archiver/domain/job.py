"""Together's fine-tune job, as much of it as archiving needs."""

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


class FineTuneJob(BaseModel):
    """``GET /fine-tunes/{id}``; unknown fields are ignored so API additions never break us."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    status: str | None = None
    training_type: str | None = None
    model_output_name: str | None = Field(
        default=None, validation_alias=AliasChoices("model_output_name", "output_name")
    )

    @field_validator("training_type", mode="before")
    @classmethod
    def _training_type_name(cls, value: Any) -> Any:
        # The API nests it: {"training_type": {"type": "Lora", "lora_r": 8, ...}}
        if isinstance(value, dict):
            return value.get("type")
        return value


class Checkpoint(BaseModel):
    """One entry of ``GET /fine-tunes/{id}/checkpoints``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    step: int
    checkpoint_type: str
    created_at: str | None = None
    path: str | None = None
