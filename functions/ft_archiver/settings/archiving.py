"""Archiving's settings: ArchiverFunction's, and the command line's."""

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ft_archiver.domain.distributed_defaults import DEFAULT_FAN_OUT_THRESHOLD_GIB
from ft_archiver.domain.naming import validate_bucket_name
from ft_archiver.domain.parts import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ARCHIVE_GIB,
    DEFAULT_PART_SIZE,
    DEFAULT_UPLOAD_CONCURRENCY,
    GIB,
    PART_SIZE_FLOOR,
    check_part_size,
    default_memory_budget,
    parse_size,
)
from ft_archiver.settings.base import TOGETHER_KEY, ArchivePrefix
from ft_archiver.settings.together import TogetherSettings

ChecksumAlgorithm = Literal["CRC64NVME", "CRC32C", "CRC32"]


class ArchivingSettings(TogetherSettings):
    """What archiving reads, in Lambda or on the command line: the destination, the
    result events, the transfer's parts, lanes and memory, and the state table's leases."""

    archive_bucket: str | None = Field(None, validation_alias="ARCHIVE_BUCKET")
    archive_prefix: str = Field("", validation_alias="ARCHIVE_PREFIX")
    event_bus_name: str = Field("default", validation_alias="EVENT_BUS_NAME")

    part_size: int = Field(DEFAULT_PART_SIZE, validation_alias="FT_ARCHIVER_PART_SIZE")
    # Lowered only against emulators that accept small parts (moto's S3_UPLOAD_PART_MIN_SIZE).
    part_size_floor: int = Field(PART_SIZE_FLOOR, validation_alias="FT_ARCHIVER_PART_SIZE_FLOOR")
    concurrency: int = Field(
        DEFAULT_CONCURRENCY, ge=1, le=64, validation_alias="FT_ARCHIVER_CONCURRENCY"
    )
    upload_concurrency: int = Field(
        DEFAULT_UPLOAD_CONCURRENCY, ge=1, le=64, validation_alias="FT_ARCHIVER_UPLOAD_CONCURRENCY"
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
    # The largest archive taken, in GiB (the stack's MaxArchiveGiB); 0: no limit. Checked
    # on the probed size, before any byte moves.
    max_archive_gib: float = Field(
        DEFAULT_MAX_ARCHIVE_GIB, ge=0, validation_alias="FT_ARCHIVER_MAX_ARCHIVE_GIB"
    )

    # Stop taking new parts when the Lambda has less than this left, and continue in a new
    # invocation: enough to finish the parts under way and save progress.
    deadline_margin_s: float = Field(60.0, ge=0, validation_alias="FT_ARCHIVER_DEADLINE_MARGIN")
    # How many times one archive may continue in a new invocation; at the next deadline
    # beyond that it fails (upload aborted, failure event). The stack's MaxContinuations.
    max_continuations: int = Field(100, ge=0, validation_alias="FT_ARCHIVER_MAX_CONTINUATIONS")
    # How long a claim on an archive holds if its holder dies: past the function's 900 s.
    lease_s: float = Field(960.0, gt=0, validation_alias="FT_ARCHIVER_LEASE")

    @field_validator("part_size", "part_size_floor", "memory_budget_setting", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> Any:
        return parse_size(value) if isinstance(value, str) else value

    @field_validator("archive_bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        return validate_bucket_name(value) if value else value

    @model_validator(mode="after")
    def _part_size_in_range(self) -> "ArchivingSettings":
        check_part_size(self.part_size, self.part_size_floor)
        return self

    @property
    def memory_budget(self) -> int:
        """Bytes of part buffers at most: FT_ARCHIVER_MEMORY_BUDGET when set; in Lambda the
        function's memory less the runtime's reserve; elsewhere 1 GiB."""
        if self.memory_budget_setting is not None:
            return self.memory_budget_setting
        return default_memory_budget(self.function_memory_mb)

    @property
    def together_connections(self) -> int:
        """The ranged GETs' connections, and a few for the API calls beside them."""
        return self.concurrency + 4


class ArchiverSettings(ArchivingSettings):
    """ArchiverFunction: archives what ArchiveQueue delivers, and continues through it."""

    FUNCTION: ClassVar[str] = "ArchiverFunction"
    REQUIRED_ONE_OF: ClassVar[tuple[tuple[str, ...], ...]] = (TOGETHER_KEY,)

    archive_bucket: str = Field(validation_alias="ARCHIVE_BUCKET")
    archive_prefix: ArchivePrefix = Field(validation_alias="ARCHIVE_PREFIX")
    state_table_name: str = Field(validation_alias="STATE_TABLE_NAME")
    # Continuations past the 900 s deadline, and requests held elsewhere, go back here.
    archive_queue_url: str = Field(validation_alias="ARCHIVE_QUEUE_URL")
    # A request whose archive another invocation holds is asked again this much later, in
    # a fresh message (SQS delays a message 900 s at most).
    lease_wait_s: int = Field(900, ge=0, le=900, validation_alias="FT_ARCHIVER_LEASE_WAIT")
    # Archives of at least this size go to the distributed state machine, when it is set
    # (the stack's FanOutThreshold, in GiB).
    state_machine_arn: str | None = Field(None, validation_alias="ARCHIVE_STATE_MACHINE_ARN")
    fan_out_threshold_gib: float = Field(
        DEFAULT_FAN_OUT_THRESHOLD_GIB, gt=0, validation_alias="FT_ARCHIVER_FAN_OUT_THRESHOLD_GIB"
    )

    @property
    def fan_out_threshold(self) -> int:
        return int(self.fan_out_threshold_gib * GIB)


class CliSettings(ArchivingSettings):
    """The command line: every resource optional. The bucket (or --bucket) is checked by
    the commands that need it, the Together key when Together is first asked, the queue
    by ``backfill --enqueue``; without STATE_TABLE_NAME archives are not idempotent."""

    FUNCTION: ClassVar[str] = "ft-archiver"

    # Where ``unpack`` puts an archive's folder and index; unset: beside the archives,
    # under ARCHIVE_PREFIX.
    unpack_prefix_setting: str | None = Field(None, validation_alias="UNPACK_PREFIX")

    @property
    def unpack_prefix(self) -> str:
        """UNPACK_PREFIX when set, else ARCHIVE_PREFIX."""
        if self.unpack_prefix_setting is not None:
            return self.unpack_prefix_setting
        return self.archive_prefix
