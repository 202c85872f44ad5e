"""The settings models read from the environment, as Lambda and the command line give it:
one per function, each requiring what its function cannot run without."""

import pytest

from ft_archiver.domain.parts import GIB, MIB
from ft_archiver.domain.redelivery import SQS_MAX_DELAY_S
from ft_archiver.errors import ConfigurationError
from ft_archiver.settings import (
    ArchiverSettings,
    ArchiveStepsSettings,
    CliSettings,
    FunctionSettings,
    PollerSettings,
    WebhookSettings,
    load,
)

KINDS: list[type[FunctionSettings]] = [
    WebhookSettings, ArchiverSettings, ArchiveStepsSettings, PollerSettings, CliSettings,
]  # fmt: skip
# What ArchiverFunction's template gives it, less the optional variables.
ARCHIVER = {
    "ARCHIVE_BUCKET": "my-models",
    "ARCHIVE_PREFIX": "models/",
    "STATE_TABLE_NAME": "ft-archiver-state",
    "ARCHIVE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/archive",
    "TOGETHER_API_KEY_SECRET_NAME": "ft-archiver/together-api-key",
}


@pytest.fixture(autouse=True)
def _none_of_ours_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable any settings model reads, unset: each test sets its own."""
    for kind in KINDS:
        for field in kind.model_fields.values():
            if isinstance(field.validation_alias, str):
                monkeypatch.delenv(field.validation_alias, raising=False)


def setenv(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def archiver_without(name: str) -> dict[str, str]:
    return {variable: value for variable, value in ARCHIVER.items() if variable != name}


def test_in_lambda_the_budget_follows_the_function_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")  # as Lambda sets it
    assert CliSettings().memory_budget == 768 * MIB
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    assert CliSettings().memory_budget == (3008 - 256) * MIB


def test_outside_lambda_the_budget_is_1_gib() -> None:
    assert CliSettings().memory_budget == GIB


def test_an_explicit_budget_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
    monkeypatch.setenv("FT_ARCHIVER_MEMORY_BUDGET", "512MiB")
    assert CliSettings().memory_budget == 512 * MIB


def test_a_budget_of_nothing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_ARCHIVER_MEMORY_BUDGET", "0")
    with pytest.raises(ValueError, match="FT_ARCHIVER_MEMORY_BUDGET"):
        CliSettings()


def test_a_request_held_elsewhere_is_asked_again_after_sqs_longest_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setenv(monkeypatch, ARCHIVER)
    assert ArchiverSettings().lease_wait_s == SQS_MAX_DELAY_S == 900
    monkeypatch.setenv("FT_ARCHIVER_LEASE_WAIT", "901")  # more than SendMessage allows
    with pytest.raises(ValueError, match="FT_ARCHIVER_LEASE_WAIT"):
        ArchiverSettings()


# -- what each function requires, checked when it first reads its settings ---------------


def test_the_archiver_without_any_of_its_variables_names_them_all_in_one_line() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load(ArchiverSettings)
    assert str(refused.value) == (
        "ArchiverFunction cannot start: missing ARCHIVE_BUCKET, ARCHIVE_PREFIX, "
        "ARCHIVE_QUEUE_URL, STATE_TABLE_NAME, TOGETHER_API_KEY or TOGETHER_API_KEY_SECRET_NAME"
    )
    assert refused.value.__cause__ is None  # pydantic's report is not chained into the log
    assert refused.value.__suppress_context__


def test_an_archiver_without_its_queue_fails_at_once_not_at_its_first_continuation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setenv(monkeypatch, archiver_without("ARCHIVE_QUEUE_URL"))
    with pytest.raises(ConfigurationError) as refused:
        load(ArchiverSettings)
    assert str(refused.value) == "ArchiverFunction cannot start: missing ARCHIVE_QUEUE_URL"


def test_a_missing_and_an_invalid_variable_are_named_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setenv(monkeypatch, archiver_without("STATE_TABLE_NAME"))
    monkeypatch.setenv("FT_ARCHIVER_LEASE_WAIT", "901")
    with pytest.raises(ConfigurationError) as refused:
        load(ArchiverSettings)
    assert str(refused.value) == (
        "ArchiverFunction cannot start: missing STATE_TABLE_NAME; "
        "FT_ARCHIVER_LEASE_WAIT: Input should be less than or equal to 900"
    )


@pytest.mark.parametrize("key", ["TOGETHER_API_KEY", "TOGETHER_API_KEY_SECRET_NAME"])
def test_the_archiver_takes_the_key_or_the_name_of_its_secret(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    setenv(monkeypatch, archiver_without("TOGETHER_API_KEY_SECRET_NAME"))
    monkeypatch.setenv(key, "value")
    settings = load(ArchiverSettings)
    assert settings.archive_bucket == "my-models"
    assert settings.state_table_name == "ft-archiver-state"
    assert settings.archive_queue_url == ARCHIVER["ARCHIVE_QUEUE_URL"]


def test_an_empty_key_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(monkeypatch, archiver_without("TOGETHER_API_KEY_SECRET_NAME"))
    monkeypatch.setenv("TOGETHER_API_KEY", "")
    with pytest.raises(ConfigurationError, match="missing TOGETHER_API_KEY or"):
        load(ArchiverSettings)


def test_the_webhook_needs_its_secret_queue_and_table_and_nothing_of_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load(WebhookSettings)
    assert str(refused.value) == (
        "WebhookFunction cannot start: missing ARCHIVE_PREFIX, ARCHIVE_QUEUE_URL, "
        "STATE_TABLE_NAME, WEBHOOK_SECRET or WEBHOOK_SECRET_NAME"
    )
    setenv(monkeypatch, {
        "ARCHIVE_QUEUE_URL": "https://q", "STATE_TABLE_NAME": "t", "ARCHIVE_PREFIX": "models/",
        "WEBHOOK_SECRET_NAME": "ft-archiver/webhook-secret",
    })  # fmt: skip
    settings = load(WebhookSettings)
    assert settings.webhook_secret_name == "ft-archiver/webhook-secret"
    assert not hasattr(settings, "together_api_key")
    assert not hasattr(settings, "archive_bucket")


# What each function that writes or confines keys reads, less ARCHIVE_PREFIX.
PREFIXED: dict[type[FunctionSettings], dict[str, str]] = {
    ArchiverSettings: archiver_without("ARCHIVE_PREFIX"),
    ArchiveStepsSettings: {"ARCHIVE_BUCKET": "my-models", "STATE_TABLE_NAME": "t",
                           "TOGETHER_API_KEY_SECRET_NAME": "k"},
    WebhookSettings: {"ARCHIVE_QUEUE_URL": "https://q", "STATE_TABLE_NAME": "t",
                      "WEBHOOK_SECRET_NAME": "s"},
}  # fmt: skip


@pytest.mark.parametrize("kind", list(PREFIXED))
@pytest.mark.parametrize("prefix", [None, "", "  "])
def test_a_function_without_an_archive_prefix_does_not_start(
    monkeypatch: pytest.MonkeyPatch, kind: type[FunctionSettings], prefix: str | None
) -> None:
    """With an empty prefix a webhook's explicit key could be any key in a folder of the
    bucket: every other archive, and whatever else the bucket holds."""
    setenv(monkeypatch, PREFIXED[kind])
    if prefix is not None:
        monkeypatch.setenv("ARCHIVE_PREFIX", prefix)
    with pytest.raises(ConfigurationError) as refused:
        load(kind)
    message = str(refused.value)
    assert message.startswith(f"{kind.FUNCTION} cannot start: ")
    if prefix is None:
        assert message.endswith("missing ARCHIVE_PREFIX")
    else:
        assert "ARCHIVE_PREFIX: must not be empty" in message
    monkeypatch.setenv("ARCHIVE_PREFIX", "models/")
    assert load(kind).archive_prefix == "models/"  # type: ignore[attr-defined]


def test_the_command_line_may_write_without_a_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVE_PREFIX", "")
    assert load(CliSettings).archive_prefix == ""


def test_the_poller_needs_the_key_queue_and_table(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load(PollerSettings)
    assert str(refused.value) == (
        "PollerFunction cannot start: missing ARCHIVE_QUEUE_URL, STATE_TABLE_NAME, "
        "TOGETHER_API_KEY or TOGETHER_API_KEY_SECRET_NAME"
    )
    setenv(monkeypatch, {"ARCHIVE_QUEUE_URL": "https://q", "STATE_TABLE_NAME": "t",
                         "TOGETHER_API_KEY_SECRET_NAME": "k"})  # fmt: skip
    assert load(PollerSettings).selection.label == "final/default"


def test_the_command_line_needs_no_table_no_queue_and_no_key() -> None:
    settings = load(CliSettings)
    assert settings.state_table_name is None
    assert settings.archive_queue_url is None
    assert settings.archive_bucket is None  # --bucket, checked by the commands that need it
    assert settings.together_api_key is None  # `list` never asks Together


# -- the checksum mode ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "mode", "algorithm"),
    [
        ({}, "full-object", "CRC64NVME"),
        ({"FT_ARCHIVER_CHECKSUM_MODE": "composite"}, "composite", "CRC32C"),
        ({"FT_ARCHIVER_CHECKSUM_MODE": "composite", "FT_ARCHIVER_CHECKSUM_ALGORITHM": "CRC32"},
         "composite", "CRC32"),
        ({"FT_ARCHIVER_CHECKSUM_MODE": "none"}, "none", "CRC64NVME"),
        ({"FT_ARCHIVER_CHECKSUM_ALGORITHM": "CRC32C"}, "full-object", "CRC32C"),
    ],
)  # fmt: skip
def test_the_checksum_mode_picks_an_algorithm_the_store_keeps_that_way(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], mode: str, algorithm: str
) -> None:
    setenv(monkeypatch, {**ARCHIVER, **variables})
    settings = load(ArchiverSettings)
    assert (settings.checksum_mode, settings.checksum_algorithm) == (mode, algorithm)


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"FT_ARCHIVER_CHECKSUM_MODE": "composite", "FT_ARCHIVER_CHECKSUM_ALGORITHM": "CRC64NVME"},
         "composite takes CRC32C or CRC32, not CRC64NVME (S3 has it as a full-object checksum "
         "only)"),
        ({"FT_ARCHIVER_CHECKSUM_MODE": "partial"},
         "FT_ARCHIVER_CHECKSUM_MODE: Input should be 'full-object', 'composite' or 'none'"),
    ],
)  # fmt: skip
def test_a_checksum_mode_the_store_cannot_keep_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], problem: str
) -> None:
    setenv(monkeypatch, {**ARCHIVER, **variables})
    with pytest.raises(ConfigurationError) as refused:
        load(ArchiverSettings)
    assert problem in str(refused.value)
    assert "\n" not in str(refused.value)
