"""Where a download may go: the redirect check and the peer check.

A redirect is followed only to https, and only to a host whose every address is public
(``address_refusal``): never loopback, private, link-local or the instance metadata
service, so that whoever answers the download endpoint cannot point the archiver (and
its IAM role's network position) at the VPC or at the role's credentials. Against the
simulator on loopback, http and loopback are allowed (``allow_loopback``). Every new
connection to any host but the API's is checked again on the address it reached
(``check_peer``), so a DNS answer that changes after the check (rebinding) is refused.
"""

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from ft_archiver.adapters.together.urls import DEFAULT_PORTS, Origin, where
from ft_archiver.domain.addresses import address_refusal, parse_address
from ft_archiver.errors import TogetherUnavailableError, UnsafeDownloadError

# host, port -> every address it resolves to (as text, the way getaddrinfo gives them)
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection, as the connection will
    look it up (the system resolver)."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


class DownloadGuard:
    def __init__(self, api_origin: Origin, *, allow_loopback: bool, resolver: Resolver) -> None:
        """``api_origin``: trusted as configured; ``allow_loopback``: whether http and
        loopback addresses are allowed (the simulator); ``resolver`` looks up a
        redirect target's addresses."""
        self._api_origin = api_origin
        self._allow_loopback = allow_loopback
        self._resolver = resolver

    def check_redirect(self, url: str, what: str) -> None:
        """Refuse a redirect target that is not https (http too when loopback is allowed)
        or whose host resolves to any address ``address_refusal`` refuses. Names the
        host, never the path or query."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise UnsafeDownloadError(
                f"{what}: refused a redirect to a {scheme or 'schemeless'}: URL; "
                "only https downloads are followed"
            )
        host = parts.hostname
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise UnsafeDownloadError(f"{what}: refused a redirect with an invalid port") from None
        shown = where(scheme, host, port)
        if scheme != "https" and not self._allow_loopback:
            raise UnsafeDownloadError(
                f"{what}: refused the redirect to {shown}: only https downloads are followed"
            )
        if not host:
            raise UnsafeDownloadError(f"{what}: refused a redirect to a URL without a host")
        try:
            addresses = self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise TogetherUnavailableError(
                f"{what}: the download host {host} could not be resolved ({type(exc).__name__})"
            ) from None
        if not addresses:
            raise TogetherUnavailableError(f"{what}: the download host {host} has no address")
        for text in addresses:
            try:
                address = parse_address(text)
            except ValueError:
                raise UnsafeDownloadError(
                    f"{what}: refused the redirect to {shown}: an unreadable address"
                ) from None
            reason = address_refusal(address, allow_loopback=self._allow_loopback)
            if reason is not None:
                raise UnsafeDownloadError(
                    f"{what}: refused the redirect to {shown}: {host} resolves to "
                    f"{address}, {reason}"
                )

    def check_peer(self, scheme: str, host: str, port: int, peer: str) -> None:
        """Every new connection, on the address it reached: the API's origin is trusted
        as configured; any other host (storage, reached by a checked redirect) must be at
        an address the redirect check allows, else its DNS answer changed since."""
        if (scheme, host, port) == self._api_origin:
            return
        reason = address_refusal(parse_address(peer), allow_loopback=self._allow_loopback)
        if reason is not None:
            raise UnsafeDownloadError(
                f"refused the connection to {where(scheme, host, port)}: it reached {peer}, "
                f"{reason} (the name resolved to another address when it was checked)"
            )
