"""``backfill``: archive history on purpose. Every completed job (created on or after a
date, when given), expanded by a selection; an archive already in the bucket is skipped,
so a second run uploads nothing and emits no event. One outcome per archive, in order.

Each completed job of the list is retrieved before its selection is expanded: Together's
list entries carry no training type, so no rule is applied to one.

The object key depends on the archive's content type, which only the download probe
tells; the skip check asks S3 for both names the rules allow instead of probing
Together for every archive (a dry run probes, to print the exact key).
"""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal, Protocol

from ft_archiver.domain.checkpoints import (
    DownloadSpec,
    JobRef,
    parse_checkpoint_type,
    resolve_download,
)
from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.job import FineTuneJob, JobSummary
from ft_archiver.domain.naming import archive_filename, object_key
from ft_archiver.domain.requests import ArchiveRequest, Destination, idempotency_key
from ft_archiver.domain.selection import ArchiveTarget, Selection
from ft_archiver.errors import ArchiverError, RuleError
from ft_archiver.service.control import ArchiveOutcome, TransferControl, without_deadline
from ft_archiver.service.fan_out import archive_messages, targets_for
from ft_archiver.service.poller import created_on_or_after
from ft_archiver.service.ports import ArchiveCheck, ArchiveRequestQueue, BackfillSource

Action = Literal["archived", "skipped", "planned", "enqueued", "failed"]
CONTENT_TYPES = ("application/zstd", "application/x-tar")  # .tar.zst and .tar.gz


@dataclass(frozen=True)
class Outcome:
    action: Action
    id: str
    checkpoint_step: int | None
    checkpoint_type: str
    key: str | None = None
    detail: dict[str, Any] | None = None
    error: str | None = None
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        line = asdict(self)
        return {
            name: value
            for name, value in line.items()
            if value is not None or name == "key" or name == "checkpoint_step"
        }


def outcome(action: Action, target: ArchiveTarget, **extra: Any) -> Outcome:
    return Outcome(action, target.id, target.checkpoint_step, target.checkpoint_type, **extra)


class ArchiveRunner(Protocol):
    def archive(
        self,
        request: ArchiveRequest,
        destination: Destination,
        control: TransferControl | None = None,
    ) -> ArchiveOutcome: ...


@dataclass(frozen=True)
class Pending:
    """An archive to make: its target and the keys its object may have."""

    target: ArchiveTarget
    spec: DownloadSpec
    job: FineTuneJob
    keys: tuple[str, ...]


class Backfill:
    def __init__(
        self,
        together: BackfillSource,
        check: ArchiveCheck,
        destination: Destination,
        finished: Callable[[str], bool] | None = None,
    ) -> None:
        """``finished``: the state table's word on an idempotency key, when there is one."""
        self._together = together
        self._check = check
        self._destination = destination
        self._finished = finished

    def jobs(self, since: date | None) -> list[JobSummary]:
        completed = [job for job in self._together.list_fine_tunes() if job.completed]
        return [job for job in completed if since is None or created_on_or_after(job, since)]

    def survey(self, selection: Selection, since: date | None) -> Iterator[Pending | Outcome]:
        """Each archive of the selection: Pending when it is to be made, else its outcome."""
        for entry in self.jobs(since):
            whole_job = ArchiveTarget(entry.id, None, selection.checkpoint_types.value)
            try:
                job = self._together.retrieve(entry.id)
                targets = targets_for(self._together, job, selection)
            except RuleError as exc:  # e.g. a listed step this job does not have
                yield outcome("skipped", whole_job, reason=str(exc))
                continue
            except ArchiverError as exc:
                yield outcome("failed", whole_job, error=str(exc))
                continue
            for target in targets:
                yield self._pending_or_done(job, target)

    def _pending_or_done(self, job: FineTuneJob, target: ArchiveTarget) -> Pending | Outcome:
        try:
            spec = resolve_download(
                JobRef(job.id, target.checkpoint_step),
                parse_checkpoint_type(target.checkpoint_type),
                job.training_type,
            )
            keys = tuple(
                object_key(
                    self._destination.prefix, archive_filename(spec, job.model_output_name, ct)
                )
                for ct in CONTENT_TYPES
            )
            for key in keys:
                if self._check.archived_sha256(self._destination.bucket, key):
                    return outcome("skipped", target, key=key, reason="already archived")
            ledger_key = idempotency_key(spec, self._destination, None)
            if self._finished is not None and self._finished(ledger_key):
                return outcome("skipped", target, reason="already archived (state table)")
        except ArchiverError as exc:
            return outcome("failed", target, error=str(exc))
        return Pending(target, spec, job, keys)

    def dry_run(self, selection: Selection, since: date | None) -> Iterator[Outcome]:
        def plan(item: Pending) -> Outcome:
            source = self._together.open_download(item.spec)
            name = archive_filename(item.spec, item.job.model_output_name, source.content_type)
            return outcome("planned", item.target, key=object_key(self._destination.prefix, name))

        return self._each(selection, since, plan)

    def enqueue(
        self, selection: Selection, since: date | None, queue: ArchiveRequestQueue, now: float
    ) -> Iterator[Outcome]:
        def send(item: Pending) -> Outcome:
            queue.send_batch(archive_messages([item.target], "backfill", now))
            return outcome("enqueued", item.target)

        return self._each(selection, since, send)

    def _each(
        self, selection: Selection, since: date | None, act: Callable[[Pending], Outcome]
    ) -> Iterator[Outcome]:
        for item in self.survey(selection, since):
            if isinstance(item, Outcome):
                yield item
                continue
            try:
                yield act(item)
            except ArchiverError as exc:
                yield outcome("failed", item.target, error=str(exc))

    def archive(
        self,
        selection: Selection,
        since: date | None,
        runner: ArchiveRunner,
        parallel: int,
    ) -> Iterator[Outcome]:
        """Several archives at once; a failing one does not stop the others. An interrupt
        stops every transfer (each aborts its upload) before it is raised again."""
        cancel = threading.Event()
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="backfill") as pool:
            running: list[tuple[Pending, Future[ArchivedDetail]]] = []
            try:
                for item in self.survey(selection, since):
                    if isinstance(item, Outcome):
                        yield item
                        continue
                    running.append((item, pool.submit(self._archive_one, runner, item, cancel)))
                    while len(running) >= parallel:
                        yield self._settled(*running.pop(0))
                while running:
                    yield self._settled(*running.pop(0))
            except BaseException:
                cancel.set()
                for _, future in running:
                    future.cancel()
                raise

    def _archive_one(
        self, runner: ArchiveRunner, item: Pending, cancel: threading.Event
    ) -> ArchivedDetail:
        target = item.target
        request = ArchiveRequest(target.id, target.checkpoint_step, target.checkpoint_type)
        control = TransferControl(cancel=cancel)
        return without_deadline(runner.archive(request, self._destination, control)).detail

    @staticmethod
    def _settled(item: Pending, future: "Future[ArchivedDetail]") -> Outcome:
        try:
            detail = future.result()
        except Exception as exc:  # one archive's failure is its own line, whatever it was
            error = str(exc) if isinstance(exc, ArchiverError) else type(exc).__name__
            return outcome("failed", item.target, error=error)
        detail_json = detail.model_dump(mode="json")
        return outcome("archived", item.target, key=detail.key, detail=detail_json)
