"""An archive's download: the redirect to storage, the size probe, the ranged reads.

Each redirect is checked by the ``DownloadGuard`` before it is asked; a ranged read
must come back as exactly the range asked for, of an archive of the same size.
"""

import http.client
import re
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from ft_archiver.adapters.together.guard import DownloadGuard
from ft_archiver.adapters.together.session import (
    TRANSPORT_ERRORS,
    TogetherSession,
    error_message,
)
from ft_archiver.adapters.together.urls import describe
from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checkpoints import DownloadSpec, instead
from ft_archiver.errors import (
    DownloadLinkRefusedError,
    DownloadRefusedError,
    SourceChangedError,
    TogetherError,
    TogetherUnavailableError,
    TransferCancelledError,
)
from ft_archiver.service.ports import ArchiveSource

# A read fills its whole chunk or fails, so a body that stalls or breaks loses at most one
# chunk of progress: the retry asks for the range from the last full chunk on.
READ_CHUNK = 256 * 1024
MAX_REDIRECTS = 5
REDIRECT_STATUS = {301, 302, 303, 307, 308}
REFUSED_STATUS = {400, 404}  # parameters that name nothing; an unknown fine-tune
CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")


def open_download(
    session: TogetherSession, guard: DownloadGuard, base_url: str, spec: DownloadSpec
) -> ArchiveSource:
    """Follow the download redirect, if there is one (Together documents a direct 200,
    and redirects to storage happen), and learn size, type and ETag from a 2-byte probe.
    A storage host that refuses the link is asked once more with a fresh link."""
    try:
        return _probe(session, guard, base_url, spec)
    except DownloadLinkRefusedError:
        return _probe(session, guard, base_url, spec)


def _probe(
    session: TogetherSession, guard: DownloadGuard, base_url: str, spec: DownloadSpec
) -> ArchiveSource:
    url = f"{base_url}/finetune/download?{urlencode(spec.query())}"
    what = f"fine-tune {spec.id} {spec.checkpoint} archive" + (
        f" at step {spec.checkpoint_step}" if spec.checkpoint_step is not None else ""
    )
    probe = {"Range": "bytes=0-1"}
    answers = REDIRECT_STATUS | {416}
    response = session.get(url, headers=probe, allow=answers | REFUSED_STATUS)
    if response.status_code in REFUSED_STATUS:
        with response:
            said = error_message(response)
        unknown = response.status_code == 404
        hint = (
            f"Together knows no fine-tune {spec.id} with this API key" if unknown else instead(spec)
        )
        raise DownloadRefusedError(
            f"Together refused the download of the {what} (HTTP {response.status_code}"
            f"{said}); {hint}"
        )
    redirected_host: str | None = None
    for _ in range(MAX_REDIRECTS):
        if response.status_code not in REDIRECT_STATUS:
            break
        location = response.headers.get("Location")
        response.close()
        if not location:
            raise TogetherError(f"{what}: redirect without a Location from {describe(url)}")
        url = urljoin(url, location)
        guard.check_redirect(url, what)
        redirected_host = urlsplit(url).hostname
        response = session.get(url, headers=probe, not_found=what, allow=answers)
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
            ranged=response.status_code == HTTPStatus.PARTIAL_CONTENT,
            redirected_host=redirected_host,
        )


def read_range(
    session: TogetherSession,
    source: ArchiveSource,
    start: int,
    into: memoryview,
    cancel: Cancellation | None = None,
) -> None:
    """Fill ``into`` with the bytes at ``start``; a broken body resumes where it stopped."""
    retry = session.retry
    length = len(into)
    filled = 0
    failures = 0
    while filled < length:
        first = start + filled
        headers = {"Range": f"bytes={first}-{start + length - 1}"}
        if source.etag:
            headers["If-Match"] = source.etag
        try:
            with session.get(source.url, headers=headers, stream=True) as response:
                _check_range(response, first, start + length - 1, source)
                readinto = _body_reader(response)
                while filled < length:
                    if cancel is not None and cancel.is_set():
                        raise TransferCancelledError("transfer cancelled")
                    got = readinto(into[filled : min(length, filled + READ_CHUNK)])
                    if not got:
                        break
                    filled += got
                if filled == length:
                    response.raw.release_conn()  # body fully read: keep the connection
        except TRANSPORT_ERRORS as exc:
            failures += 1
            if failures >= retry.max_attempts:
                raise TogetherUnavailableError(
                    f"reading bytes {first}-{start + length - 1} of {describe(source.url)} "
                    f"failed {failures} times: {type(exc).__name__}"
                ) from None
            retry.wait(failures)
            continue
        if filled < length:  # the connection closed before the range was complete
            failures += 1
            if failures >= retry.max_attempts:
                raise TogetherUnavailableError(
                    f"{describe(source.url)} closed the connection at byte "
                    f"{start + filled} of bytes {start}-{start + length - 1}, "
                    f"{failures} times"
                )
            retry.wait(failures)


def _body_reader(response: requests.Response) -> Callable[[memoryview], int]:
    """http.client's readinto fills the part buffer straight from the socket; urllib3's
    reads into a temporary bytes object and copies it. The range check has already
    pinned the length, and identity encoding was asked for, so the raw body is the data."""
    raw = response.raw
    inner = getattr(raw, "_fp", None)
    if isinstance(inner, http.client.HTTPResponse) and "Content-Encoding" not in raw.headers:
        return inner.readinto
    return raw.readinto


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
