"""The one settings model, read from the environment once.

boto3 reads its own variables (AWS_ENDPOINT_URL, AWS_REGION, credentials); nothing here
knows whether it talks to AWS or to an emulator.
"""

from datetime import date
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ft_archiver.domain.addresses import base_url_refusal
from ft_archiver.domain.naming import validate_bucket_name
from ft_archiver.domain.parts import (
    DEFAULT_PART_SIZE,
    PART_SIZE_FLOOR,
    check_part_size,
    default_memory_budget,
    parse_size,
)
from ft_archiver.domain.selection import Selection, parse_selection

ChecksumAlgorithm = Literal["CRC64NVME", "CRC32C", "CRC32"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    together_api_key: SecretStr | None = Field(None, validation_alias="TOGETHER_API_KEY")
    together_base_url: str = Field(
        "https://api.together.xyz/v1", validation_alias="TOGETHER_BASE_URL"
    )
    archive_bucket: str | None = Field(None, validation_alias="ARCHIVE_BUCKET")
    archive_prefix: str = Field("", validation_alias="ARCHIVE_PREFIX")
    event_bus_name: str = Field("default", validation_alias="EVENT_BUS_NAME")
    aws_region: str | None = Field(None, validation_alias="AWS_REGION")

    # In Lambda the secrets come from Secrets Manager by name (cached, so rotation works);
    # a direct value wins where one is set (CLI, local runs).
    together_api_key_secret_name: str | None = Field(
        None, validation_alias="TOGETHER_API_KEY_SECRET_NAME"
    )
    webhook_secret: SecretStr | None = Field(None, validation_alias="WEBHOOK_SECRET")
    webhook_secret_name: str | None = Field(None, validation_alias="WEBHOOK_SECRET_NAME")
    secret_max_age_s: int = Field(300, ge=0, validation_alias="FT_ARCHIVER_SECRET_MAX_AGE")
    archive_queue_url: str | None = Field(None, validation_alias="ARCHIVE_QUEUE_URL")
    state_table_name: str | None = Field(None, validation_alias="STATE_TABLE_NAME")

    # The poller: what it archives of each completed job, which history it takes on its
    # first run (jobs created on or after this date), and how much it queues per tick.
    archive_checkpoints: str = Field("final", validation_alias="ARCHIVE_CHECKPOINTS")
    archive_checkpoint_types: str = Field("default", validation_alias="ARCHIVE_CHECKPOINT_TYPES")
    archive_since: date | None = Field(None, validation_alias="ARCHIVE_SINCE")
    poll_max_archives: int = Field(
        100, ge=1, le=10_000, validation_alias="POLL_MAX_ARCHIVES_PER_TICK"
    )

    part_size: int = Field(DEFAULT_PART_SIZE, validation_alias="FT_ARCHIVER_PART_SIZE")
    # Lowered only against emulators that accept small parts (moto's S3_UPLOAD_PART_MIN_SIZE).
    part_size_floor: int = Field(PART_SIZE_FLOOR, validation_alias="FT_ARCHIVER_PART_SIZE_FLOOR")
    # Measured (README, Performance): 12 ranged GETs keep LocalStack's S3 busy when each
    # connection is capped at 25 MB/s; 8 MiB parts x 20 buffers = 160 MiB of buffers.
    concurrency: int = Field(12, ge=1, le=64, validation_alias="FT_ARCHIVER_CONCURRENCY")
    upload_concurrency: int = Field(
        8, ge=1, le=64, validation_alias="FT_ARCHIVER_UPLOAD_CONCURRENCY"
    )
    # The part buffers' budget: as set, or derived from the function's memory, which
    # Lambda itself puts in AWS_LAMBDA_FUNCTION_MEMORY_SIZE (see ``memory_budget``).
    memory_budget_setting: int | None = Field(
        None, gt=0, validation_alias="FT_ARCHIVER_MEMORY_BUDGET"
    )
    function_memory_mb: int | None = Field(
        None, ge=128, validation_alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
    )
    checksum_algorithm: ChecksumAlgorithm = Field(
        "CRC64NVME", validation_alias="FT_ARCHIVER_CHECKSUM_ALGORITHM"
    )

    # Stop taking new parts when the Lambda has less than this left, and continue in a new
    # invocation: enough to finish the parts under way and save progress.
    deadline_margin_s: float = Field(60.0, ge=0, validation_alias="FT_ARCHIVER_DEADLINE_MARGIN")
    # How many times one archive may continue in a new invocation; at the next deadline
    # beyond that it fails (upload aborted, failure event). The stack's MaxContinuations.
    max_continuations: int = Field(100, ge=0, validation_alias="FT_ARCHIVER_MAX_CONTINUATIONS")
    # A request whose archive another invocation holds is asked again this much later, in
    # a fresh message (SQS delays a message 900 s at most).
    lease_wait_s: int = Field(900, ge=0, le=900, validation_alias="FT_ARCHIVER_LEASE_WAIT")
    # How long a claim on an archive holds if its holder dies: past the function's 900 s.
    lease_s: float = Field(960.0, gt=0, validation_alias="FT_ARCHIVER_LEASE")
    connect_timeout_s: float = Field(10.0, gt=0, validation_alias="FT_ARCHIVER_CONNECT_TIMEOUT")
    read_timeout_s: float = Field(60.0, gt=0, validation_alias="FT_ARCHIVER_READ_TIMEOUT")
    max_attempts: int = Field(5, ge=1, le=20, validation_alias="FT_ARCHIVER_MAX_ATTEMPTS")
    retry_base_delay_s: float = Field(0.5, ge=0, validation_alias="FT_ARCHIVER_RETRY_BASE_DELAY")
    retry_max_delay_s: float = Field(20.0, ge=0, validation_alias="FT_ARCHIVER_RETRY_MAX_DELAY")

    @field_validator("part_size", "part_size_floor", "memory_budget_setting", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> Any:
        return parse_size(value) if isinstance(value, str) else value

    @field_validator("archive_bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        return validate_bucket_name(value) if value else value

    @model_validator(mode="after")
    def _part_size_in_range(self) -> "Settings":
        check_part_size(self.part_size, self.part_size_floor)
        return self

    @field_validator("archive_since", mode="before")
    @classmethod
    def _empty_date(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("archive_checkpoints", "archive_checkpoint_types")
    @classmethod
    def _vocabulary(cls, value: str, info: Any) -> str:
        if info.field_name == "archive_checkpoints":
            parse_selection(value, None)
        else:
            parse_selection(None, value)
        return value

    @property
    def memory_budget(self) -> int:
        """Bytes of part buffers at most: FT_ARCHIVER_MEMORY_BUDGET when set; in Lambda the
        function's memory less the runtime's reserve; elsewhere 1 GiB."""
        if self.memory_budget_setting is not None:
            return self.memory_budget_setting
        return default_memory_budget(self.function_memory_mb)

    @property
    def selection(self) -> Selection:
        return parse_selection(self.archive_checkpoints, self.archive_checkpoint_types)

    @field_validator("together_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        refusal = base_url_refusal(value)
        if refusal is not None:
            raise ValueError(refusal)
        return value.rstrip("/")
