"""What every function's settings share, and how they are loaded.

A missing variable of a group of which one must be set (``require_one_of``) is reported
along with every other missing or invalid variable, in one line (``problems``).
"""

from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, Field, SecretStr, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ft_archiver.errors import ConfigurationError

# Variables of which one must be set, where a function requires it.
TOGETHER_KEY = ("TOGETHER_API_KEY", "TOGETHER_API_KEY_SECRET_NAME")
WEBHOOK_SECRET = ("WEBHOOK_SECRET", "WEBHOOK_SECRET_NAME")
MISSING_ONE_OF = "missing_one_of"


def _non_empty_prefix(value: str) -> str:
    if not value.strip():
        raise ValueError(
            "must not be empty: the functions write only under a prefix (e.g. models/), so "
            "that a webhook's explicit key reaches a folder under it, not the whole bucket"
        )
    return value


# ARCHIVE_PREFIX as the functions read it: required and never empty (the command line,
# whose --key an operator types, may write anywhere and reads it as optional).
ArchivePrefix = Annotated[str, AfterValidator(_non_empty_prefix)]


def _given(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value)


def require_one_of(group: tuple[str, ...], value: Any, info: ValidationInfo, other: str) -> None:
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
