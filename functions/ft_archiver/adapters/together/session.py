"""The HTTP session to Together and its storage: one connection pool, bounded retries.

The API key goes only to the base URL's scheme, host and port: a redirect to storage
never carries it. Every new connection is passed to a peer check first
(``PeerCheckedAdapter``); redirects are never followed here, the caller checks each one.
"""

import http.client
from collections.abc import Mapping

import requests
import urllib3

from ft_archiver import __version__
from ft_archiver.adapters.peer_check import PeerCheck, PeerCheckedAdapter
from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.together.urls import Origin, describe, origin
from ft_archiver.errors import (
    DownloadLinkRefusedError,
    FineTuneNotFoundError,
    SourceChangedError,
    TogetherAuthError,
    TogetherError,
    TogetherUnavailableError,
)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class TogetherSession:
    def __init__(
        self,
        api_key: str,
        api_origin: Origin,
        peer_check: PeerCheck,
        *,
        timeout: tuple[float, float],
        retry: RetryPolicy,
        pool_size: int,
    ) -> None:
        """``api_origin``: where the API key is sent; ``timeout``: (connect, read) seconds."""
        self._api_key = api_key
        self._api_origin = api_origin
        self._timeout = timeout
        self.retry = retry
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy or .netrc credentials sneaking in
        adapter = PeerCheckedAdapter(
            peer_check, pool_connections=4, pool_maxsize=pool_size, max_retries=0
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"User-Agent": f"ft-archiver/{__version__}", "Accept-Encoding": "identity"}
        )

    def close(self) -> None:
        self._session.close()

    def _headers_for(self, url: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if origin(url) == self._api_origin:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        not_found: str | None = None,
        allow: set[int] | frozenset[int] = frozenset(),
    ) -> requests.Response:
        """GET with bounded retries on transport errors, 429 and 5xx; map the rest to errors.
        A status in ``allow`` is answered as it came (a redirect, say); ``not_found``
        names what a 404 means."""
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
                if attempt >= self.retry.max_attempts:
                    raise TogetherUnavailableError(
                        f"{describe(url)} unreachable after {attempt} attempts: "
                        f"{type(exc).__name__}"
                    ) from None
                self.retry.wait(attempt)
                continue
            status = response.status_code
            if status < 300 or status in allow:
                return response
            if status not in RETRYABLE_STATUS:
                error = self._status_error(status, url, not_found, response)
                response.close()
                raise error
            response.close()
            if attempt >= self.retry.max_attempts:
                raise TogetherUnavailableError(
                    f"{describe(url)} answered HTTP {status} to {attempt} attempts"
                )
            self.retry.wait(attempt, response.headers.get("Retry-After"))

    def _status_error(
        self, status: int, url: str, not_found: str | None, response: requests.Response
    ) -> TogetherError:
        if status in (401, 403) and origin(url) != self._api_origin:
            return DownloadLinkRefusedError(
                f"the storage host refused the download link (HTTP {status} from "
                f"{describe(url)}): it may have expired; a new attempt asks for a fresh one"
            )
        if status in (401, 403):
            return TogetherAuthError(
                f"the Together API key was rejected (HTTP {status} from {describe(url)}); "
                "check TOGETHER_API_KEY"
            )
        said = error_message(response)
        if status == 404 and not_found:
            return FineTuneNotFoundError(
                f"{not_found} not found (HTTP 404 from {describe(url)}{said})"
            )
        if status == 412:
            return SourceChangedError(
                f"{describe(url)} changed while it was being copied (HTTP 412)"
            )
        return TogetherError(f"{describe(url)} answered HTTP {status} {response.reason}{said}")


def error_message(response: requests.Response) -> str:
    """``: <message>`` from Together's ``{"error": {"message": ...}}`` (openapi.yaml,
    ErrorData), or nothing when the body is not that; at most 300 characters."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f": {message[:300]}" if isinstance(message, str) and message else ""
