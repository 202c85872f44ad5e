"""A requests adapter that checks the address each new connection actually reached.

The Together client checks a redirect's host by resolving it before asking it; the
connection then resolves the name again. A DNS answer that changes in between (DNS
rebinding: a public address for the check, then 169.254.169.254 or 127.0.0.1 with a
TTL of 0) would otherwise reach an address the check refused. So every new TCP
connection is checked once more, on its peer address (``getpeername``), right after it
connects and before any byte goes out on it (for https, before the TLS handshake).

It overrides urllib3's ``HTTPConnection._new_conn``, the one place both http and https
connections are opened; ``tests/integration/test_together_client.py`` fails if a
urllib3 release stops calling it.
"""

import socket
from collections.abc import Callable
from typing import Any, ClassVar

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# scheme, host, port, the peer's address -> None, or raise to refuse the connection
PeerCheck = Callable[[str, str, int, str], None]


def _checked(sock: socket.socket, check: PeerCheck, scheme: str, host: str, port: int) -> None:
    try:
        check(scheme, host, port, str(sock.getpeername()[0]))
    except BaseException:
        sock.close()
        raise


class _CheckedHTTPConnection(HTTPConnection):
    peer_check: ClassVar[PeerCheck]

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _checked(sock, type(self).peer_check, "http", self.host, int(self.port))
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    peer_check: ClassVar[PeerCheck]

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _checked(sock, type(self).peer_check, "https", self.host, int(self.port))
        return sock


class PeerCheckedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose every new connection is passed to ``check`` first."""

    def __init__(self, check: PeerCheck, **kwargs: Any) -> None:
        self._check = check
        super().__init__(**kwargs)  # builds the pool manager: the check must be set first

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        check = staticmethod(self._check)
        http = type("CheckedHTTPConnection", (_CheckedHTTPConnection,), {"peer_check": check})
        https = type("CheckedHTTPSConnection", (_CheckedHTTPSConnection,), {"peer_check": check})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
