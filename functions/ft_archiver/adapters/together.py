"""Together's fine-tune API and download endpoint over requests.

The API key goes only to the base URL's scheme, host and port: a redirect to storage
never carries it. Error texts name hosts and paths, never query strings (a presigned
storage URL's signature is a credential too) and never the key.

A redirect is followed only to https, and only to a host whose every address is public
(``address_refusal``): never loopback, private, link-local or the instance metadata
service, so that whoever answers the download endpoint cannot point the archiver (and
its IAM role's network position) at the VPC or at the role's credentials. Against the
simulator on loopback, http and loopback are allowed (``allow_loopback``). Every new
connection to any host but the API's is checked again on the address it reached
(``peer_check``), so a DNS answer that changes after the check (rebinding) is refused.
"""

import http.client
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import urllib3
from pydantic import BaseModel, ValidationError

from ft_archiver import __version__
from ft_archiver.adapters.peer_check import PeerCheckedAdapter
from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.addresses import (
    address_refusal,
    base_url_refusal,
    is_loopback_host,
    parse_address,
)
from ft_archiver.domain.checkpoints import DownloadSpec
from ft_archiver.domain.job import Checkpoint, FineTuneJob
from ft_archiver.errors import (
    ConfigurationError,
    FineTuneNotFoundError,
    SourceChangedError,
    TogetherAuthError,
    TogetherError,
    TogetherUnavailableError,
    TransferCancelledError,
    UnsafeDownloadError,
)
from ft_archiver.service.ports import ArchiveSource

# A read fills its whole chunk or fails, so a body that stalls or breaks loses at most one
# chunk of progress: the retry asks for the range from the last full chunk on.
READ_CHUNK = 256 * 1024
MAX_REDIRECTS = 5
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
REDIRECT_STATUS = {301, 302, 303, 307, 308}
TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
DEFAULT_PORTS = {"http": 80, "https": 443}
EARLIEST = datetime.min.replace(tzinfo=UTC)
Parsed = TypeVar("Parsed", bound=BaseModel)
CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")


# host, port -> every address it resolves to (as text, the way getaddrinfo gives them)
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection, as the connection will
    look it up (the system resolver)."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


def describe(url: str) -> str:
    """A URL fit for an error message: no query string, no credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class TogetherClient:
    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.together.xyz/v1",
        *,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
        allow_loopback: bool | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        """``allow_loopback``: whether downloads may be redirected to plain http and to
        loopback addresses (never to private, link-local or metadata ones). None, the
        default, allows it exactly when the base URL is itself on loopback, i.e. the
        simulator; in production it is refused. Tests pass False to talk to the
        simulator's API on 127.0.0.1 while holding its redirects to production rules.
        ``resolver`` looks up a redirect target's addresses (the system's by default)."""
        refusal = base_url_refusal(base_url)
        if refusal is not None:
            raise ConfigurationError(refusal)
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._origin = _origin(self._base_url)
        if allow_loopback is None:
            allow_loopback = is_loopback_host(urlsplit(self._base_url).hostname)
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._retry = retry or RetryPolicy()
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy or .netrc credentials sneaking in
        adapter = PeerCheckedAdapter(
            self._check_peer, pool_connections=4, pool_maxsize=pool_size, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"User-Agent": f"ft-archiver/{__version__}", "Accept-Encoding": "identity"}
        )

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"TogetherClient(base_url={self._base_url!r})"

    # -- API ---------------------------------------------------------------------------

    def retrieve(self, fine_tune_id: str) -> FineTuneJob:
        response = self._request(
            f"{self._base_url}/fine-tunes/{fine_tune_id}", not_found=f"fine-tune {fine_tune_id}"
        )
        return _parse(FineTuneJob, _json(response), response)

    def list_fine_tunes(self) -> list[FineTuneJob]:
        """``GET /fine-tunes``: every job of the account in one answer (the API has no
        paging), ordered by ``oldest_first`` whatever order it came in."""
        response = self._request(f"{self._base_url}/fine-tunes")
        entries = enumerate(_data(response))
        jobs = [_parse(FineTuneJob, item, response, f"data[{n}]") for n, item in entries]
        return oldest_first(jobs)

    def list_checkpoints(self, fine_tune_id: str) -> list[Checkpoint]:
        response = self._request(
            f"{self._base_url}/fine-tunes/{fine_tune_id}/checkpoints",
            not_found=f"fine-tune {fine_tune_id}",
        )
        entries = enumerate(_data(response))
        return [_parse(Checkpoint, item, response, f"data[{n}]") for n, item in entries]

    def open_download(self, spec: DownloadSpec) -> ArchiveSource:
        """Follow the download redirect and learn size, type and ETag from a 2-byte probe."""
        url = f"{self._base_url}/finetune/download?{urlencode(spec.query())}"
        what = f"fine-tune {spec.id} {spec.checkpoint} archive" + (
            f" at step {spec.checkpoint_step}" if spec.checkpoint_step is not None else ""
        )
        probe = {"Range": "bytes=0-1"}
        answers = REDIRECT_STATUS | {416}
        response = self._request(url, headers=probe, not_found=what, allow=answers)
        for _ in range(MAX_REDIRECTS):
            if response.status_code not in REDIRECT_STATUS:
                break
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise TogetherError(f"{what}: redirect without a Location from {describe(url)}")
            url = urljoin(url, location)
            self._check_redirect(url, what)
            response = self._request(url, headers=probe, not_found=what, allow=answers)
        else:
            raise TogetherError(f"{what}: more than {MAX_REDIRECTS} redirects")
        with response:
            size = _total_size(response, url)
            if response.status_code == HTTPStatus.PARTIAL_CONTENT:
                _ = response.content  # two bytes: read them so the connection is reused
            return ArchiveSource(
                url=url,
                size=size,
                content_type=response.headers.get("Content-Type", "application/octet-stream"),
                etag=response.headers.get("ETag"),
            )

    def read_range(
        self,
        source: ArchiveSource,
        start: int,
        into: memoryview,
        cancelled: Cancellation | None = None,
    ) -> None:
        """Fill ``into`` with the bytes at ``start``; a broken body resumes where it stopped."""
        length = len(into)
        filled = 0
        failures = 0
        while filled < length:
            first = start + filled
            headers = {"Range": f"bytes={first}-{start + length - 1}"}
            if source.etag:
                headers["If-Match"] = source.etag
            try:
                with self._request(source.url, headers=headers, stream=True) as response:
                    _check_range(response, first, start + length - 1, source)
                    readinto = _body_reader(response)
                    while filled < length:
                        if cancelled is not None and cancelled.is_set():
                            raise TransferCancelledError("transfer cancelled")
                        got = readinto(into[filled : min(length, filled + READ_CHUNK)])
                        if not got:
                            break
                        filled += got
                    if filled == length:
                        response.raw.release_conn()  # body fully read: keep the connection
            except TRANSPORT_ERRORS as exc:
                failures += 1
                if failures >= self._retry.max_attempts:
                    raise TogetherUnavailableError(
                        f"reading bytes {first}-{start + length - 1} of {describe(source.url)} "
                        f"failed {failures} times: {type(exc).__name__}"
                    ) from None
                self._retry.wait(failures)
                continue
            if filled < length:  # the connection closed before the range was complete
                failures += 1
                if failures >= self._retry.max_attempts:
                    raise TogetherUnavailableError(
                        f"{describe(source.url)} closed the connection at byte "
                        f"{start + filled} of bytes {start}-{start + length - 1}, "
                        f"{failures} times"
                    )
                self._retry.wait(failures)

    # -- transport ---------------------------------------------------------------------

    def _check_redirect(self, url: str, what: str) -> None:
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
        where = _where(scheme, host, port)
        if scheme != "https" and not self._allow_loopback:
            raise UnsafeDownloadError(
                f"{what}: refused the redirect to {where}: only https downloads are followed"
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
                    f"{what}: refused the redirect to {where}: an unreadable address"
                ) from None
            reason = address_refusal(address, allow_loopback=self._allow_loopback)
            if reason is not None:
                raise UnsafeDownloadError(
                    f"{what}: refused the redirect to {where}: {host} resolves to "
                    f"{address}, {reason}"
                )

    def _check_peer(self, scheme: str, host: str, port: int, peer: str) -> None:
        """Every new connection, on the address it reached: the API's origin is trusted
        as configured; any other host (storage, reached by a checked redirect) must be at
        an address the redirect check allows, else its DNS answer changed since."""
        if (scheme, host, port) == self._origin:
            return
        reason = address_refusal(parse_address(peer), allow_loopback=self._allow_loopback)
        if reason is not None:
            raise UnsafeDownloadError(
                f"refused the connection to {_where(scheme, host, port)}: it reached {peer}, "
                f"{reason} (the name resolved to another address when it was checked)"
            )

    def _headers_for(self, url: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if _origin(url) == self._origin:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _request(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        not_found: str | None = None,
        allow: set[int] | frozenset[int] = frozenset(),
    ) -> requests.Response:
        """GET with bounded retries on transport errors, 429 and 5xx; map the rest to errors."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.get(
                    url,
                    headers=self._headers_for(url, headers),
                    timeout=self._timeout,
                    stream=stream,
                    allow_redirects=False,
                )
            except TRANSPORT_ERRORS as exc:
                if attempt >= self._retry.max_attempts:
                    raise TogetherUnavailableError(
                        f"{describe(url)} unreachable after {attempt} attempts: "
                        f"{type(exc).__name__}"
                    ) from None
                self._retry.wait(attempt)
                continue
            status = response.status_code
            if status < 300 or status in allow:
                return response
            response.close()
            if status in RETRYABLE_STATUS:
                if attempt >= self._retry.max_attempts:
                    raise TogetherUnavailableError(
                        f"{describe(url)} answered HTTP {status} to {attempt} attempts"
                    )
                self._retry.wait(attempt, response.headers.get("Retry-After"))
                continue
            raise _status_error(status, url, not_found, response)


def _body_reader(response: requests.Response) -> Callable[[memoryview], int]:
    """http.client's readinto fills the part buffer straight from the socket; urllib3's
    reads into a temporary bytes object and copies it. The range check has already
    pinned the length, and identity encoding was asked for, so the raw body is the data."""
    raw = response.raw
    inner = getattr(raw, "_fp", None)
    if isinstance(inner, http.client.HTTPResponse) and "Content-Encoding" not in raw.headers:
        return inner.readinto
    return raw.readinto


def _where(scheme: str, host: str | None, port: int) -> str:
    """scheme://host[:port] of a URL, for a message: never its path or query."""
    shown = f"[{host}]" if host and ":" in host else (host or "")
    return f"{scheme}://{shown}" + ("" if port == DEFAULT_PORTS.get(scheme) else f":{port}")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, parts.hostname, port)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise TogetherError(f"{describe(response.url)} did not answer JSON") from None
    if not isinstance(body, dict):
        raise TogetherError(f"{describe(response.url)} answered JSON that is not an object")
    return body


def _data(response: requests.Response) -> list[Any]:
    """The ``data`` list of a list endpoint's answer. An answer without it is malformed,
    not empty: read as "no jobs", it would make the poller's first tick record an empty
    baseline and the next tick archive the whole history."""
    body = _json(response)
    if "data" not in body:
        raise TogetherError(f"{describe(response.url)} answered no 'data' list")
    data = body["data"]
    if not isinstance(data, list):
        raise TogetherError(f"{describe(response.url)} answered a 'data' that is not a list")
    return data


def _parse(
    model: type[Parsed], value: Any, response: requests.Response, at: str | None = None
) -> Parsed:
    """``at`` names the entry of a list answer, so one bad job among thousands is found."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(map(str, e["loc"])) or "entry" for e in exc.errors()}))
        where = f" at {at}" if at else ""
        raise TogetherError(
            f"{describe(response.url)} answered a {model.__name__} Together's API would not "
            f"send{where} (bad or missing: {fields})"
        ) from None


def oldest_first(jobs: Iterable[FineTuneJob]) -> list[FineTuneJob]:
    """Jobs by creation instant, oldest first (offsets honoured, no offset read as UTC).

    The sort is stable: jobs created at the same instant keep the order they came in.
    A job whose ``created_at`` is missing or not ISO 8601 cannot be placed; it comes
    first, in the order it came in, rather than being taken for the newest."""
    return sorted(jobs, key=lambda job: _created(job.created_at))


def _created(created_at: str | None) -> datetime:
    """A job's creation time for ordering; unknown or unreadable sorts first."""
    if created_at:
        try:
            moment = datetime.fromisoformat(created_at)
        except ValueError:
            return EARLIEST
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return EARLIEST


def _status_error(
    status: int, url: str, not_found: str | None, response: requests.Response
) -> TogetherError:
    if status in (401, 403):
        return TogetherAuthError(
            f"the Together API key was rejected (HTTP {status} from {describe(url)}); "
            "check TOGETHER_API_KEY"
        )
    if status == 404 and not_found:
        return FineTuneNotFoundError(f"{not_found} not found (HTTP 404 from {describe(url)})")
    if status == 412:
        return SourceChangedError(f"{describe(url)} changed while it was being copied (HTTP 412)")
    return TogetherError(f"{describe(url)} answered HTTP {status} {response.reason}")


def _total_size(response: requests.Response, url: str) -> int:
    content_range = response.headers.get("Content-Range")
    if response.status_code in (206, 416) and content_range:
        match = CONTENT_RANGE.fullmatch(content_range.strip())
        if match and match.group(3) != "*":
            return int(match.group(3))
        raise TogetherError(f"{describe(url)} did not tell the archive's total size")
    if response.status_code == 200 and response.headers.get("Content-Length", "").isdigit():
        return int(response.headers["Content-Length"])
    raise TogetherError(
        f"{describe(url)} answered HTTP {response.status_code} without a usable size"
    )


def _check_range(response: requests.Response, first: int, last: int, source: ArchiveSource) -> None:
    """The server must send exactly the range asked for, of an archive of the same size."""
    if response.status_code == 200 and first == 0 and last == source.size - 1:
        return
    match = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if (
        response.status_code != 206
        or not match
        or match.group(1) is None
        or (int(match.group(1)), int(match.group(2))) != (first, last)
    ):
        raise TogetherError(
            f"{describe(source.url)} answered HTTP {response.status_code} with "
            f"Content-Range {response.headers.get('Content-Range')!r} to Range bytes={first}-{last}"
        )
    if match.group(3) != str(source.size):
        raise SourceChangedError(
            f"{describe(source.url)} now reports size {match.group(3)}, not {source.size}"
        )
