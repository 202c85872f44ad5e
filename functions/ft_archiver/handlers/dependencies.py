"""What the handlers use, built once per execution environment (cold start) and reused.

Each function reads its own settings; a required variable that is missing fails the
first call, i.e. the execution environment's first invocation, with one
ConfigurationError naming it (see ``ft_archiver.settings.load``).
"""

from functools import cache

from ft_archiver.adapters.bucket_check import lifecycle_warning
from ft_archiver.adapters.queue import SqsArchiveQueue
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.observability import logger, tracer
from ft_archiver.service.archive import Archiver
from ft_archiver.service.intake import WebhookIntake
from ft_archiver.service.poller import Poller
from ft_archiver.settings import ArchiverSettings, PollerSettings, WebhookSettings, load
from ft_archiver.wiring import (
    aws_client,
    build_archiver,
    build_intake,
    build_poller,
    together_client,
)


@cache
def webhook_settings() -> WebhookSettings:
    return load(WebhookSettings)


@cache
def archiver_settings() -> ArchiverSettings:
    return load(ArchiverSettings)


@cache
def poller_settings() -> PollerSettings:
    return load(PollerSettings)


@cache
def webhook_intake() -> WebhookIntake:
    return build_intake(webhook_settings())


@cache
def archiver() -> Archiver:
    settings = archiver_settings()
    built = build_archiver(settings, span=tracer.provider.in_subsegment)
    # once per cold start: an existing bucket may keep abandoned uploads
    problem = lifecycle_warning(
        aws_client("s3", settings), settings.archive_bucket, settings.archive_prefix
    )
    if problem:
        logger.warning(problem)
    return built


@cache
def together() -> TogetherClient:
    return together_client(archiver_settings())


@cache
def poller() -> Poller:
    return build_poller(poller_settings())


@cache
def continuation_queue() -> SqsArchiveQueue:
    settings = archiver_settings()
    return SqsArchiveQueue(aws_client("sqs", settings), settings.archive_queue_url)


def reset() -> None:
    """Forget everything built, as a new execution environment would (local runs, tests)."""
    from aws_lambda_powertools.utilities import parameters

    for built in (
        webhook_settings, archiver_settings, poller_settings,
        webhook_intake, archiver, together, poller, continuation_queue,
    ):  # fmt: skip
        built.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # a new environment reads afresh
