"""The ArchiveQueue message: what the webhook accepted, for the archiver to do."""

from pydantic import BaseModel, ConfigDict


class ArchiveMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    webhook_id: str
    id: str  # without a step suffix: the webhook splits compound IDs
    checkpoint_step: int | None = None
    checkpoint_type: str = "default"
    key: str | None = None
    received_at: float
