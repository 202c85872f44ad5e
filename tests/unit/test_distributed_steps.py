"""The distributed archive's steps against in-memory fakes, one after another as the
state machine runs them: plan, every batch, complete, the read-back, finish; and what
each does when run again or when something is missing."""

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.distributed import (
    BatchItem,
    DistributedPlan,
    DistributedStart,
    sha256_tree,
    step_failure,
)
from ft_archiver.domain.events import ARCHIVED
from ft_archiver.domain.parts import Lanes
from ft_archiver.errors import IncompleteUploadError, StorageError
from ft_archiver.service.announce import Announcer
from ft_archiver.service.archive_plan import TransferOptions
from ft_archiver.service.distributed import verify_step
from ft_archiver.service.distributed.abort_step import abort_archive
from ft_archiver.service.distributed.batch_step import upload_batch
from ft_archiver.service.distributed.complete_step import complete_upload
from ft_archiver.service.distributed.finish_step import finish_archive
from ft_archiver.service.distributed.plan_step import DistributedOptions, plan_distributed
from ft_archiver.service.distributed.verify_step import read_back_sha256
from ft_archiver.service.spans import no_span
from tests.support.fakes import (
    FakeArchiveLedger,
    FakePartDigests,
    FakePublisher,
    FakeStore,
    FakeTogether,
)

PART = 1024
DATA = bytes((i * 7) % 251 for i in range(10 * PART + 17))  # 11 parts
JOB = {"id": "ft-0123abcd", "status": "completed", "model_output_name": "acme/m",
       "training_type": {"type": "Lora"}}  # fmt: skip
OPTIONS = TransferOptions(
    part_size=PART, part_size_floor=PART, concurrency=3, upload_concurrency=3,
    memory_budget=1 << 20, algorithm=ALGORITHMS["CRC64NVME"],
)  # fmt: skip
SPREAD = DistributedOptions(workers=4, batch_bytes=3 * PART, batch_timeout_s=900,
                            verify_sha256_up_to=1 << 30)  # fmt: skip
START = DistributedStart(
    fine_tune_id="ft-0123abcd", checkpoint_step=None, requested_type="default",
    explicit_key=None, bucket="b", prefix="models/", confine_keys=True,
    lease_key="lease-1", owner="owner-1",
)  # fmt: skip
LANES = Lanes(downloads=3, uploads=3, buffers=3)


class World:
    def __init__(self) -> None:
        self.together = FakeTogether(DATA, JOB, [])
        self.store = FakeStore()
        self.digests = FakePartDigests()
        self.ledger = FakeArchiveLedger()
        self.ledger.claim_archive("lease-1", "owner-1", 60, 3600)
        self.publisher = FakePublisher()
        self.plan, self.batches = plan_distributed(
            START, self.together, self.store, OPTIONS, SPREAD, self.ledger
        )

    def upload(self, batch: BatchItem) -> int:
        progress = upload_batch(
            self.plan, batch, self.together, self.store, self.digests, LANES,
            lambda: 100.0, 1.0,
        )  # fmt: skip
        assert not progress.more
        return progress.parts_done


def test_plan_batches_cover_every_part_once() -> None:
    world = World()
    assert (world.plan.parts, world.plan.size) == (11, len(DATA))
    assert [(b.first, b.last) for b in world.batches] == [(1, 3), (4, 6), (7, 9), (10, 11)]
    assert world.plan.key == "models/acme--m.tar.zst"
    assert not world.store.uploads[0].aborted  # left open for the workers
    recorded = world.ledger.items["lease-1"]["plan"]
    assert (recorded["upload_id"], len(recorded["batches"])) == ("fake-upload", 4)


def test_a_whole_run_stores_the_bytes_with_part_digests_and_one_event() -> None:
    world = World()
    for batch in world.batches:
        world.upload(batch)
    completed = complete_upload(world.plan, world.batches, world.store, world.digests, world.store)
    assert world.store.objects[world.plan.key] == DATA
    part_digests = [
        hashlib.sha256(DATA[i : i + PART]).hexdigest() for i in range(0, len(DATA), PART)
    ]
    assert completed.sha256_tree == sha256_tree(part_digests)
    assert completed.checksum == OPTIONS.algorithm.encode(OPTIONS.algorithm.compute(DATA))
    hashed = read_back_sha256(world.plan, completed, None, world.store, sha256_state,
                              lambda: 100.0, 1.0)  # fmt: skip
    assert hashed.sha256 == hashlib.sha256(DATA).hexdigest()
    detail = finish_archive(
        world.plan, world.batches, completed, hashed.sha256, datetime.now(UTC),
        world.together, world.store, world.digests, world.ledger,
        Announcer(world.publisher, no_span),
    )  # fmt: skip
    assert (detail.sha256, detail.sha256_tree, detail.parts) == (
        hashed.sha256, completed.sha256_tree, 11,
    )  # fmt: skip
    assert [t for t, _ in world.publisher.events] == [ARCHIVED]
    assert world.ledger.items["lease-1"]["status"] == "done"
    assert world.digests.items == {}  # forgotten once finished


def test_a_batch_run_again_fetches_nothing_it_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    batch = world.batches[1]
    assert world.upload(batch) == 3
    reads: list[int] = []
    original = world.together.read_range

    def counted(source: Any, start: int, into: memoryview, cancel: Any = None) -> None:
        reads.append(start)
        original(source, start, into, cancel)

    monkeypatch.setattr(world.together, "read_range", counted)
    assert world.upload(batch) == 3
    assert reads == []


def test_complete_run_again_after_it_completed_finds_the_object_it_made() -> None:
    world = World()
    for batch in world.batches:
        world.upload(batch)
    first = complete_upload(world.plan, world.batches, world.store, world.digests, world.store)
    again = complete_upload(world.plan, world.batches, world.store, world.digests, world.store)
    assert again == first
    world.store.objects[world.plan.key] = DATA[:-1] + b"?"  # not what the parts make
    with pytest.raises(IncompleteUploadError, match="is gone and no object"):
        complete_upload(world.plan, world.batches, world.store, world.digests, world.store)


def test_complete_refuses_an_upload_with_a_part_missing() -> None:
    world = World()
    for batch in world.batches[:-1]:
        world.upload(batch)
    with pytest.raises(IncompleteUploadError, match=r"2 of 11 parts .*\(first: part 10\)"):
        complete_upload(world.plan, world.batches, world.store, world.digests, world.store)
    assert not world.store.uploads[0].aborted  # Abort, not Complete, ends it


def test_the_read_back_goes_on_over_invocations_from_the_saved_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World()
    for batch in world.batches:
        world.upload(batch)
    completed = complete_upload(world.plan, world.batches, world.store, world.digests, world.store)
    monkeypatch.setattr(verify_step, "READ_CHUNK", 4 * PART)
    clock = iter([100.0, 0.0, 100.0, 0.0, 100.0, 100.0, 100.0])
    progress = None
    invocations = 0
    while progress is None or progress.more:
        invocations += 1
        progress = read_back_sha256(world.plan, completed, progress, world.store,
                                    sha256_state, lambda: next(clock), 1.0)  # fmt: skip
        if progress.more:
            assert base64.b64decode(progress.digest_state)
    assert invocations == 3
    assert progress.sha256 == hashlib.sha256(DATA).hexdigest()


def test_a_failure_handed_on_by_a_catch_says_what_failed() -> None:
    lambda_cause = (
        '{"errorMessage": "IncompleteUploadError: 2 of 11 parts", "errorType": "StepError"}'
    )
    assert step_failure({"Error": "StepError", "Cause": lambda_cause}) == (
        "IncompleteUploadError", "2 of 11 parts", False,
    )  # fmt: skip
    assert step_failure({"Error": "States.Timeout", "Cause": ""}) == (
        "States.Timeout", "States.Timeout", True,
    )  # fmt: skip
    retried = {"Error": "RetryableStepError", "Cause": "TogetherUnavailableError: 503"}
    assert step_failure(retried) == ("TogetherUnavailableError", "503", True)


def test_every_error_the_state_machine_retries_is_reported_retryable() -> None:
    definition = json.loads(
        (Path(__file__).resolve().parents[2] / "infra/archive.asl.json").read_text()
    )

    def retried(node: Any) -> set[str]:
        if isinstance(node, list):
            return set().union(*map(retried, node)) if node else set()
        if not isinstance(node, dict):
            return set()
        found = {name for rule in node.get("Retry", []) for name in rule["ErrorEquals"]}
        return found.union(*(retried(value) for value in node.values()))

    names = retried(definition) - {"States.ALL"}  # Abort retries whatever stops it
    assert "Lambda.SdkClientException" in names  # the walk found the Retry lists
    for name in names:
        assert step_failure({"Error": name, "Cause": ""})[2], name


def test_the_plan_is_json_the_state_machine_can_carry() -> None:
    world = World()
    again = DistributedPlan.model_validate_json(world.plan.model_dump_json())
    assert again == world.plan


def test_an_archive_of_more_batches_than_a_state_carries_gets_larger_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ft_archiver.domain import batches

    monkeypatch.setattr(batches, "MAX_BATCHES", 2)
    world = World()
    assert [(b.first, b.last) for b in world.batches] == [(1, 6), (7, 11)]


def test_plan_run_again_answers_the_recorded_plan_and_starts_no_second_upload() -> None:
    world = World()  # Plan ran once; its answer was lost, so Step Functions runs it again
    again, batches = plan_distributed(
        START, world.together, world.store, OPTIONS, SPREAD, world.ledger
    )
    assert (again, batches) == (world.plan, world.batches)
    assert len(world.store.uploads) == 1


class LateLedger(FakeArchiveLedger):
    """A ledger read before an earlier run of Plan recorded its plan, written after."""

    def recorded_plan(self, key: str, owner: str) -> dict[str, Any] | None:
        return None


def test_plan_that_loses_the_race_to_record_aborts_its_upload_and_answers_the_first() -> None:
    world = World()  # the first run recorded its plan after the second looked
    late = LateLedger()
    late.items = world.ledger.items
    again, batches = plan_distributed(START, world.together, world.store, OPTIONS, SPREAD, late)
    assert (again, batches) == (world.plan, world.batches)
    first, second = world.store.uploads
    assert (first.aborted, second.aborted) == (False, True)


def test_a_plan_recorded_for_another_start_is_refused() -> None:
    world = World()
    other = START.model_copy(update={"explicit_key": "models/elsewhere.tar.zst"})
    with pytest.raises(StorageError, match="not this request's"):
        plan_distributed(other, world.together, world.store, OPTIONS, SPREAD, world.ledger)
    assert len(world.store.uploads) == 1


def test_abort_after_plan_recorded_its_plan_aborts_that_upload() -> None:
    world = World()  # Plan recorded its plan, then failed: the Catch has no plan to hand on
    abort_archive(
        START, None, [], None, ("Lambda.Unknown", "the answer was lost", True), world.store,
        world.digests, world.ledger, Announcer(world.publisher, no_span),
    )  # fmt: skip
    assert world.store.uploads[0].aborted
    assert world.ledger.items["lease-1"]["status"] == "failed"
    [(detail_type, detail)] = world.publisher.events
    assert (detail_type, detail["error_type"]) == ("Fine-tune Archive Failed", "Lambda.Unknown")
