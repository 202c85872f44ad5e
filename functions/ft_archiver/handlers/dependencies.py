"""What the handlers use, built once per execution environment (cold start) and reused.

Each function reads its own settings; a required variable that is missing fails the
first call, i.e. the execution environment's first invocation, with one
ConfigurationError naming it (see ``ft_archiver.settings.load``). What a function
builds from them lives in its handler module, marked ``per_environment``, so that a
function imports the adapters it uses and no others (the webhook no transfer engine,
no requests, no ctypes); ``reset`` forgets all of it.
"""

from collections.abc import Callable
from functools import cache
from typing import TypeVar

from ft_archiver.settings import (
    ArchiverSettings,
    ArchiveStepsSettings,
    PollerSettings,
    UnpackerSettings,
    WebhookSettings,
    load,
)

Built = TypeVar("Built")
_forget: list[Callable[[], None]] = []


def per_environment(build: Callable[[], Built]) -> Callable[[], Built]:
    """``build`` runs on the first call; later calls reuse what it returned."""
    cached = cache(build)
    _forget.append(cached.cache_clear)
    return cached


@per_environment
def webhook_settings() -> WebhookSettings:
    return load(WebhookSettings)


@per_environment
def archiver_settings() -> ArchiverSettings:
    return load(ArchiverSettings)


@per_environment
def archive_steps_settings() -> ArchiveStepsSettings:
    return load(ArchiveStepsSettings)


@per_environment
def poller_settings() -> PollerSettings:
    return load(PollerSettings)


@per_environment
def unpacker_settings() -> UnpackerSettings:
    return load(UnpackerSettings)


def reset() -> None:
    """Forget everything built, as a new execution environment would (local runs, tests)."""
    from aws_lambda_powertools.utilities import parameters

    for forget in _forget:
        forget()
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # a new environment reads afresh
