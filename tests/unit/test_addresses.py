"""Where Together requests may go, as pure rules: the base URL, and download addresses."""

import pytest
from pydantic import ValidationError

from ft_archiver.domain.addresses import base_url_refusal, is_loopback_host
from ft_archiver.settings import Settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost.example.com", False),
        ("api.together.xyz", False),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback_host(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    "url",
    [
        "https://api.together.xyz/v1",
        "https://10.0.0.1/v1",  # https: the operator's choice of host
        "http://127.0.0.1:8080/v1",
        "http://localhost:8080/v1",
        "http://[::1]:8080/v1",
    ],
)
def test_base_urls_that_may_carry_the_key(url: str) -> None:
    assert base_url_refusal(url) is None
    assert Settings(TOGETHER_BASE_URL=url + "/").together_base_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://api.together.xyz/v1", "must be https"),
        ("http://10.0.0.1/v1", "must be https"),
        ("http://127.0.0.1.example.com/v1", "must be https"),
        ("ftp://api.together.xyz/v1", "must start with https://"),
        ("api.together.xyz/v1", "must start with https://"),
        ("https:///v1", "has no host"),
    ],
)
def test_base_urls_that_may_not(url: str, reason: str) -> None:
    refusal = base_url_refusal(url)
    assert refusal is not None
    assert reason in refusal
    with pytest.raises(ValidationError, match=reason):
        Settings(TOGETHER_BASE_URL=url)
