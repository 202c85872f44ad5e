"""WebhookFunction's settings."""

from typing import ClassVar

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from ft_archiver.settings.base import (
    WEBHOOK_SECRET,
    ArchivePrefix,
    FunctionSettings,
    require_one_of,
)


class WebhookSettings(FunctionSettings):
    """WebhookFunction: verifies, remembers the webhook-id, enqueues. No Together."""

    FUNCTION: ClassVar[str] = "WebhookFunction"
    REQUIRED_ONE_OF: ClassVar[tuple[tuple[str, ...], ...]] = (WEBHOOK_SECRET,)

    archive_queue_url: str = Field(validation_alias="ARCHIVE_QUEUE_URL")
    state_table_name: str = Field(validation_alias="STATE_TABLE_NAME")
    # A webhook's explicit key must be in a folder under the archiver's prefix.
    archive_prefix: ArchivePrefix = Field(validation_alias="ARCHIVE_PREFIX")
    # In Lambda the secret comes from Secrets Manager by name (cached, so rotation works);
    # a direct value wins where one is set (local runs).
    webhook_secret: SecretStr | None = Field(None, validation_alias="WEBHOOK_SECRET")
    webhook_secret_name: str | None = Field(
        None, validation_alias="WEBHOOK_SECRET_NAME", validate_default=True
    )

    @field_validator("webhook_secret_name")
    @classmethod
    def _secret_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        require_one_of(WEBHOOK_SECRET, value, info, "webhook_secret")
        return value
