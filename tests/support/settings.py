"""The archiver's configuration for tests, built one way: as the environment variables it
reads, from the Together simulator, the target, a tuning and a test's own overrides, in
that order. A child process or a local deployment takes them as its environment;
in-process, ``settings_from`` reads them as the archiver does."""

from collections.abc import Mapping
from typing import Any

from ft_archiver.settings import CliSettings
from ft_archiver_tools.local.simulator import TogetherSimulator

from .aws import PART_MIN_SIZE

# Parts as small as the emulator takes them, so that archives of a few hundred KiB
# already have several parts.
SMALL_PARTS = {
    "FT_ARCHIVER_PART_SIZE": "256KiB",
    "FT_ARCHIVER_PART_SIZE_FLOOR": str(PART_MIN_SIZE),
}
# Failures reported after one retry, with hardly a wait before it.
QUICK_RETRIES = {
    "FT_ARCHIVER_MAX_ATTEMPTS": "2",
    "FT_ARCHIVER_RETRY_BASE_DELAY": "0.01",
}
TEST_TUNING = {**SMALL_PARTS, **QUICK_RETRIES}


def archiver_variables(
    together: TogetherSimulator | None = None,
    *,
    bucket: str | None = None,
    prefix: str | None = None,
    bus: str | None = None,
    tuning: Mapping[str, str] = TEST_TUNING,
    **overrides: str | int | float,
) -> dict[str, str]:
    """The variables for an archiver that reads from ``together`` and writes to
    ``bucket`` (under ``prefix``) and ``bus``, tuned by ``tuning`` (the product's own
    defaults where it names nothing), then ``overrides`` (by variable name)."""
    variables: dict[str, str] = {}
    if together is not None:
        variables["TOGETHER_API_KEY"] = together.api_key
        variables["TOGETHER_BASE_URL"] = together.base_url
    target = {"ARCHIVE_BUCKET": bucket, "ARCHIVE_PREFIX": prefix, "EVENT_BUS_NAME": bus}
    variables.update({name: value for name, value in target.items() if value is not None})
    variables.update(tuning)
    variables.update({name: str(value) for name, value in overrides.items()})
    return variables


def settings_from(variables: Mapping[str, str]) -> CliSettings:
    """The variables read as the command line's archiver reads its environment (every
    resource optional); the process's own environment fills in what they leave out."""
    values: dict[str, Any] = dict(variables)
    return CliSettings(**values)
