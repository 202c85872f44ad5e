"""Where the manifest goes in the archive's order of steps, against in-memory fakes."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ft_archiver import __version__
from ft_archiver.adapters import sha256_state
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.events import ARCHIVE_FAILED, ARCHIVED, ArchivedDetail
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import ManifestError, StorageAccessDeniedError, TogetherUnavailableError
from ft_archiver.service.archive import Archiver, TransferOptions
from ft_archiver.service.control import without_deadline
from tests.support.fakes import FakeArchiveLedger, FakePublisher, FakeStore, FakeTogether

JOB_ID = "ft-0123abcd"
KEY = "models/acme--m.tar.zst"
MANIFEST = f"{KEY}.manifest.json"
WHEN = datetime(2026, 11, 25, 16, 57, 42, tzinfo=UTC)
OPTIONS = TransferOptions(
    part_size=1024, part_size_floor=1024, concurrency=2, upload_concurrency=2,
    memory_budget=1 << 20, algorithm=ALGORITHMS["CRC64NVME"],
)  # fmt: skip
JOB = {
    "id": JOB_ID,
    "status": "completed",
    "model": "meta-llama/Meta-Llama-3-8B",
    "model_output_name": "acme/m",
    "training_type": {"type": "Lora", "lora_r": 8},
    "wandb_api_key": "wandb-secret-value",
}
CHECKPOINTS = [
    {"step": 10, "checkpoint_type": "Intermediate", "path": "s3://t/10"},
    {"step": 11, "checkpoint_type": "Final", "path": "s3://t/final"},
]


class World:
    """The fakes, sharing one log of the steps in the order they happened."""

    def __init__(self, size: int = 3000) -> None:
        self.log: list[str] = []
        data = bytes(i % 251 for i in range(size))
        self.together = FakeTogether(data, JOB, CHECKPOINTS, self.log)
        self.store = FakeStore(self.log)
        self.publisher = FakePublisher(self.log)
        self.ledger = FakeArchiveLedger(self.log)
        self.archiver = Archiver(
            self.together, self.store, self.publisher, OPTIONS, sha256_state, self.store,
            ledger=self.ledger,
            clock=lambda: WHEN,
        )  # fmt: skip

    def archive(self, fine_tune_id: str = JOB_ID) -> ArchivedDetail:
        outcome = self.archiver.archive(ArchiveRequest(fine_tune_id), Destination("b", "models/"))
        return without_deadline(outcome).detail

    def manifest(self, key: str = MANIFEST) -> dict[str, Any]:
        assert self.store.specs[key].content_type == "application/json"
        written: dict[str, Any] = json.loads(self.store.objects[key])
        return written


def test_the_manifest_is_written_after_the_tag_and_before_the_ledger_and_the_event() -> None:
    world = World()
    detail = world.archive()
    assert world.log == [
        "retrieve", "list_checkpoints", "open_download", f"tag {KEY}", f"put {MANIFEST}",
        "finish_archive", f"publish {ARCHIVED}", "mark_published",
    ]  # fmt: skip
    assert detail.manifest_key == MANIFEST
    assert world.publisher.events == [(ARCHIVED, detail.model_dump(mode="json"))]
    assert world.ledger.items[next(iter(world.ledger.items))]["detail"]["manifest_key"] == MANIFEST


def test_the_manifest_describes_the_final_archive() -> None:
    world = World()
    detail = world.archive()
    manifest = world.manifest()
    assert manifest["job"] == {k: v for k, v in JOB.items() if k != "wandb_api_key"}
    assert manifest["checkpoint"] == CHECKPOINTS[1]
    assert (manifest["fine_tune_id"], manifest["checkpoint_step"]) == (JOB_ID, None)
    assert manifest["checkpoint_type"] == "merged"
    result = manifest["result"]
    assert result["archived_at"] == "2026-11-25T16:57:42.000Z"
    assert result["ft_archiver_version"] == __version__
    fields = ("bucket", "key", "size", "sha256", "checksum", "etag", "version_id", "parts")
    assert {f: result[f] for f in fields} == {f: getattr(detail, f) for f in fields}
    assert result["version_id"] == "v-multipart"
    assert "wandb-secret-value" not in world.store.objects[MANIFEST].decode()


def test_a_step_archive_has_its_intermediate_entry() -> None:
    world = World()
    world.together.checkpoints = [*CHECKPOINTS, {"step": 10, "checkpoint_type": "Final"}]
    detail = world.archive(f"{JOB_ID}:10")
    manifest = world.manifest("models/acme--m-checkpoint-10.tar.zst.manifest.json")
    assert detail.checkpoint_step == manifest["checkpoint_step"] == 10
    assert manifest["checkpoint"] == CHECKPOINTS[0]


def test_no_matching_entry_is_a_null_checkpoint() -> None:
    world = World(size=100)  # a single PutObject archive
    world.together.checkpoints = [CHECKPOINTS[0]]
    world.archive()
    assert world.manifest()["checkpoint"] is None
    assert world.manifest()["result"]["parts"] == 1


def test_a_manifest_that_cannot_be_written_removes_the_archive_and_fails() -> None:
    world = World()
    world.store.fail_put_key = MANIFEST
    with pytest.raises(ManifestError, match="the archive object was removed"):
        world.archive()
    assert world.store.objects == {}
    assert world.log[-4:] == [f"put {MANIFEST}", f"delete {KEY}", "release_archive",
                              f"publish {ARCHIVE_FAILED}"]  # fmt: skip
    [(detail_type, failed)] = world.publisher.events
    assert (detail_type, failed["error_type"], failed["retryable"]) == (
        ARCHIVE_FAILED, "ManifestError", True,
    )  # fmt: skip


def test_a_manifest_s3_denies_is_not_retryable() -> None:
    world = World()
    world.store.fail_put_key = MANIFEST
    world.store.fail_put_error = StorageAccessDeniedError
    with pytest.raises(ManifestError) as raised:
        world.archive()
    assert raised.value.retryable is False
    assert world.store.objects == {}
    [(_, failed)] = world.publisher.events
    assert (failed["error_type"], failed["retryable"]) == ("ManifestError", False)


def test_a_failing_checkpoint_list_costs_nothing() -> None:
    world = World()
    world.together.fail_checkpoints = True
    with pytest.raises(TogetherUnavailableError):
        world.archive()
    assert "open_download" not in world.log
    assert world.store.objects == {}
    assert [event for event, _ in world.publisher.events] == [ARCHIVE_FAILED]


def test_a_redelivery_of_a_finished_archive_rewrites_nothing() -> None:
    world = World()
    first = world.archive()
    world.log.clear()
    again = world.archive()
    assert again == first
    assert world.log == ["retrieve"]  # no checkpoint list, no write, no second event
    assert len(world.publisher.events) == 1


def test_a_result_stored_before_manifests_is_announced_without_one() -> None:
    world = World()
    world.archive()
    [item] = world.ledger.items.values()
    item["detail"] = {k: v for k, v in item["detail"].items() if k != "manifest_key"}
    item["published"] = False
    world.log.clear()
    detail = world.archive()
    assert detail.manifest_key is None
    assert world.log == ["retrieve", f"publish {ARCHIVED}", "mark_published"]
    assert world.publisher.events[-1][1]["manifest_key"] is None
