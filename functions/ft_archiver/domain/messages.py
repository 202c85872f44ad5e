"""The ArchiveQueue message: one archive to make, or a selection to expand first.

Three producers write it (the webhook, the poller, ``backfill --enqueue``) and the
archiver fans a selection out into one message per archive; ``origin`` says which,
``webhook_id`` is set only for the webhook's messages.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Origin = Literal["webhook", "poller", "backfill", "selection"]


class ArchiveMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    webhook_id: str | None = None
    origin: Origin = "webhook"
    id: str  # without a step suffix: producers split compound IDs
    checkpoint_step: int | None = None
    checkpoint_type: str = "default"
    key: str | None = None
    received_at: float
    # A selection (same vocabulary as the poller's): list the job's checkpoints and
    # enqueue one message per archive instead of archiving this one.
    checkpoints: str | None = None
    checkpoint_types: str | None = None
    # How many continuations came before this message: the archiver sends the same
    # request on with one more each time it suspends at its deadline.
    continuations: int = Field(0, ge=0)

    @property
    def correlation_id(self) -> str:
        return self.webhook_id or f"{self.origin}:{self.id}"

    @property
    def has_selection(self) -> bool:
        return self.checkpoints is not None or self.checkpoint_types is not None
