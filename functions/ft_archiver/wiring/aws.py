"""AWS clients, secrets, the state table and the archive queue, from the settings."""

from typing import Any

import boto3
from botocore.config import Config

from ft_archiver.adapters.queue import SqsArchiveQueue
from ft_archiver.adapters.state import DynamoStateStore
from ft_archiver.errors import ConfigurationError
from ft_archiver.settings import FunctionSettings


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
        # S3 only: sign UNSIGNED-PAYLOAD. botocore would otherwise SHA-256 every part body
        # for SigV4 (over https too: with our own precomputed checksum it finds no
        # checksum in its context), 4 KiB at a time through a Python callback. Each part
        # already carries its CRC64NVME, which S3 verifies, and the archive its SHA-256.
        s3={"payload_signing_enabled": False},
    )
    region = aws_region(settings)
    return boto3.client(service, config=config, region_name=region)  # type: ignore[call-overload]


def secret(name: str, settings: FunctionSettings) -> str:
    """A Secrets Manager secret's value, cached FT_ARCHIVER_SECRET_MAX_AGE seconds."""
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(name, max_age=settings.secret_max_age_s)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(
            f"secret {name!r} could not be read ({type(exc).__name__})"
        ) from None
    return value if isinstance(value, str) else str(value)


def state_store(settings: FunctionSettings) -> DynamoStateStore | None:
    if not settings.state_table_name:
        return None
    return DynamoStateStore(aws_client("dynamodb", settings), settings.state_table_name)


def archive_queue(settings: FunctionSettings) -> SqsArchiveQueue:
    if not settings.archive_queue_url:
        raise ConfigurationError("ARCHIVE_QUEUE_URL is not set")
    return SqsArchiveQueue(aws_client("sqs", settings), settings.archive_queue_url)
