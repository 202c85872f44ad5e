"""What the handlers use, built once per execution environment (cold start) and reused."""

from functools import cache

from ft_archiver.adapters.bucket_check import lifecycle_warning
from ft_archiver.adapters.queue import SqsArchiveQueue
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.errors import ConfigurationError
from ft_archiver.observability import logger, tracer
from ft_archiver.service.archive import Archiver
from ft_archiver.service.intake import WebhookIntake
from ft_archiver.service.poller import Poller
from ft_archiver.settings import Settings
from ft_archiver.wiring import (
    aws_client,
    build_archiver,
    build_intake,
    build_poller,
    together_client,
)


@cache
def settings() -> Settings:
    return Settings()


@cache
def webhook_intake() -> WebhookIntake:
    return build_intake(settings())


@cache
def archiver() -> Archiver:
    built = build_archiver(settings(), span=tracer.provider.in_subsegment)
    bucket = settings().archive_bucket
    if bucket:  # once per cold start: an existing bucket may keep abandoned uploads
        problem = lifecycle_warning(aws_client("s3", settings()), bucket, settings().archive_prefix)
        if problem:
            logger.warning(problem)
    return built


@cache
def together() -> TogetherClient:
    return together_client(settings())


@cache
def poller() -> Poller:
    return build_poller(settings())


@cache
def continuation_queue() -> SqsArchiveQueue:
    queue_url = settings().archive_queue_url
    if not queue_url:
        raise ConfigurationError("ARCHIVE_QUEUE_URL is not set: cannot continue an archive")
    return SqsArchiveQueue(aws_client("sqs", settings()), queue_url)


def reset() -> None:
    """Forget everything built, as a new execution environment would (local runs, tests)."""
    from aws_lambda_powertools.utilities import parameters

    for built in (settings, webhook_intake, archiver, together, poller, continuation_queue):
        built.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # a new environment reads afresh
