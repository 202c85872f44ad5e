"""TogetherClient: Together's fine-tune API and download endpoint over requests.

The API key goes only to the base URL's scheme, host and port (``session``); a
download follows only redirects the ``guard`` allows, and reads exactly the ranges it
asked for (``download``); answers become domain types or a TogetherError (``answers``).
"""

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.together import download
from ft_archiver.adapters.together.answers import (
    json_object,
    oldest_first,
    parse,
    parse_job_list,
    parse_list,
)
from ft_archiver.adapters.together.guard import DownloadGuard, Resolver, resolve
from ft_archiver.adapters.together.session import TogetherSession
from ft_archiver.adapters.together.urls import origin
from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.addresses import base_url_refusal, is_loopback_host
from ft_archiver.domain.checkpoints import DownloadSpec
from ft_archiver.domain.job import Checkpoint, FineTuneJob, JobSummary
from ft_archiver.domain.unexpected import (
    UnexpectedAnswer,
    in_checkpoints,
    in_job,
    in_list_entries,
)
from ft_archiver.errors import ConfigurationError
from ft_archiver.service.ports import ArchiveSource

log = logging.getLogger(__name__)


def log_unexpected(answer: UnexpectedAnswer) -> None:
    log.warning("unexpected Together answer: %s", answer.describe())


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
        on_unexpected: Callable[[UnexpectedAnswer], None] = log_unexpected,
    ) -> None:
        """``allow_loopback``: whether downloads may be redirected to plain http and to
        loopback addresses (never to private, link-local or metadata ones). None, the
        default, allows it exactly when the base URL is itself on loopback, i.e. the
        simulator; in production it is refused. Tests pass False to talk to the
        simulator's API on 127.0.0.1 while holding its redirects to production rules.
        ``resolver`` looks up a redirect target's addresses (the system's by default).
        ``on_unexpected`` hears of every answer Together does not document (logged as a
        warning by default; the functions also count it)."""
        self._report = on_unexpected
        refusal = base_url_refusal(base_url)
        if refusal is not None:
            raise ConfigurationError(refusal)
        self._base_url = base_url.rstrip("/")
        api_origin = origin(self._base_url)
        if allow_loopback is None:
            allow_loopback = is_loopback_host(urlsplit(self._base_url).hostname)
        self._guard = DownloadGuard(api_origin, allow_loopback=allow_loopback, resolver=resolver)
        self._session = TogetherSession(
            api_key,
            api_origin,
            self._guard.check_peer,
            timeout=(connect_timeout_s, read_timeout_s),
            retry=retry or RetryPolicy(),
            pool_size=pool_size,
        )

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"TogetherClient(base_url={self._base_url!r})"

    def retrieve(self, fine_tune_id: str) -> FineTuneJob:
        response = self._session.get(
            f"{self._base_url}/fine-tunes/{fine_tune_id}", not_found=f"fine-tune {fine_tune_id}"
        )
        job = parse(FineTuneJob, json_object(response), response, None, self._report, "retrieve")
        self._tell(in_job(job))
        return job

    def list_fine_tunes(self) -> list[JobSummary]:
        """``GET /fine-tunes``: every job of the account in one answer (the API has no
        paging), ordered by ``oldest_first`` whatever order it came in. Entries carry only
        what the list promises; ``retrieve`` a job before deciding anything about it."""
        response = self._session.get(f"{self._base_url}/fine-tunes")
        entries = parse_job_list(response, self._report)
        self._tell(in_list_entries(entries))
        return oldest_first(entries)

    def list_checkpoints(self, fine_tune_id: str) -> list[Checkpoint]:
        response = self._session.get(
            f"{self._base_url}/fine-tunes/{fine_tune_id}/checkpoints",
            not_found=f"fine-tune {fine_tune_id}",
        )
        checkpoints = parse_list(Checkpoint, response, self._report, "checkpoints")
        self._tell(in_checkpoints(fine_tune_id, checkpoints))
        return checkpoints

    def _tell(self, findings: list[UnexpectedAnswer]) -> None:
        for finding in findings:
            self._report(finding)

    def open_download(self, spec: DownloadSpec) -> ArchiveSource:
        """Follow the download redirect and learn size, type and ETag from a 2-byte probe."""
        return download.open_download(self._session, self._guard, self._base_url, spec)

    def read_range(
        self,
        source: ArchiveSource,
        start: int,
        into: memoryview,
        cancel: Cancellation | None = None,
    ) -> None:
        """Fill ``into`` with the bytes at ``start``; a broken body resumes where it stopped."""
        download.read_range(self._session, source, start, into, cancel)
