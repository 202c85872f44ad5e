"""ArchiveStepsFunction's settings: the distributed archive's steps."""

from typing import Any, ClassVar

from pydantic import Field, field_validator

from ft_archiver.domain.distributed_defaults import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_VERIFY_SHA256_UP_TO,
    DEFAULT_WORKERS,
)
from ft_archiver.domain.parts import parse_size
from ft_archiver.settings.archiving import ArchivingSettings
from ft_archiver.settings.base import TOGETHER_KEY, ArchivePrefix


class ArchiveStepsSettings(ArchivingSettings):
    """Each step of the state machine: the bucket and the table required; how the archive
    is spread (the Map's workers, the batches' size, the batch invocations' timeout) and
    up to which size it is read back for its whole SHA-256."""

    FUNCTION: ClassVar[str] = "ArchiveStepsFunction"
    REQUIRED_ONE_OF: ClassVar[tuple[tuple[str, ...], ...]] = (TOGETHER_KEY,)

    archive_bucket: str = Field(validation_alias="ARCHIVE_BUCKET")
    archive_prefix: ArchivePrefix = Field(validation_alias="ARCHIVE_PREFIX")
    state_table_name: str = Field(validation_alias="STATE_TABLE_NAME")
    distributed_workers: int = Field(
        DEFAULT_WORKERS, ge=1, le=10_000, validation_alias="FT_ARCHIVER_DISTRIBUTED_WORKERS"
    )
    distributed_batch_bytes: int = Field(
        DEFAULT_BATCH_BYTES, gt=0, validation_alias="FT_ARCHIVER_DISTRIBUTED_BATCH_SIZE"
    )
    # The function's timeout: a batch invocation that takes longer is presumed dead and
    # its batch retried (the state machine's TimeoutSecondsPath).
    distributed_batch_timeout_s: int = Field(
        900, ge=1, validation_alias="FT_ARCHIVER_DISTRIBUTED_BATCH_TIMEOUT"
    )
    verify_sha256_up_to: int = Field(
        DEFAULT_VERIFY_SHA256_UP_TO, ge=0, validation_alias="FT_ARCHIVER_VERIFY_SHA256_UP_TO"
    )

    @field_validator("distributed_batch_bytes", "verify_sha256_up_to", mode="before")
    @classmethod
    def _byte_sizes(cls, value: Any) -> Any:
        return parse_size(value) if isinstance(value, str) else value
