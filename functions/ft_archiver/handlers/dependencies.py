"""What the handlers use, built once per execution environment (cold start) and reused."""

from functools import cache

from ft_archiver.observability import tracer
from ft_archiver.service.archive import Archiver
from ft_archiver.service.intake import WebhookIntake
from ft_archiver.settings import Settings
from ft_archiver.wiring import build_archiver, build_intake


@cache
def settings() -> Settings:
    return Settings()


@cache
def webhook_intake() -> WebhookIntake:
    return build_intake(settings())


@cache
def archiver() -> Archiver:
    return build_archiver(settings(), span=tracer.provider.in_subsegment)


def reset() -> None:
    """Forget everything built, as a new execution environment would (local runs, tests)."""
    for built in (settings, webhook_intake, archiver):
        built.cache_clear()
