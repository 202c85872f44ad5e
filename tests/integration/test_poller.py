"""The poller over real wire protocols: Together simulator <- PollerFunction -> SQS and
DynamoDB in a moto server -> ArchiverFunction -> S3 + EventBridge. Once per job and
selection, over many ticks, two ticks at once, a crash between enqueue and record, and
a webhook for the same job: one object version and one success event each."""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ft_archiver.adapters.poll_state import DynamoPollLedger
from ft_archiver.domain.events import ARCHIVED
from ft_archiver.domain.selection import Selection
from ft_archiver.handlers import dependencies
from ft_archiver.service.poller import Poller
from ft_archiver.wiring.aws import archive_queue
from ft_archiver.wiring.together import together_client
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import Faults, SimJob, TogetherSimulator
from ft_archiver_tools.local.webhook_sender import send_webhook
from tests.support.aws import set_all
from tests.support.sandbox import ServedSandbox, local_deployment
from tests.support.settings import archiver_variables

KIB = 1024


@pytest.fixture(scope="module")
def sim() -> Iterator[TogetherSimulator]:
    with TogetherSimulator() as simulator:  # its own: the job list is this module's alone
        yield simulator


@pytest.fixture(scope="module")
def deployment(sim: TogetherSimulator) -> Iterator[LocalDeployment]:
    # the tests tick the poller and run the archiver themselves
    environment = archiver_variables(POWERTOOLS_METRICS_DISABLED="true")
    with local_deployment(sim, "poller-test", environment) as local:
        yield local


class World(ServedSandbox):
    def __init__(self, local: LocalDeployment, sim: TogetherSimulator) -> None:
        super().__init__(local, sim, wait_s=1.0)

    def tick(self) -> dict[str, Any]:
        return self.local.tick_poller()

    def archive_all(self) -> int:
        ran = 0
        while self.local.poll_once(wait_s=0):
            ran += 1
        return ran

    def archived_events(self) -> list[dict[str, Any]]:
        return self.events.read(detail_type=ARCHIVED)

    def new_job(self, **options: Any) -> SimJob:
        return self.together.add_job(
            "Lora", size=300 * KIB, model_output_name=f"acme/p-{time.time_ns()}", **options
        )


@pytest.fixture
def world(
    deployment: LocalDeployment, sim: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> World:
    set_all(monkeypatch.setenv, deployment.environment)
    sim.set_faults(Faults())
    dependencies.reset()
    made = World(deployment, sim)
    made.tick()  # the baseline: whatever earlier tests left is history from here on
    made.archive_all()
    made.archived_events()  # and their events are not this test's
    return made


def test_first_tick_is_the_baseline_and_history_is_not_archived(
    deployment: LocalDeployment, sim: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_all(monkeypatch.setenv, deployment.environment)
    monkeypatch.setenv("ARCHIVE_CHECKPOINTS", "1,2,3")  # a selection of its own: a first run
    dependencies.reset()
    world = World(deployment, sim)
    old = world.new_job()
    result = world.tick()
    assert result["ok"] is True
    assert result["baseline"] >= 1
    assert result["archives_enqueued"] == 0
    assert world.queued() == 0
    assert old.id not in result["jobs_enqueued"]


def test_a_job_that_completes_later_is_archived_once_over_many_ticks(world: World) -> None:
    job = world.new_job(status="running")
    assert world.tick()["archives_enqueued"] == 0
    job.status = "completed"
    enqueued = [world.tick()["archives_enqueued"] for _ in range(5)]
    assert enqueued == [1, 0, 0, 0, 0]
    assert world.archive_all() == 1
    [event] = world.archived_events()
    assert event["detail"]["id"] == job.id
    assert len(world.stored.versions_of(event["detail"]["key"])) == 1


def test_every_job_of_a_documented_list_is_archived_by_its_retrieved_type(world: World) -> None:
    """The module's simulator lists jobs as Together documents them, without a training
    type: each job is retrieved, Full (also the legacy {"type": ""}) and LoRA alike."""
    full = world.together.add_job("Full", size=200 * KIB, model_output_name=f"f-{time.time_ns()}")
    legacy = world.together.add_job(
        "Full", size=200 * KIB, model_output_name=f"l-{time.time_ns()}", legacy_training_type=True
    )
    lora = world.new_job()
    assert "training_type" not in world.together.job_list()[-1]
    tick = world.tick()
    assert (tick["archives_enqueued"], tick["jobs_skipped"], tick["jobs_retried"]) == (3, {}, {})
    assert world.archive_all() == 3
    archived = {e["detail"]["id"]: e["detail"] for e in world.archived_events()}
    assert {job.id: archived[job.id]["training_type"] for job in (full, legacy, lora)} == {
        full.id: "Full", legacy.id: "Full", lora.id: "Lora",
    }  # fmt: skip
    assert archived[lora.id]["checkpoint_type"] == "merged"


def test_skips_an_earlier_release_recorded_for_no_training_type_are_taken_up(
    world: World,
) -> None:
    """Before retrieving, a list entry without a training type was skipped for good with
    "has training type None": the next tick archives those jobs; a real rule refusal
    recorded as skipped stays skipped."""
    missed, refused = world.new_job(), world.new_job()
    ledger = DynamoPollLedger(world.local.aws.client("dynamodb"), world.stack.table_name)
    for job in (missed, refused):
        assert ledger.claim_job("final/default", job.id, 60)
    earlier = f"fine-tune {missed.id} has training type None; only 'Full' and 'Lora' ..."
    ledger.record_skipped("final/default", missed.id, earlier)
    ledger.record_skipped("final/default", refused.id, "fine-tune has no checkpoint at step 5")
    tick = world.tick()
    assert tick["jobs_enqueued"] == [missed.id]
    assert world.archive_all() == 1
    assert [e["detail"]["id"] for e in world.archived_events()] == [missed.id]
    assert world.tick()["archives_enqueued"] == 0  # recorded as enqueued now, for good


def test_two_ticks_at_once_enqueue_once(world: World) -> None:
    jobs = [world.new_job() for _ in range(3)]
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def tick() -> None:
        barrier.wait()
        results.append(world.tick())

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["archives_enqueued"] for r in results) == 3
    assert world.queued() == 3
    assert world.archive_all() == 3
    assert sorted(e["detail"]["id"] for e in world.archived_events()) == sorted(j.id for j in jobs)


class CrashAfterEnqueue(DynamoPollLedger):
    """A tick that dies after SendMessageBatch and before it records the job."""

    def record_enqueued(self, selection: str, job_id: str, archives: int) -> None:
        raise SystemExit("killed between enqueue and record")


def test_a_crash_between_enqueue_and_record_still_gives_one_object_and_event(world: World) -> None:
    settings = dependencies.poller_settings()
    job = world.new_job()
    ledger = CrashAfterEnqueue(world.local.aws.client("dynamodb"), world.stack.table_name)
    crashing = Poller(
        together_client(settings), archive_queue(settings), ledger, Selection(), lease_s=0.5
    )
    with pytest.raises(SystemExit):
        crashing.tick()
    assert world.queued() == 1
    time.sleep(0.6)  # the dead tick's claim runs out
    assert world.tick()["jobs_enqueued"] == [job.id]  # enqueued again: nothing was recorded
    assert world.queued() == 2
    assert world.archive_all() == 2
    [event] = world.archived_events()  # the archiver's idempotency key absorbs the duplicate
    assert len(world.stored.versions_of(event["detail"]["key"])) == 1
    assert world.tick()["archives_enqueued"] == 0


def test_a_webhook_and_the_poller_for_one_job_give_one_archive(world: World) -> None:
    job = world.new_job()
    payload = {"type": "fine_tuning.job.completed", "data": {"id": job.id, "status": "completed"}}
    answer = send_webhook(world.local.webhook_url, world.stack.webhook_secret, payload)
    assert answer.status_code == 202
    assert world.tick()["jobs_enqueued"] == [job.id]
    assert world.archive_all() == 2
    [event] = world.archived_events()
    assert len(world.stored.versions_of(event["detail"]["key"])) == 1


def test_together_down_fails_the_tick_cleanly_and_the_next_catches_up(world: World) -> None:
    job = world.new_job()
    world.together.set_faults(Faults(fail_first=50, fail_status=503, targets=frozenset({"api"})))
    result = world.tick()
    assert result["ok"] is False
    assert "503" in result["error"] or "unavailable" in result["error"].lower()
    assert world.queued() == 0
    world.together.set_faults(Faults())
    assert world.tick()["jobs_enqueued"] == [job.id]


def test_a_rejected_key_fails_the_tick_without_a_record(world: World) -> None:
    job = world.new_job()
    secrets = world.local.aws.client("secretsmanager")
    name = dependencies.poller_settings().together_api_key_secret_name
    assert name
    secrets.put_secret_value(SecretId=name, SecretString="wrong-key")
    dependencies.reset()
    try:
        result = world.tick()
        assert result["ok"] is False
        assert "key" in result["error"].lower() or "401" in result["error"]
        assert "wrong-key" not in json.dumps(result)
        assert world.queued() == 0
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=world.together.api_key)
        dependencies.reset()
    assert world.tick()["jobs_enqueued"] == [job.id]


def test_a_webhook_with_a_selection_archives_every_checkpoint(world: World) -> None:
    job = world.new_job(steps={10: 80 * KIB, 20: 90 * KIB})
    payload = {"id": job.id, "status": "completed", "checkpoints": "all", "checkpoint_types": "all"}
    answer = send_webhook(world.local.webhook_url, world.stack.webhook_secret, payload)
    assert answer.status_code == 202, answer.text
    assert answer.json()["checkpoints"] == "all"
    assert world.archive_all() == 1 + 4  # the selection, then one message per archive
    archived = world.archived_events()
    made = sorted((e["detail"]["checkpoint_step"] or 0, e["detail"]["checkpoint_type"])
                  for e in archived)  # fmt: skip
    assert made == [(0, "adapter"), (0, "merged"), (10, "merged"), (20, "merged")]
    assert len({e["detail"]["key"] for e in archived}) == 4
