"""Where Together requests may go: the base URL's scheme, and the addresses a download
may be sent to. Pure: no DNS here, the callers resolve."""

import ipaddress
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The instance metadata service, IPv4 and IPv6: the classic target of a redirect that
# wants the role's credentials. (Link-local as a whole is refused too: ECS's credentials
# endpoint is 169.254.170.2; Lambda's runtime API is on loopback, also refused.)
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# IPv6 forms that carry an IPv4 address a packet ends up at: IPv4-mapped (::ffff:a.b.c.d,
# unwrapped by ``ipv4_mapped``) and the NAT64 well-known prefix (64:ff9b::a.b.c.d).
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, or an address of 127.0.0.0/8 or ::1, as written in a URL (no DNS)."""
    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return parse_address(name).is_loopback
    except ValueError:
        return False


def base_url_refusal(url: str) -> str | None:
    """Why ``url`` cannot be TOGETHER_BASE_URL, or None: https, or http to loopback only
    (the simulator), since the API key travels with every request to it."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return "TOGETHER_BASE_URL must start with https:// (http:// only to loopback)"
    if not parts.hostname:
        return "TOGETHER_BASE_URL has no host"
    if scheme == "http" and not is_loopback_host(parts.hostname):
        return (
            "TOGETHER_BASE_URL must be https: plain http would send the API key in clear "
            "(http:// is allowed only to 127.0.0.1, ::1 or localhost, for the simulator)"
        )
    return None


def parse_address(text: str) -> IPAddress:
    """An address as ``getaddrinfo`` gives it (an IPv6 zone such as %eth0 dropped), with
    the IPv4 address inside an IPv4-mapped or NAT64 IPv6 address taken out."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def address_refusal(address: IPAddress, allow_loopback: bool = False) -> str | None:
    """Why a download may not be sent to ``address``, or None when it may: only public
    unicast addresses, plus loopback when ``allow_loopback`` (the simulator)."""
    if address in METADATA_ADDRESSES:
        return "the instance metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None
