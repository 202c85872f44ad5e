"""Where Together requests may go, as pure rules: the base URL, and download addresses."""

import pytest
from pydantic import ValidationError

from ft_archiver.domain.addresses import (
    address_refusal,
    base_url_refusal,
    is_loopback_host,
    parse_address,
)
from ft_archiver.settings import CliSettings


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
    assert CliSettings(TOGETHER_BASE_URL=url + "/").together_base_url == url


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
        CliSettings(TOGETHER_BASE_URL=url)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "the instance metadata address"),
        ("fd00:ec2::254", "the instance metadata address"),
        ("::ffff:169.254.169.254", "the instance metadata address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("127.0.0.1", "a loopback address"),
        ("127.53.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("169.254.170.2", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.20", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("::ffff:10.0.0.1", "a private address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
    ],
)
def test_addresses_a_download_may_not_go_to(address: str, reason: str) -> None:
    assert address_refusal(parse_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "52.216.0.1", "2600:1f18::1", "64:ff9b::5db8:d822"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(parse_address(address)) is None
    assert address_refusal(parse_address(address), allow_loopback=True) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", None),
        ("::1", None),
        ("169.254.169.254", "the instance metadata address"),
        ("10.0.0.1", "a private address"),
        ("169.254.1.1", "a link-local address"),
    ],
)
def test_allowing_loopback_allows_nothing_else(address: str, reason: str | None) -> None:
    assert address_refusal(parse_address(address), allow_loopback=True) == reason
