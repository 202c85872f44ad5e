"""The Together checks: the key, ``GET /fine-tunes``, and the newest completed job's whole
way to an object key (retrieve, checkpoints, a 2-byte probe of its download), as the
archiver would go it. Each step is a function returning its Check and what the next
step needs (None: the steps after it cannot run)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ft_archiver.adapters.together.urls import describe
from ft_archiver.domain.catalog import human_size
from ft_archiver.domain.checkpoints import CheckpointType, DownloadSpec, JobRef, resolve_download
from ft_archiver.domain.job import Checkpoint, FineTuneJob
from ft_archiver.domain.naming import archive_filename, object_key
from ft_archiver.domain.unexpected import UnexpectedAnswer
from ft_archiver.errors import (
    FineTuneNotFoundError,
    RuleError,
    TogetherAuthError,
    TogetherUnavailableError,
    UnsafeDownloadError,
)
from ft_archiver.service.ports import ArchiveSource
from ft_archiver_tools.doctor.result import Check, failed, passed, reason

EARLIEST = datetime.min.replace(tzinfo=UTC)


class Listed(Protocol):
    """An entry of ``GET /fine-tunes`` (JobSummary; FineTuneJob before it): only what the
    list promises."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> str | None: ...

    @property
    def completed(self) -> bool: ...

    @property
    def document(self) -> dict[str, Any]: ...


class TogetherApi(Protocol):
    def list_fine_tunes(self) -> Sequence[Listed]: ...

    def retrieve(self, fine_tune_id: str) -> FineTuneJob: ...

    def list_checkpoints(self, fine_tune_id: str) -> list[Checkpoint]: ...

    def open_download(self, spec: DownloadSpec) -> ArchiveSource: ...


@dataclass(frozen=True)
class Target:
    """Where archives would go, and the part size they would be read in."""

    bucket: str | None
    prefix: str
    part_size: int


def together_checks(
    client: TogetherApi, base_url: str, key_source: str, target: Target
) -> Iterator[Check]:
    listed, checks = list_jobs(client, base_url, key_source)
    yield from checks
    if listed is None:
        return
    newest = newest_completed(listed)
    if newest is None:
        yield passed(
            "together.newest",
            "no completed fine-tune yet: nothing to probe (ask again once one has completed)",
        )
        return
    check, job = retrieve(client, newest.id)
    yield check
    if job is None:
        return
    yield checkpoints(client, job.id)
    spec = download_spec(job)
    if isinstance(spec, Check):
        yield spec
        return
    check, source = probe(client, spec, target.part_size)
    yield check
    if source is not None:
        yield archive_key(job, spec, source, target)


def answers(heard: Sequence[UnexpectedAnswer]) -> Check:
    """The answers of the checks above that Together does not document: what the
    deployed functions count as ``UnexpectedTogetherAnswer``, and alarm on."""
    shown = "; ".join(answer.describe() for answer in heard[:3])
    more = f" (and {len(heard) - 3} more)" if len(heard) > 3 else ""
    return failed(
        "together.answers",
        f"{len(heard)} answer(s) Together does not document: {shown}{more}",
        "upgrade ft-archiver, or report it: the deployed stack's "
        "UnexpectedTogetherAnswerAlarm fires on these",
    )


def _fix(exc: Exception) -> str:
    if isinstance(exc, TogetherAuthError):
        return (
            "set TOGETHER_API_KEY (or its secret) to a key from api.together.ai/settings/api-keys"
        )
    if isinstance(exc, TogetherUnavailableError):
        return (
            "check TOGETHER_BASE_URL, this machine's network and status.together.ai, then ask again"
        )
    if isinstance(exc, UnsafeDownloadError):
        return "the download leads where ft-archiver will not follow; tell Together support"
    if isinstance(exc, FineTuneNotFoundError):
        return "the job went away since it was listed; ask again"
    return "check that TOGETHER_BASE_URL is Together's API (https://api.together.xyz/v1)"


def list_jobs(
    client: TogetherApi, base_url: str, key_source: str
) -> tuple[Sequence[Listed] | None, list[Check]]:
    """``GET /fine-tunes``: whether the key is accepted, and what the entries look like."""
    api = describe(base_url)
    try:
        listed = client.list_fine_tunes()
    except TogetherAuthError as exc:
        said = str(exc).removesuffix("; check TOGETHER_API_KEY")  # the fix says more
        check = failed(
            "together.key", f"Together refused the API key ({key_source}): {said}", _fix(exc)
        )
        return None, [check]
    except TogetherUnavailableError as exc:
        return None, [
            failed("together.api", f"Together's API did not answer: {reason(exc)}", _fix(exc))
        ]
    except Exception as exc:
        return None, [
            failed("together.list", f"GET {api}/fine-tunes failed: {reason(exc)}", _fix(exc))
        ]
    completed = sum(1 for entry in listed if entry.completed)
    typed = sum(1 for entry in listed if "training_type" in entry.document)
    if not listed:
        shape = "no jobs yet"
    elif typed == 0:
        shape = "entries carry no training_type (as Together documents; each job is retrieved)"
    elif typed == len(listed):
        shape = "entries carry training_type (not relied on: each job is retrieved)"
    else:
        shape = f"{typed} of {len(listed)} entries carry training_type (each job is retrieved)"
    return listed, [
        passed("together.key", f"Together accepted the API key ({key_source}) at {api}"),
        passed(
            "together.list",
            f"GET /fine-tunes: {_jobs(len(listed))}, {completed} completed; {shape}",
        ),
    ]


def _jobs(count: int) -> str:
    return f"{count} job" + ("" if count == 1 else "s")


def _created(entry: Listed) -> datetime:
    """An entry's creation instant; unknown or unreadable ones sort first."""
    try:
        moment = datetime.fromisoformat(entry.created_at or "")
    except ValueError:
        return EARLIEST
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def newest_completed(listed: Sequence[Listed]) -> Listed | None:
    done = [entry for entry in listed if entry.completed]
    return max(done, key=_created, default=None)


def retrieve(client: TogetherApi, job_id: str) -> tuple[Check, FineTuneJob | None]:
    try:
        job = client.retrieve(job_id)
    except Exception as exc:
        return failed(
            "together.retrieve", f"GET /fine-tunes/{job_id} failed: {reason(exc)}", _fix(exc)
        ), None
    name = f", model_output_name {job.model_output_name!r}" if job.model_output_name else ""
    return passed(
        "together.retrieve",
        f"newest completed job {job.id} (created {job.created_at}): "
        f"training type {job.training_type or 'not given'}{name}",
    ), job


def checkpoints(client: TogetherApi, job_id: str) -> Check:
    try:
        found = client.list_checkpoints(job_id)
    except Exception as exc:
        return failed(
            "together.checkpoints",
            f"GET /fine-tunes/{job_id}/checkpoints failed: {reason(exc)}",
            _fix(exc),
        )
    steps = sum(1 for entry in found if entry.intermediate)
    finals = dict.fromkeys(entry.checkpoint_type for entry in found if not entry.intermediate)
    final = ", ".join(finals) or "none listed"
    return passed(
        "together.checkpoints",
        f"GET /fine-tunes/{job_id}/checkpoints: {steps} intermediate; finals: {final}",
    )


def download_spec(job: FineTuneJob) -> DownloadSpec | Check:
    """The default checkpoint type resolved by the job's training type, as archived; a
    failed Check when the job cannot be archived."""
    try:
        return resolve_download(JobRef(job.id, None), CheckpointType.DEFAULT, job.training_type)
    except RuleError as exc:
        return failed(
            "together.download",
            str(exc),
            "this job cannot be archived; Full and Lora jobs are archived as usual",
        )


def probe(
    client: TogetherApi, spec: DownloadSpec, part_size: int
) -> tuple[Check, ArchiveSource | None]:
    """The download the archiver would read, probed for 2 bytes as it probes it."""
    what = f"download of {spec.id} ({spec.checkpoint})"
    try:
        source = client.open_download(spec)
    except Exception as exc:
        return failed("together.download", f"{what} failed: {reason(exc)}", _fix(exc)), None
    where = (
        f"redirected to {source.redirected_host}"
        if source.redirected_host
        else "answered by the API host"
    )
    found = f"{what}: {human_size(source.size)}, {source.content_type}, {where}"
    if source.ranged:
        return passed("together.download", f"{found}, Range honoured (206)"), source
    if source.size <= part_size:  # one read of the whole archive: 200 is what it asks for
        return passed(
            "together.download", f"{found}, Range ignored (200): one part, read whole"
        ), source
    return failed(
        "together.download",
        f"{found}, Range ignored (200): its parts cannot be read by range",
        "the archive's storage must honour Range requests; tell Together support",
    ), None


def archive_key(
    job: FineTuneJob, spec: DownloadSpec, source: ArchiveSource, target: Target
) -> Check:
    """The key the archiver would write, from the names the job and the probe give."""
    try:
        key = object_key(
            target.prefix, archive_filename(spec, job.model_output_name, source.content_type)
        )
    except RuleError as exc:
        return failed("archive.key", str(exc), "set ARCHIVE_PREFIX so that the key is valid")
    where = f"s3://{target.bucket}/{key}" if target.bucket else key
    return passed("archive.key", f"it would be archived as {where}")
