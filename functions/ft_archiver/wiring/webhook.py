"""WebhookFunction's intake: its signing keys, the queue and the table. No Together."""

from ft_archiver.adapters.queue import SqsArchiveQueue
from ft_archiver.adapters.state import DynamoStateStore
from ft_archiver.domain.webhook import decode_secret
from ft_archiver.errors import ConfigurationError
from ft_archiver.service.intake import WebhookIntake
from ft_archiver.settings import WebhookSettings
from ft_archiver.wiring.aws import aws_client, secret


def webhook_signing_keys(settings: WebhookSettings) -> list[bytes]:
    """Every secret in the value, space-separated, so a sender can rotate without downtime."""
    if settings.webhook_secret is not None:
        value = settings.webhook_secret.get_secret_value()
    elif settings.webhook_secret_name:
        value = secret(settings.webhook_secret_name, settings)
    else:
        raise ConfigurationError("neither WEBHOOK_SECRET nor WEBHOOK_SECRET_NAME is set")
    try:
        return [decode_secret(part) for part in value.split()]
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def build_intake(settings: WebhookSettings) -> WebhookIntake:
    webhook_signing_keys(settings)  # fail at cold start, not on the first request
    return WebhookIntake(
        lambda: webhook_signing_keys(settings),
        SqsArchiveQueue(aws_client("sqs", settings), settings.archive_queue_url),
        DynamoStateStore(aws_client("dynamodb", settings), settings.state_table_name),
        prefix=settings.archive_prefix,
    )
