"""The Together client, with the API key from the environment or Secrets Manager."""

from collections.abc import Callable

from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.adapters.together.client import log_unexpected
from ft_archiver.domain.unexpected import UnexpectedAnswer
from ft_archiver.errors import ConfigurationError
from ft_archiver.settings import TogetherSettings
from ft_archiver.wiring.aws import secret


def together_api_key(settings: TogetherSettings) -> str:
    if settings.together_api_key is not None and settings.together_api_key.get_secret_value():
        return settings.together_api_key.get_secret_value()
    if settings.together_api_key_secret_name:
        return secret(settings.together_api_key_secret_name, settings).strip()
    raise ConfigurationError("TOGETHER_API_KEY is not set")


Unexpected = Callable[[UnexpectedAnswer], None]


def together_client(
    settings: TogetherSettings, on_unexpected: Unexpected = log_unexpected
) -> TogetherClient:
    """``on_unexpected``: a log line by default; the functions count it too."""
    return TogetherClient(
        together_api_key(settings),
        settings.together_base_url,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        retry=RetryPolicy(
            settings.max_attempts, settings.retry_base_delay_s, settings.retry_max_delay_s
        ),
        pool_size=settings.together_connections,
        on_unexpected=on_unexpected,
    )
