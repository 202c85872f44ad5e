"""Builds the archiver's adapters from the settings: the one place that knows them all."""

from typing import Any

import boto3
from botocore.config import Config

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.events import EventBridgePublisher, NoEvents
from ft_archiver.adapters.poll_state import DynamoPollLedger
from ft_archiver.adapters.queue import SqsArchiveQueue
from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_catalog import S3Catalog
from ft_archiver.adapters.state import DynamoStateStore
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.webhook import decode_secret
from ft_archiver.errors import ConfigurationError
from ft_archiver.service.archive import Archiver, Span, TransferOptions, no_span
from ft_archiver.service.catalog import READERS, Catalog
from ft_archiver.service.intake import WebhookIntake
from ft_archiver.service.poller import Poller
from ft_archiver.settings import (
    ArchivingSettings,
    FunctionSettings,
    PollerSettings,
    TogetherSettings,
    WebhookSettings,
)


def aws_region(settings: FunctionSettings) -> str:
    """boto3's own region (AWS_DEFAULT_REGION, then ~/.aws/config), else AWS_REGION, which
    Lambda and most SDKs set but botocore does not read."""
    region = boto3.session.Session().region_name or settings.aws_region
    if not region:
        raise ConfigurationError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)")
    return region


def aws_client(service: str, settings: FunctionSettings, pool_size: int = 10) -> Any:
    """boto3 reads AWS_ENDPOINT_URL and credentials itself; the region is ours to check."""
    config = Config(
        max_pool_connections=pool_size,
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        # We send our own full-object CRCs; botocore must not add a second checksum.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    region = aws_region(settings)
    return boto3.client(service, config=config, region_name=region)  # type: ignore[call-overload]


def _secret(name: str, settings: FunctionSettings) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(name, max_age=settings.secret_max_age_s)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(
            f"secret {name!r} could not be read ({type(exc).__name__})"
        ) from None
    return value if isinstance(value, str) else str(value)


def together_api_key(settings: TogetherSettings) -> str:
    if settings.together_api_key is not None and settings.together_api_key.get_secret_value():
        return settings.together_api_key.get_secret_value()
    if settings.together_api_key_secret_name:
        return _secret(settings.together_api_key_secret_name, settings).strip()
    raise ConfigurationError("TOGETHER_API_KEY is not set")


def webhook_signing_keys(settings: WebhookSettings) -> list[bytes]:
    """Every secret in the value, space-separated, so a sender can rotate without downtime."""
    if settings.webhook_secret is not None:
        value = settings.webhook_secret.get_secret_value()
    elif settings.webhook_secret_name:
        value = _secret(settings.webhook_secret_name, settings)
    else:
        raise ConfigurationError("neither WEBHOOK_SECRET nor WEBHOOK_SECRET_NAME is set")
    try:
        return [decode_secret(part) for part in value.split()]
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def together_client(settings: TogetherSettings) -> TogetherClient:
    return TogetherClient(
        together_api_key(settings),
        settings.together_base_url,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        retry=RetryPolicy(
            settings.max_attempts, settings.retry_base_delay_s, settings.retry_max_delay_s
        ),
        pool_size=settings.together_connections,
    )


def state_store(settings: FunctionSettings) -> DynamoStateStore | None:
    if not settings.state_table_name:
        return None
    return DynamoStateStore(aws_client("dynamodb", settings), settings.state_table_name)


def build_intake(settings: WebhookSettings) -> WebhookIntake:
    webhook_signing_keys(settings)  # fail at cold start, not on the first request
    return WebhookIntake(
        lambda: webhook_signing_keys(settings),
        SqsArchiveQueue(aws_client("sqs", settings), settings.archive_queue_url),
        DynamoStateStore(aws_client("dynamodb", settings), settings.state_table_name),
        prefix=settings.archive_prefix,
    )


def transfer_options(settings: ArchivingSettings) -> TransferOptions:
    return TransferOptions(
        part_size=settings.part_size,
        part_size_floor=settings.part_size_floor,
        concurrency=settings.concurrency,
        upload_concurrency=settings.upload_concurrency,
        memory_budget=settings.memory_budget,
        algorithm=ALGORITHMS[settings.checksum_algorithm],
    )


def build_archiver(settings: ArchivingSettings, span: Span = no_span) -> Archiver:
    return Archiver(
        together=together_client(settings),
        store=S3Store(aws_client("s3", settings, settings.upload_concurrency + 4)),
        publisher=EventBridgePublisher(aws_client("events", settings), settings.event_bus_name)
        if settings.event_bus_name
        else NoEvents(),
        options=transfer_options(settings),
        digests=sha256_state,
        ledger=state_store(settings),
        span=span,
        deadline_margin_s=settings.deadline_margin_s,
        max_continuations=settings.max_continuations,
        lease_s=settings.lease_s,
    )


def archive_queue(settings: FunctionSettings) -> SqsArchiveQueue:
    if not settings.archive_queue_url:
        raise ConfigurationError("ARCHIVE_QUEUE_URL is not set")
    return SqsArchiveQueue(aws_client("sqs", settings), settings.archive_queue_url)


def build_poller(settings: PollerSettings) -> Poller:
    return Poller(
        together_client(settings),
        archive_queue(settings),
        DynamoPollLedger(aws_client("dynamodb", settings), settings.state_table_name),
        settings.selection,
        archive_since=settings.archive_since,
        max_archives_per_tick=settings.poll_max_archives,
    )


def build_catalog(settings: FunctionSettings) -> Catalog:
    """``ft-archiver list``: needs S3 only (no Together key, no bus)."""
    return Catalog(S3Catalog(aws_client("s3", settings, READERS + 2)), READERS)
