"""What a function that talks to Together reads: the poller's and archiving's base."""

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from ft_archiver.domain.addresses import base_url_refusal
from ft_archiver.domain.parts import DEFAULT_CONCURRENCY
from ft_archiver.settings.base import TOGETHER_KEY, FunctionSettings, require_one_of


class TogetherSettings(FunctionSettings):
    """A function that talks to Together: the API key (in Lambda, the name of its secret)
    and the base URL."""

    together_api_key: SecretStr | None = Field(None, validation_alias="TOGETHER_API_KEY")
    together_api_key_secret_name: str | None = Field(
        None, validation_alias="TOGETHER_API_KEY_SECRET_NAME", validate_default=True
    )
    together_base_url: str = Field(
        "https://api.together.xyz/v1", validation_alias="TOGETHER_BASE_URL"
    )

    @field_validator("together_api_key_secret_name")
    @classmethod
    def _key_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        if TOGETHER_KEY in cls.REQUIRED_ONE_OF:
            require_one_of(TOGETHER_KEY, value, info, "together_api_key")
        return value

    @field_validator("together_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        refusal = base_url_refusal(value)
        if refusal is not None:
            raise ValueError(refusal)
        return value.rstrip("/")

    @property
    def together_connections(self) -> int:
        """Connections kept open to Together and its storage."""
        return DEFAULT_CONCURRENCY + 4
