"""The poller: Together sends no webhooks, so a scheduled tick lists the jobs and queues
an archive request for each archive of every job that completed since it last looked.

Once per job and selection: a tick claims a job in the state table (a conditional
write with a lease) before it enqueues, and records it after. Two ticks at once cannot
both claim; a tick that dies between enqueue and record leaves a claim whose lease
runs out, the next tick enqueues again, and the archiver's idempotency key turns the
duplicate messages (and any webhook for the same job) into one object and one event.

The first tick for a selection records the jobs already completed as the baseline and
archives none of them, except those created on or after ``archive_since``: history is
archived on purpose, with ``ft-archiver backfill``.

A list entry carries only what Together's list promises (``id``, ``status``,
``created_at``): each newly completed job is retrieved before any rule is applied. Only
a true rule refusal of the retrieved job is recorded as skipped for good; a job whose
retrieve failed, or whose answer no rule understands (a training type that is neither
Full nor Lora), is released and looked at again by the next tick.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from ft_archiver.domain.job import JobSummary
from ft_archiver.domain.selection import Selection
from ft_archiver.errors import ArchiverError, RuleError, UnsupportedTrainingTypeError
from ft_archiver.service.fan_out import archive_messages, targets_for
from ft_archiver.service.ports import ArchiveRequestQueue, JobSource, PollLedger

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    jobs_seen: int = 0
    completed: int = 0
    baseline: int = 0  # completed before the first tick: recorded, not archived
    archives_enqueued: int = 0
    jobs_enqueued: list[str] = field(default_factory=list)
    jobs_deferred: int = 0  # over this tick's budget: the next tick takes them
    jobs_skipped: dict[str, str] = field(default_factory=dict)  # job id -> reason, for good
    # job id -> why it was not enqueued this time (a failed retrieve, an answer no rule
    # understands); not recorded, so the next tick tries again
    jobs_retried: dict[str, str] = field(default_factory=dict)


def created_on_or_after(job: JobSummary, since: date | None) -> bool:
    """Whether ``since`` admits the job; a job without a readable creation time does not."""
    if since is None or not job.created_at:
        return False
    try:
        created = datetime.fromisoformat(job.created_at)
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(UTC).date() >= since


class Poller:
    def __init__(
        self,
        together: JobSource,
        queue: ArchiveRequestQueue,
        ledger: PollLedger,
        selection: Selection,
        *,
        archive_since: date | None = None,
        max_archives_per_tick: int = 100,
        lease_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._together = together
        self._queue = queue
        self._ledger = ledger
        self._selection = selection
        self._since = archive_since
        self._budget = max_archives_per_tick
        self._lease_s = lease_s
        self._clock = clock

    def tick(self) -> TickReport:
        """One look at Together. Raises on a Together or AWS failure, having recorded only
        jobs whose archives were all enqueued."""
        label = self._selection.label
        jobs = self._together.list_fine_tunes()
        report = TickReport(jobs_seen=len(jobs))
        completed = [job for job in jobs if job.completed]
        report.completed = len(completed)
        if not self._ledger.baseline_recorded(label):
            history = [j.id for j in completed if not created_on_or_after(j, self._since)]
            self._ledger.record_baseline(label, history)
            report.baseline = len(history)
            completed = [j for j in completed if created_on_or_after(j, self._since)]
        known = self._ledger.known_jobs(label, [job.id for job in completed])
        for job in (j for j in completed if j.id not in known):
            if report.archives_enqueued >= self._budget:
                report.jobs_deferred += 1
            elif self._ledger.claim_job(label, job.id, self._lease_s):
                self._enqueue(job, report)
        return report

    def _enqueue(self, entry: JobSummary, report: TickReport) -> None:
        label = self._selection.label
        try:
            job = self._together.retrieve(entry.id)
            targets = targets_for(self._together, job, self._selection)
        except UnsupportedTrainingTypeError as exc:  # an answer we do not understand
            self._retry_later(entry, str(exc), report)
            return
        except RuleError as exc:
            log.warning("fine-tune %s is not archived: %s", entry.id, exc)
            self._ledger.record_skipped(label, entry.id, str(exc))
            report.jobs_skipped[entry.id] = str(exc)
            return
        except ArchiverError as exc:
            if exc.retryable:  # Together or AWS is down: the whole tick stops here
                self._ledger.release_job(label, entry.id)
                raise
            self._retry_later(entry, str(exc), report)  # this job's answer, not Together
            return
        except BaseException:
            self._ledger.release_job(label, entry.id)
            raise
        room = self._budget - report.archives_enqueued
        if len(targets) > room and report.archives_enqueued > 0:
            self._ledger.release_job(label, job.id)  # a job's archives go in one tick
            report.jobs_deferred += 1
            return
        try:
            self._queue.send_batch(archive_messages(targets, "poller", self._clock()))
        except BaseException:
            self._ledger.release_job(label, job.id)
            raise
        self._ledger.record_enqueued(label, job.id, len(targets))
        report.archives_enqueued += len(targets)
        report.jobs_enqueued.append(job.id)

    def _retry_later(self, entry: JobSummary, reason: str, report: TickReport) -> None:
        log.warning("fine-tune %s is not archived yet, the next tick tries again: %s",
                    entry.id, reason)  # fmt: skip
        self._ledger.release_job(self._selection.label, entry.id)
        report.jobs_retried[entry.id] = reason
