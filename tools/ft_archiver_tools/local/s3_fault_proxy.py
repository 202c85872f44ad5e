"""A fault-injecting HTTP proxy in front of the AWS emulator, for S3 faults moto cannot make.

Requests pass through to ``upstream`` untouched, except that the first ``times``
requests matching a rule get the rule's S3 error instead (503 SlowDown, 500
InternalError, 404 NoSuchUpload ...). A rule that ``forwards`` lets the request reach
the emulator first and replaces its answer with the error: the request took effect (the
object was built), then the client heard a 500, as S3 documents can happen to
CompleteMultipartUpload. boto3 talks to the proxy over real HTTP exactly as it would to
S3.

Two switches make it a store that is not S3: ``ignores_checksums``, one that takes the
``x-amz-checksum-*`` headers and does nothing with them (they never reach the emulator,
and no answer carries one), as some S3-compatible stores do; ``corrupts_reads_of``, one
that serves other bytes than it stored for the keys ending so (the first byte of a GET's
body flipped). ``requests`` records each request's method and path.
"""

import http.client
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}
CHECKSUM_HEADERS = ("x-amz-checksum-", "x-amz-sdk-checksum-")


@dataclass
class S3Fault:
    method: str  # "PUT", "POST", ...
    # parameters the request must carry ("*": any value) or must not carry (None)
    query: Mapping[str, str | None]
    status: int
    code: str
    times: int = 1
    hits: int = 0
    forward: bool = False  # the emulator handles the request; the client gets the error
    path_suffix: str = ""  # how the request's path (the object's key) must end

    def body(self) -> bytes:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{self.code}</Code>'
            f"<Message>injected {self.code}</Message></Error>"
        ).encode()


class S3FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.faults: list[S3Fault] = []
        self.ignores_checksums = False
        self.corrupts_reads_of: str | None = None
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def take(self, method: str, path: str) -> S3Fault | None:
        url = urlsplit(path)
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with self._lock:
            for fault in self.faults:
                wanted = fault.query.items()
                matches = (
                    fault.method == method
                    and url.path.endswith(fault.path_suffix)
                    and all(
                        name not in params
                        if value is None
                        else name in params and value in ("*", params[name])
                        for name, value in wanted
                    )
                )
                if matches and fault.hits < fault.times:
                    fault.hits += 1
                    return fault
        return None

    def start(self) -> "S3FaultProxy":
        handler = type("Handler", (_Forward,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "S3FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Forward(BaseHTTPRequestHandler):
    proxy: S3FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        body = self.rfile.read(length) if length else b""
        proxy = self.proxy
        with proxy._lock:
            proxy.requests.append((self.command, self.path))
        fault = proxy.take(self.command, self.path)
        if fault is not None and not fault.forward:
            self._send_fault(fault)
            return
        upstream = self.proxy.upstream
        connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port)
        headers = {k: v for k, v in self.headers.items() if self._passes(k)}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if self._corrupted(response.status, payload):
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        if fault is not None:  # it took effect upstream; the client hears otherwise
            connection.close()
            self._send_fault(fault)
            return
        self.send_response(response.status, response.reason)
        head = self.command == "HEAD"  # a HEAD answer keeps the object's Content-Length
        for name, value in response.getheaders():
            if self._passes(name) and (head or name.lower() != "content-length"):
                self.send_header(name, value)
        if not head:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        connection.close()

    def _passes(self, header: str) -> bool:
        name = header.lower()
        if name in HOP_BY_HOP:
            return False
        return not (self.proxy.ignores_checksums and name.startswith(CHECKSUM_HEADERS))

    def _corrupted(self, status: int, payload: bytes) -> bool:
        suffix = self.proxy.corrupts_reads_of
        path = urlsplit(self.path)
        return (
            suffix is not None and self.command == "GET" and status in (200, 206)
            and bool(payload) and path.path.endswith(suffix)
            and set(parse_qs(path.query)) <= {"versionId"}  # the object's bytes
        )  # fmt: skip

    def _send_fault(self, fault: S3Fault) -> None:
        payload = fault.body()
        self.send_response(fault.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _handle  # noqa: N815 - the names http.server dispatches to
    do_PUT = _handle  # noqa: N815
    do_POST = _handle  # noqa: N815
    do_DELETE = _handle  # noqa: N815
    do_HEAD = _handle  # noqa: N815
