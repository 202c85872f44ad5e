"""The poller's decisions, against in-memory ports: baseline, ArchiveSince, budget,
skips and the clean failure of a tick. The once-per-job guarantee over real DynamoDB
and SQS is in tests/integration/test_poller.py."""

from collections.abc import Sequence
from datetime import date

import pytest

from ft_archiver.domain.job import Checkpoint, FineTuneJob, JobSummary
from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.domain.selection import Selection, TypeChoice
from ft_archiver.errors import FineTuneNotFoundError, StorageError, TogetherUnavailableError
from ft_archiver.service.poller import Poller, created_on_or_after


class Together:
    def __init__(self) -> None:
        self.jobs: list[FineTuneJob] = []
        self.steps: dict[str, list[int]] = {}
        self.down = False
        self.missing: set[str] = set()  # listed, but retrieve answers 404
        self.retrieved: list[str] = []

    def add(self, status: str = "completed", created: str = "2026-11-01T00:00:00Z",
            training_type: str = "Lora", steps: Sequence[int] = ()) -> str:  # fmt: skip
        job_id = f"ft-{len(self.jobs):04d}"
        self.jobs.append(FineTuneJob.model_validate(
            {"id": job_id, "status": status, "created_at": created,
             "training_type": {"type": training_type}}
        ))  # fmt: skip
        self.steps[job_id] = list(steps)
        return job_id

    def complete(self, job_id: str) -> None:
        self.jobs = [j.model_copy(update={"status": "completed"}) if j.id == job_id else j
                     for j in self.jobs]  # fmt: skip

    def list_fine_tunes(self) -> list[JobSummary]:
        """As Together documents the list: no training type on an entry."""
        if self.down:
            raise TogetherUnavailableError("Together is down")
        return [
            JobSummary.model_validate({"id": j.id, "status": j.status, "created_at": j.created_at})
            for j in self.jobs
        ]

    def retrieve(self, fine_tune_id: str) -> FineTuneJob:
        if self.down:
            raise TogetherUnavailableError("Together is down")
        if fine_tune_id in self.missing:
            raise FineTuneNotFoundError(f"fine-tune {fine_tune_id} not found")
        self.retrieved.append(fine_tune_id)
        return next(j for j in self.jobs if j.id == fine_tune_id)

    def list_checkpoints(self, fine_tune_id: str) -> list[Checkpoint]:
        if self.down:
            raise TogetherUnavailableError("Together is down")
        return [
            Checkpoint(step=s, checkpoint_type="Intermediate") for s in self.steps[fine_tune_id]
        ]


class Queue:
    def __init__(self) -> None:
        self.sent: list[ArchiveMessage] = []
        self.refuse = False

    def send_batch(self, messages: Sequence[ArchiveMessage]) -> list[str]:
        if self.refuse:
            raise StorageError("SQS refused")
        self.sent.extend(messages)
        return [str(n) for n in range(len(messages))]

    def targets(self) -> list[tuple[str, int | None, str]]:
        return [(m.id, m.checkpoint_step, m.checkpoint_type) for m in self.sent]


class Ledger:
    def __init__(self) -> None:
        self.baselines: set[str] = set()
        self.records: dict[tuple[str, str], str] = {}

    def baseline_recorded(self, selection: str) -> bool:
        return selection in self.baselines

    def record_baseline(self, selection: str, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self.records[(selection, job_id)] = "baseline"
        self.baselines.add(selection)

    def known_jobs(self, selection: str, job_ids: Sequence[str]) -> set[str]:
        return {j for j in job_ids if (selection, j) in self.records}

    def claim_job(self, selection: str, job_id: str, lease_s: float) -> bool:
        if (selection, job_id) in self.records:
            return False
        self.records[(selection, job_id)] = "claimed"
        return True

    def record_enqueued(self, selection: str, job_id: str, archives: int) -> None:
        self.records[(selection, job_id)] = "enqueued"

    def record_skipped(self, selection: str, job_id: str, reason: str) -> None:
        self.records[(selection, job_id)] = "skipped"

    def release_job(self, selection: str, job_id: str) -> None:
        del self.records[(selection, job_id)]


@pytest.fixture
def world() -> tuple[Together, Queue, Ledger]:
    return Together(), Queue(), Ledger()


def poller(
    world: tuple[Together, Queue, Ledger],
    selection: Selection | None = None,
    archive_since: date | None = None,
    max_archives_per_tick: int = 100,
) -> Poller:
    together, queue, ledger = world
    return Poller(
        together, queue, ledger, selection or Selection(), archive_since=archive_since,
        max_archives_per_tick=max_archives_per_tick, clock=lambda: 1000.0,
    )  # fmt: skip


def test_first_tick_records_history_and_archives_nothing(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, queue, ledger = world
    old = together.add()
    together.add(status="running")
    report = poller(world).tick()
    assert (report.jobs_seen, report.completed, report.baseline) == (2, 1, 1)
    assert queue.sent == []
    assert ledger.records[("final/default", old)] == "baseline"


def test_a_job_completed_after_the_first_tick_is_queued_once(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, queue, _ = world
    together.add()
    running = together.add(status="running")
    p = poller(world)
    p.tick()
    together.complete(running)
    report = p.tick()
    assert report.jobs_enqueued == [running]
    assert queue.targets() == [(running, None, "default")]
    assert {m.origin for m in queue.sent} == {"poller"}
    assert p.tick().archives_enqueued == 0
    assert len(queue.sent) == 1


def test_archive_since_admits_history_created_on_or_after_it(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, queue, _ = world
    together.add(created="2026-10-31T23:59:59Z")
    recent = together.add(created="2026-11-01T00:00:00Z")
    report = poller(world, archive_since=date(2026, 11, 1)).tick()
    assert report.baseline == 1
    assert queue.targets() == [(recent, None, "default")]


@pytest.mark.parametrize(
    ("created", "admitted"),
    [("2026-11-02T08:00:00+09:00", False), ("2026-11-02T08:00:00-02:00", True),
     ("2026-11-02T00:00:00", True), (None, False), ("yesterday", False)],
)  # fmt: skip
def test_creation_dates_are_compared_in_utc(created: str | None, admitted: bool) -> None:
    job = FineTuneJob.model_validate({"id": "ft-1", "created_at": created})
    assert created_on_or_after(job, date(2026, 11, 2)) is admitted


def test_the_selection_expands_every_checkpoint(world: tuple[Together, Queue, Ledger]) -> None:
    together, queue, _ = world
    p = poller(world, Selection("all", TypeChoice.ALL))
    p.tick()
    job = together.add(steps=[200, 100])
    p.tick()
    assert queue.targets() == [
        (job, None, "merged"), (job, None, "adapter"), (job, 100, "default"), (job, 200, "default"),
    ]  # fmt: skip


def test_budget_defers_whole_jobs_to_the_next_tick(world: tuple[Together, Queue, Ledger]) -> None:
    together, queue, _ = world
    p = poller(world, Selection(checkpoint_types=TypeChoice.ALL), max_archives_per_tick=3)
    p.tick()
    jobs = [together.add() for _ in range(3)]  # two archives each
    first = p.tick()
    assert (first.archives_enqueued, first.jobs_enqueued, first.jobs_deferred) == (2, jobs[:1], 2)
    second = p.tick()
    assert (second.archives_enqueued, second.jobs_enqueued) == (2, jobs[1:2])
    assert p.tick().jobs_enqueued == jobs[2:]
    assert p.tick().archives_enqueued == 0
    assert len(queue.sent) == 6


def test_one_job_bigger_than_the_budget_still_goes(world: tuple[Together, Queue, Ledger]) -> None:
    together = world[0]
    p = poller(world, Selection("all"), max_archives_per_tick=2)
    p.tick()
    together.add(steps=[1, 2, 3])
    assert p.tick().archives_enqueued == 4


def test_a_job_that_breaks_the_rules_is_skipped_for_good(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, queue, ledger = world
    p = poller(world, Selection((5,)))
    p.tick()
    job = together.add(steps=[100])
    report = p.tick()
    assert "no checkpoint at step 5" in report.jobs_skipped[job]
    assert ledger.records[("5/default", job)] == "skipped"
    assert queue.sent == []


def test_together_down_fails_the_tick_without_a_record(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, _, ledger = world
    p = poller(world, Selection("all"))
    p.tick()
    job = together.add(steps=[100])
    together.down = True
    with pytest.raises(TogetherUnavailableError):
        p.tick()
    assert ("all/default", job) not in ledger.records
    together.down = False
    assert p.tick().jobs_enqueued == [job]


def test_queue_refusal_releases_the_claim(world: tuple[Together, Queue, Ledger]) -> None:
    together, queue, ledger = world
    p = poller(world)
    p.tick()
    job = together.add()
    queue.refuse = True
    with pytest.raises(StorageError):
        p.tick()
    assert ("final/default", job) not in ledger.records
    queue.refuse = False
    assert p.tick().jobs_enqueued == [job]


def test_a_new_selection_starts_with_its_own_baseline(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, queue, _ = world
    poller(world).tick()
    together.add()
    report = poller(world, Selection("all")).tick()
    assert report.baseline == 1
    assert queue.sent == []


def test_rules_are_applied_to_the_retrieved_job_not_the_list_entry(
    world: tuple[Together, Queue, Ledger],
) -> None:
    """The list carries no training type: a Full job is archived as Full, a LoRA job as
    merged, each retrieved once, and no job of the baseline is retrieved at all."""
    together, queue, _ = world
    history = together.add()
    p = poller(world, Selection(checkpoint_types=TypeChoice.ALL))
    p.tick()
    full, lora = together.add(training_type="Full"), together.add(training_type="Lora")
    report = p.tick()
    assert report.jobs_skipped == {}
    assert queue.targets() == [(full, None, "default"), (lora, None, "merged"),
                               (lora, None, "adapter")]  # fmt: skip
    assert together.retrieved == [full, lora]
    assert history not in together.retrieved


def test_the_legacy_empty_training_type_is_full(world: tuple[Together, Queue, Ledger]) -> None:
    together, queue, _ = world
    p = poller(world, Selection(checkpoint_types=TypeChoice.ALL))
    p.tick()
    job = together.add(training_type="")
    assert p.tick().jobs_enqueued == [job]
    assert queue.targets() == [(job, None, "default")]


def test_an_answer_no_rule_understands_is_tried_again_not_skipped(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, queue, ledger = world
    p = poller(world)
    p.tick()
    odd = together.add(training_type="Distilled")
    report = p.tick()
    assert "training type 'Distilled'" in report.jobs_retried[odd]
    assert report.jobs_skipped == {}
    assert ("final/default", odd) not in ledger.records
    assert odd in p.tick().jobs_retried  # looked at again, every tick
    assert queue.sent == []


def test_a_failed_retrieve_is_tried_again_and_does_not_stop_the_others(
    world: tuple[Together, Queue, Ledger],
) -> None:
    together, _, ledger = world
    p = poller(world)
    p.tick()
    gone, fine = together.add(), together.add()
    together.missing.add(gone)
    report = p.tick()
    assert "not found" in report.jobs_retried[gone]
    assert report.jobs_enqueued == [fine]
    assert ("final/default", gone) not in ledger.records
    together.missing.clear()
    assert p.tick().jobs_enqueued == [gone]
