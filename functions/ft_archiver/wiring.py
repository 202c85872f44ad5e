"""Builds the archiver's adapters from the settings: the one place that knows them all."""

from typing import Any

import boto3
from botocore.config import Config

from ft_archiver.adapters.events import EventBridgePublisher
from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.errors import ConfigurationError
from ft_archiver.service.archive import Archiver, TransferOptions
from ft_archiver.settings import Settings


def aws_client(service: str, settings: Settings, pool_size: int = 10) -> Any:
    """boto3 reads AWS_ENDPOINT_URL, region and credentials itself."""
    config = Config(
        max_pool_connections=pool_size,
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        # We send our own full-object CRCs; botocore must not add a second checksum.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def together_client(settings: Settings) -> TogetherClient:
    if settings.together_api_key is None or not settings.together_api_key.get_secret_value():
        raise ConfigurationError("TOGETHER_API_KEY is not set")
    return TogetherClient(
        settings.together_api_key.get_secret_value(),
        settings.together_base_url,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        retry=RetryPolicy(
            settings.max_attempts, settings.retry_base_delay_s, settings.retry_max_delay_s
        ),
        pool_size=settings.concurrency + 4,
    )


def build_archiver(settings: Settings) -> Archiver:
    pool_size = settings.concurrency + 4
    return Archiver(
        together=together_client(settings),
        store=S3Store(aws_client("s3", settings, pool_size)),
        publisher=EventBridgePublisher(aws_client("events", settings), settings.event_bus_name),
        options=TransferOptions(
            part_size=settings.part_size,
            part_size_floor=settings.part_size_floor,
            concurrency=settings.concurrency,
            memory_budget=settings.memory_budget,
            algorithm=ALGORITHMS[settings.checksum_algorithm],
        ),
    )
