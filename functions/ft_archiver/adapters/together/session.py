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
            response.close()
            if status in RETRYABLE_STATUS:
                if attempt >= self.retry.max_attempts:
                    raise TogetherUnavailableError(
                        f"{describe(url)} answered HTTP {status} to {attempt} attempts"
                    )
                self.retry.wait(attempt, response.headers.get("Retry-After"))
                continue
            raise _status_error(status, url, not_found, response)


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
