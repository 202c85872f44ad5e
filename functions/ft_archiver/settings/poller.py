"""PollerFunction's settings."""

from datetime import date
from typing import Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from ft_archiver.domain.selection import Selection, parse_selection
from ft_archiver.settings.base import TOGETHER_KEY
from ft_archiver.settings.together import TogetherSettings


class PollerSettings(TogetherSettings):
    """PollerFunction: lists Together's jobs, claims them in the table, enqueues."""

    FUNCTION: ClassVar[str] = "PollerFunction"
    REQUIRED_ONE_OF: ClassVar[tuple[tuple[str, ...], ...]] = (TOGETHER_KEY,)

    archive_queue_url: str = Field(validation_alias="ARCHIVE_QUEUE_URL")
    state_table_name: str = Field(validation_alias="STATE_TABLE_NAME")
    # What it archives of each completed job, which history it takes on its first run
    # (jobs created on or after this date), and how much it queues per tick.
    archive_checkpoints: str = Field("final", validation_alias="ARCHIVE_CHECKPOINTS")
    archive_checkpoint_types: str = Field("default", validation_alias="ARCHIVE_CHECKPOINT_TYPES")
    archive_since: date | None = Field(None, validation_alias="ARCHIVE_SINCE")
    poll_max_archives: int = Field(
        100, ge=1, le=10_000, validation_alias="POLL_MAX_ARCHIVES_PER_TICK"
    )

    @field_validator("archive_since", mode="before")
    @classmethod
    def _empty_date(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("archive_checkpoints", "archive_checkpoint_types")
    @classmethod
    def _vocabulary(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "archive_checkpoints":
            parse_selection(value, None)
        else:
            parse_selection(None, value)
        return value

    @property
    def selection(self) -> Selection:
        return parse_selection(self.archive_checkpoints, self.archive_checkpoint_types)
