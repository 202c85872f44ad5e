"""Settings per function, read from the environment once.

Each Lambda function reads its own model, with what it cannot run without as required
fields: ``load`` checks them when the execution environment first asks for its settings
(the first invocation, before any work) and names every missing or invalid variable in
one ConfigurationError. The command line reads ``CliSettings``, in which every resource
is optional: each command checks what it needs (``list`` no Together key, ``backfill
--enqueue`` the queue), so a CLI user sets no table and no queue.

    FunctionSettings                 region, HTTP timeouts and retries, secret cache
    ├── WebhookSettings              the signing secret, the queue, the table, the prefix
    └── TogetherSettings             the Together API key (or its secret), the base URL
        ├── PollerSettings           the queue, the table, what to archive of each job
        └── ArchivingSettings        bucket, prefix, bus, parts, memory, leases
            ├── ArchiverSettings     bucket, table, queue required; the lease wait
            └── CliSettings          everything optional

boto3 reads its own variables (AWS_ENDPOINT_URL, AWS_REGION, credentials); nothing here
knows whether it talks to AWS or to an emulator.
"""

from datetime import date
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ft_archiver.domain.addresses import base_url_refusal
from ft_archiver.domain.naming import validate_bucket_name
from ft_archiver.domain.parts import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PART_SIZE,
    DEFAULT_UPLOAD_CONCURRENCY,
    PART_SIZE_FLOOR,
    check_part_size,
    default_memory_budget,
    parse_size,
)
from ft_archiver.domain.selection import Selection, parse_selection
from ft_archiver.errors import ConfigurationError

ChecksumAlgorithm = Literal["CRC64NVME", "CRC32C", "CRC32"]

# Variables of which one must be set, where a function requires it.
TOGETHER_KEY = ("TOGETHER_API_KEY", "TOGETHER_API_KEY_SECRET_NAME")
WEBHOOK_SECRET = ("WEBHOOK_SECRET", "WEBHOOK_SECRET_NAME")
MISSING_ONE_OF = "missing_one_of"


def _given(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value)


def _one_of(group: tuple[str, ...], value: Any, info: ValidationInfo, other: str) -> None:
    """Raise unless ``value`` (the group's last variable) or the field ``other`` is set.
    A field validator rather than a model one, so that it is reported along with every
    other missing variable, not only once they are all present."""
    if not _given(value) and not _given(info.data.get(other)):
        raise PydanticCustomError(MISSING_ONE_OF, "set {names}", {"names": " or ".join(group)})


class FunctionSettings(BaseSettings):
    """What every function reads: AWS's region, the HTTP timeouts and retries (Together's
    and AWS's alike), how long a secret read is cached, and where the state table and
    the archive queue are (optional here; a function that needs one requires it)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    # Who reads this model, for the error that names what is missing.
    FUNCTION: ClassVar[str] = "ft-archiver"
    # Groups of variables of which one must be set (the required fields are the others).
    REQUIRED_ONE_OF: ClassVar[tuple[tuple[str, ...], ...]] = ()

    aws_region: str | None = Field(None, validation_alias="AWS_REGION")
    secret_max_age_s: int = Field(300, ge=0, validation_alias="FT_ARCHIVER_SECRET_MAX_AGE")
    archive_queue_url: str | None = Field(None, validation_alias="ARCHIVE_QUEUE_URL")
    state_table_name: str | None = Field(None, validation_alias="STATE_TABLE_NAME")
    connect_timeout_s: float = Field(10.0, gt=0, validation_alias="FT_ARCHIVER_CONNECT_TIMEOUT")
    read_timeout_s: float = Field(60.0, gt=0, validation_alias="FT_ARCHIVER_READ_TIMEOUT")
    max_attempts: int = Field(5, ge=1, le=20, validation_alias="FT_ARCHIVER_MAX_ATTEMPTS")
    retry_base_delay_s: float = Field(0.5, ge=0, validation_alias="FT_ARCHIVER_RETRY_BASE_DELAY")
    retry_max_delay_s: float = Field(20.0, ge=0, validation_alias="FT_ARCHIVER_RETRY_MAX_DELAY")


class WebhookSettings(FunctionSettings):
    """WebhookFunction: verifies, remembers the webhook-id, enqueues. No Together."""

    FUNCTION: ClassVar[str] = "WebhookFunction"
    REQUIRED_ONE_OF: ClassVar[tuple[tuple[str, ...], ...]] = (WEBHOOK_SECRET,)

    archive_queue_url: str = Field(validation_alias="ARCHIVE_QUEUE_URL")
    state_table_name: str = Field(validation_alias="STATE_TABLE_NAME")
    # A webhook's explicit key must be in a folder under the archiver's prefix.
    archive_prefix: str = Field("", validation_alias="ARCHIVE_PREFIX")
    # In Lambda the secret comes from Secrets Manager by name (cached, so rotation works);
    # a direct value wins where one is set (local runs).
    webhook_secret: SecretStr | None = Field(None, validation_alias="WEBHOOK_SECRET")
    webhook_secret_name: str | None = Field(
        None, validation_alias="WEBHOOK_SECRET_NAME", validate_default=True
    )

    @field_validator("webhook_secret_name")
    @classmethod
    def _secret_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        _one_of(WEBHOOK_SECRET, value, info, "webhook_secret")
        return value


class TogetherSettings(FunctionSettings):
    """A function that talks to Together: the API key (in Lambda, the name of its secret)
    and the base URL."""

    together_api_key: SecretStr | None = Field(None, validation_alias="TOGETHER_API_KEY")
    together_api_key_secret_name: str | None = Field(
        None, validation_alias="TOGETHER_API_KEY_SECRET_NAME", validate_default=True
    )
    together_base_url: str = Field(
        "https://api.together.xyz/v1", validation_alias="TOGETHER_BASE_URL"
    )

    @field_validator("together_api_key_secret_name")
    @classmethod
    def _key_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        if TOGETHER_KEY in cls.REQUIRED_ONE_OF:
            _one_of(TOGETHER_KEY, value, info, "together_api_key")
        return value

    @field_validator("together_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        refusal = base_url_refusal(value)
        if refusal is not None:
            raise ValueError(refusal)
        return value.rstrip("/")

    @property
    def together_connections(self) -> int:
        """Connections kept open to Together and its storage."""
        return DEFAULT_CONCURRENCY + 4


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
    state_table_name: str = Field(validation_alias="STATE_TABLE_NAME")
    # Continuations past the 900 s deadline, and requests held elsewhere, go back here.
    archive_queue_url: str = Field(validation_alias="ARCHIVE_QUEUE_URL")
    # A request whose archive another invocation holds is asked again this much later, in
    # a fresh message (SQS delays a message 900 s at most).
    lease_wait_s: int = Field(900, ge=0, le=900, validation_alias="FT_ARCHIVER_LEASE_WAIT")


class CliSettings(ArchivingSettings):
    """The command line: every resource optional. The bucket (or --bucket) is checked by
    the commands that need it, the Together key when Together is first asked, the queue
    by ``backfill --enqueue``; without STATE_TABLE_NAME archives are not idempotent."""

    FUNCTION: ClassVar[str] = "ft-archiver"


Loaded = TypeVar("Loaded", bound=FunctionSettings)


def load(kind: type[Loaded]) -> Loaded:
    """``kind`` read from the environment, or one ConfigurationError that names every
    variable missing or invalid (one line: never pydantic's report, never a secret)."""
    try:
        return kind()
    except ValidationError as exc:
        raise ConfigurationError(f"{kind.FUNCTION} cannot start: {problems(exc)}") from None


def problems(exc: ValidationError) -> str:
    """A ValidationError in one line, by variable: "missing A, B or C; D: the rule"."""
    missing: list[str] = []
    invalid: list[str] = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            missing.append(where)
        elif error["type"] == MISSING_ONE_OF:
            missing.append(str((error.get("ctx") or {})["names"]))
        else:
            rule = str(error["msg"]).removeprefix("Value error, ")
            invalid.append(f"{where}: {rule}" if where else rule)
    found = ([f"missing {', '.join(sorted(missing))}"] if missing else []) + invalid
    return "; ".join(found)
