"""What a function that writes into the archive bucket reads: the bucket, its prefix and
the bus of the result events; the parts, lanes and memory of the transfer engine, the
checksum S3 checks, the deadline and how often a job may continue past it. The base of
archiving's settings and of the unpacker's."""

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ft_archiver.domain.checksums import COMPOSITE_ALGORITHMS, ChecksumMode
from ft_archiver.domain.naming import validate_bucket_name
from ft_archiver.domain.parts import (
    DEFAULT_PART_SIZE,
    DEFAULT_UPLOAD_CONCURRENCY,
    PART_SIZE_FLOOR,
    check_part_size,
    default_memory_budget,
    parse_size,
)
from ft_archiver.settings.base import FunctionSettings

ChecksumAlgorithm = Literal["CRC64NVME", "CRC32C", "CRC32"]


class TransferSettings(FunctionSettings):
    archive_bucket: str | None = Field(None, validation_alias="ARCHIVE_BUCKET")
    archive_prefix: str = Field("", validation_alias="ARCHIVE_PREFIX")
    event_bus_name: str = Field("default", validation_alias="EVENT_BUS_NAME")

    part_size: int = Field(DEFAULT_PART_SIZE, validation_alias="FT_ARCHIVER_PART_SIZE")
    # Lowered only against emulators that accept small parts (moto's S3_UPLOAD_PART_MIN_SIZE).
    part_size_floor: int = Field(PART_SIZE_FLOOR, validation_alias="FT_ARCHIVER_PART_SIZE_FLOOR")
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
    # What the store is asked to check (domain/checksums.py): full-object, composite
    # (CRC32C unless FT_ARCHIVER_CHECKSUM_ALGORITHM says CRC32), or none (read back).
    checksum_mode: ChecksumMode = Field("full-object", validation_alias="FT_ARCHIVER_CHECKSUM_MODE")
    # Stop taking new parts when the Lambda has less than this left, and continue in a new
    # invocation: enough to finish the parts under way and save progress.
    deadline_margin_s: float = Field(60.0, ge=0, validation_alias="FT_ARCHIVER_DEADLINE_MARGIN")
    # How many times one job may continue in a new invocation; at the next deadline
    # beyond that it fails (upload aborted, failure event). The stack's MaxContinuations.
    max_continuations: int = Field(100, ge=0, validation_alias="FT_ARCHIVER_MAX_CONTINUATIONS")

    @field_validator("part_size", "part_size_floor", "memory_budget_setting", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> Any:
        return parse_size(value) if isinstance(value, str) else value

    @field_validator("archive_bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        return validate_bucket_name(value) if value else value

    @model_validator(mode="after")
    def _part_size_in_range(self) -> "TransferSettings":
        check_part_size(self.part_size, self.part_size_floor)
        return self

    @model_validator(mode="before")
    @classmethod
    def _composite_algorithm(cls, data: Any) -> Any:
        """S3 keeps CRC64NVME as a full-object checksum only: composite takes CRC32C
        (chosen when no algorithm is set) or CRC32."""
        if not isinstance(data, dict):
            return data
        given = {str(name).lower(): name for name in data}
        mode = next((data[given[n]] for n in ("ft_archiver_checksum_mode", "checksum_mode")
                     if n in given), None)  # fmt: skip
        if mode != "composite":
            return data
        names = [given[n] for n in ("ft_archiver_checksum_algorithm", "checksum_algorithm")
                 if n in given]  # fmt: skip
        if not names:
            return {**data, "FT_ARCHIVER_CHECKSUM_ALGORITHM": "CRC32C"}
        algorithm = data[names[0]]
        if algorithm not in COMPOSITE_ALGORITHMS:
            raise ValueError(
                f"FT_ARCHIVER_CHECKSUM_MODE=composite takes CRC32C or CRC32, not {algorithm} "
                "(S3 has it as a full-object checksum only)"
            )
        return data

    @property
    def memory_budget(self) -> int:
        """Bytes of part buffers at most: FT_ARCHIVER_MEMORY_BUDGET when set; in Lambda the
        function's memory less the runtime's reserve; elsewhere 1 GiB."""
        if self.memory_budget_setting is not None:
            return self.memory_budget_setting
        return default_memory_budget(self.function_memory_mb)
