"""Together's JSON answers read into the domain's jobs and checkpoints.

An answer the API would not send is a TogetherError that names the URL (never its
query) and the fields that were bad or missing, never taken for an empty one.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError

from ft_archiver.adapters.together.urls import describe
from ft_archiver.domain.job import JobSummary
from ft_archiver.domain.unexpected import UnexpectedAnswer
from ft_archiver.errors import TogetherError

EARLIEST = datetime.min.replace(tzinfo=UTC)
Parsed = TypeVar("Parsed", bound=BaseModel)
Report = Callable[[UnexpectedAnswer], None]
Job = TypeVar("Job", bound=JobSummary)


def json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise TogetherError(f"{describe(response.url)} did not answer JSON") from None
    if not isinstance(body, dict):
        raise TogetherError(f"{describe(response.url)} answered JSON that is not an object")
    return body


def _data_list(response: requests.Response) -> list[Any]:
    """The ``data`` list of a list endpoint's answer. An answer without it is malformed,
    not empty: read as "no jobs", it would make the poller's first tick record an empty
    baseline and the next tick archive the whole history."""
    body = json_object(response)
    if "data" not in body:
        raise TogetherError(f"{describe(response.url)} answered no 'data' list")
    data = body["data"]
    if not isinstance(data, list):
        raise TogetherError(f"{describe(response.url)} answered a 'data' that is not a list")
    return data


def parse(
    model: type[Parsed],
    value: Any,
    response: requests.Response,
    at: str | None = None,
    report: Report | None = None,
    answer: str = "",
) -> Parsed:
    """``at`` names the entry of a list answer, so one bad job among thousands is found;
    ``report`` hears of a bad ``answer`` before the TogetherError is raised."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        fields = _fields(exc)
        where = f" at {at}" if at else ""
        if report is not None:
            job_id = value.get("id") if isinstance(value, dict) else None
            report(UnexpectedAnswer(answer, str(job_id) if job_id else None, fields, "bad"))
        raise TogetherError(
            f"{describe(response.url)} answered a {model.__name__} Together's API would not "
            f"send{where} (bad or missing: {fields})"
        ) from None


def parse_list(
    model: type[Parsed], response: requests.Response, report: Report, answer: str
) -> list[Parsed]:
    """Every entry of a list answer's ``data``, each named by its index if it is bad."""
    entries = enumerate(_data_list(response))
    return [parse(model, item, response, f"data[{n}]", report, answer) for n, item in entries]


def parse_job_list(response: requests.Response, report: Report) -> list[JobSummary]:
    """The entries of ``GET /fine-tunes`` that can be read; an entry without a usable
    ``id`` is reported and left out, so one bad entry cannot stop every other job from
    being archived (the next look sees it again)."""
    entries: list[JobSummary] = []
    for n, item in enumerate(_data_list(response)):
        try:
            entries.append(JobSummary.model_validate(item))
        except ValidationError as exc:
            job_id = item.get("id") if isinstance(item, dict) else None
            shown = job_id if isinstance(job_id, str) else None
            report(UnexpectedAnswer("list", shown, _fields(exc), f"bad at data[{n}]"))
    return entries


def _fields(exc: ValidationError) -> str:
    return ", ".join(sorted({".".join(map(str, e["loc"])) or "entry" for e in exc.errors()}))


def oldest_first(jobs: Iterable[Job]) -> list[Job]:
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
