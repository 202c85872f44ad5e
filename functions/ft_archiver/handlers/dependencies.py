"""What the handlers use, built once per execution environment (cold start) and reused.

Each function reads its own settings; a required variable that is missing fails the
first call, i.e. the execution environment's first invocation, with one
ConfigurationError naming it (see ``ft_archiver.settings.load``). What a function
builds from them lives in its handler module, marked ``per_environment``, so that a
function imports the adapters it uses and no others (the webhook no transfer engine,
no requests, no ctypes), and its own settings model only; ``reset`` forgets all of it.
"""

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from ft_archiver.settings.base import load

if TYPE_CHECKING:  # each imported by its own function only: see the module's docstring
    from ft_archiver.settings.archive_steps import ArchiveStepsSettings
    from ft_archiver.settings.archiving import ArchiverSettings
    from ft_archiver.settings.importer import ImporterSettings
    from ft_archiver.settings.poller import PollerSettings
    from ft_archiver.settings.unpacker import UnpackerSettings
    from ft_archiver.settings.webhook import WebhookSettings

Built = TypeVar("Built")
_forget: list[Callable[[], None]] = []


def per_environment(build: Callable[[], Built]) -> Callable[[], Built]:
    """``build`` runs on the first call; later calls reuse what it returned."""
    cached = cache(build)
    _forget.append(cached.cache_clear)
    return cached


@per_environment
def webhook_settings() -> "WebhookSettings":
    from ft_archiver.settings.webhook import WebhookSettings

    return load(WebhookSettings)


@per_environment
def archiver_settings() -> "ArchiverSettings":
    from ft_archiver.settings.archiving import ArchiverSettings

    return load(ArchiverSettings)


@per_environment
def archive_steps_settings() -> "ArchiveStepsSettings":
    from ft_archiver.settings.archive_steps import ArchiveStepsSettings

    return load(ArchiveStepsSettings)


@per_environment
def poller_settings() -> "PollerSettings":
    from ft_archiver.settings.poller import PollerSettings

    return load(PollerSettings)


@per_environment
def unpacker_settings() -> "UnpackerSettings":
    from ft_archiver.settings.unpacker import UnpackerSettings

    return load(UnpackerSettings)


@per_environment
def importer_settings() -> "ImporterSettings":
    from ft_archiver.settings.importer import ImporterSettings

    return load(ImporterSettings)


def reset() -> None:
    """Forget everything built, as a new execution environment would (local runs, tests)."""
    from aws_lambda_powertools.utilities import parameters

    for forget in _forget:
        forget()
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # a new environment reads afresh
