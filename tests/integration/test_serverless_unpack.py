"""The stack's unpack stage, locally (``Unpack=true``): ArchiverFunction's Fine-tune
Archived event -> the stack's EventBridge rule (moto's) -> UnpackQueue -> UnpackFunction
-> a folder of the model's files, its index, the manifest's pointer and Fine-tune Unpacked;
with the template's resources in a moto server and the handlers run as Lambda's event
source mappings would run them."""

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver_tools.local.model_archive import ModelSpec
from ft_archiver_tools.local.resources import LocalUnpackStage
from ft_archiver_tools.local.serve import Delivery, LocalDeployment
from ft_archiver_tools.local.simulator import Faults, SimJob, TogetherSimulator
from tests.support.aws import set_all
from tests.support.sandbox import ServedSandbox, local_deployment
from tests.support.settings import archiver_variables

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture(scope="module")
def deployment(together: TogetherSimulator) -> Iterator[LocalDeployment]:
    environment = archiver_variables(FT_ARCHIVER_LEASE_WAIT=0)
    name = f"unpack-{uuid.uuid4().hex[:6]}"
    with local_deployment(together, name, environment, parameters={"Unpack": "true"}) as local:
        yield local


class UnpackTopology(ServedSandbox):
    def __init__(self, local: LocalDeployment, together: TogetherSimulator) -> None:
        super().__init__(local, together, wait_s=2.0)
        for url in (self.stack.queue_url, self.unpack.queue_url, self.unpack.dead_letter_queue_url):
            self.drain(url)

    @property
    def unpack(self) -> LocalUnpackStage:
        assert self.stack.unpack is not None
        return self.stack.unpack

    def archived(self, spec: ModelSpec, training_type: str = "Lora") -> tuple[SimJob, str]:
        """The model's job, archived by ArchiverFunction off ArchiveQueue; its key."""
        job = self.together.add_job(
            training_type, model=spec, model_output_name=f"acme/m-{time.time_ns()}"
        )
        archived = self.archive(job, "default")
        return job, str(archived["detail"]["key"])

    def archive(self, job: SimJob, checkpoint_type: str, key: str | None = None) -> dict[str, Any]:
        """ArchiverFunction's run on the job's request; its Fine-tune Archived event."""
        message = ArchiveMessage(id=job.id, checkpoint_type=checkpoint_type, origin="backfill",
                                 received_at=time.time(), key=key)  # fmt: skip
        self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=message.model_dump_json())
        [delivery] = self.local.deliver(wait_s=0)
        assert not delivery.failed
        [archived] = self.events.read(detail_type="Fine-tune Archived", job_id=job.id)
        return archived

    def run_unpacker(self, timeout_s: float | None = None) -> list[Delivery]:
        """One UnpackQueue delivery; a failed message's delay played out at once."""
        made = self.local.deliver_unpack(wait_s=1, timeout_s=timeout_s)
        for delivery in made:
            if delivery.failed and delivery.visibility_s:
                self.local.skip_delay(delivery)
        return made

    def unpacked_events(self, job: SimJob) -> list[dict[str, Any]]:
        return [e for e in self.events.read(job_id=job.id) if "Unpack" in e["detail-type"]]


@pytest.fixture
def topology(
    deployment: LocalDeployment, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[UnpackTopology]:
    set_all(monkeypatch.setenv, deployment.environment)
    together.set_faults(Faults())
    yield UnpackTopology(deployment, together)
    together.set_faults(Faults())


def folder_of(key: str) -> str:
    return key.removesuffix(".tar.zst").removesuffix(".tar.gz") + "/"


def assert_unpacked(topology: UnpackTopology, spec: ModelSpec, key: str) -> dict[str, Any]:
    """The folder holds exactly the tar's files, byte for byte; its index is complete and
    the archive's manifest points at it. Returns the index."""
    model = topology.together.model_archive(spec)
    top = f"{spec.top}/" if spec.top else ""
    expected = {name.removeprefix(top): d.sha256 for name, d in model.digests().items()}
    folder = folder_of(key)
    stored = {
        item["Key"].removeprefix(folder): topology.stored.sha256_of(item["Key"])
        for item in topology.stored.versions_under(folder)
    }
    assert stored == expected
    index = topology.stored.manifest(folder.rstrip("/") + ".files.json")
    assert index["status"] == "complete"
    assert {entry["path"]: entry["sha256"] for entry in index["files"]} == expected
    manifest = topology.stored.manifest(key + ".manifest.json")
    assert manifest["unpacked"]["index_key"] == folder.rstrip("/") + ".files.json"
    assert topology.stored.open_uploads() == []
    return index


def test_an_archived_merged_model_is_unpacked_by_the_stack(topology: UnpackTopology) -> None:
    spec = ModelSpec(size=1 * MIB, seed=11, shards=2)
    job, key = topology.archived(spec)
    [delivery] = topology.run_unpacker()  # the rule put the archiver's event on UnpackQueue
    assert json.loads(delivery.body)["detail-type"] == "Fine-tune Archived"
    assert not delivery.failed
    index = assert_unpacked(topology, spec, key)
    [event] = topology.unpacked_events(job)
    detail = event["detail"]
    assert event["detail-type"] == "Fine-tune Unpacked"
    assert (detail["archive_key"], detail["folder"]) == (key, folder_of(key))
    assert detail["index_key"] == folder_of(key).rstrip("/") + ".files.json"
    assert detail["files"] == len(index["files"])
    assert detail["bytes"] == sum(entry["size"] for entry in index["files"])
    assert detail["readiness"]["vllm_runai_streamer"]["ready"] is True
    assert topology.queued(topology.unpack.queue_url) == 0


def test_archives_of_one_name_in_two_folders_unpack_into_two_folders(
    topology: UnpackTopology,
) -> None:
    """Explicit keys live in folders under the prefix: models/a/m and models/b/m must not
    share the folder models/m/."""
    spec = ModelSpec(size=256 * KIB, seed=19)
    run = time.time_ns()
    keys = [f"{topology.stack.prefix}{team}-{run}/m.tar.zst" for team in ("a", "b")]
    for key in keys:
        job = topology.together.add_job("Lora", model=spec, model_output_name="acme/m")
        assert topology.archive(job, "default", key)["detail"]["key"] == key
        [delivery] = topology.run_unpacker()
        assert not delivery.failed
    for key in keys:
        assert_unpacked(topology, spec, key)  # each beside its archive
    assert topology.stored.versions_under(f"{topology.stack.prefix}m/") == []


def test_a_full_models_archive_is_unpacked_too(topology: UnpackTopology) -> None:
    spec = ModelSpec(size=512 * KIB, seed=12, compression="gzip", gzip_members=True)
    job, key = topology.archived(spec, training_type="Full")
    [delivery] = topology.run_unpacker()
    assert not delivery.failed
    assert_unpacked(topology, spec, key)
    assert [e["detail-type"] for e in topology.unpacked_events(job)] == ["Fine-tune Unpacked"]


def test_an_adapter_is_left_to_its_archive_by_the_rule_and_by_the_handler(
    topology: UnpackTopology,
) -> None:
    spec = ModelSpec(size=512 * KIB, seed=13, shards=1)
    job = topology.together.add_job(
        "Lora", model=spec, model_output_name=f"acme/a-{time.time_ns()}"
    )
    archived = topology.archive(job, "adapter")
    assert archived["detail"]["checkpoint_type"] == "adapter"
    assert topology.local.deliver_unpack(wait_s=1) == []  # the rule did not select it
    # Sent by hand, as another rule or a person might: the handler holds to UnpackAdapters.
    topology.sqs.send_message(QueueUrl=topology.unpack.queue_url, MessageBody=json.dumps(archived))
    [delivery] = topology.run_unpacker()
    assert not delivery.failed
    assert topology.stored.versions_under(folder_of(archived["detail"]["key"])) == []
    assert topology.unpacked_events(job) == []


def test_an_unpack_longer_than_one_invocation_continues_through_the_queue(
    topology: UnpackTopology, reconfigure: Callable[[str, str], None]
) -> None:
    """Every invocation is past its deadline from the start (margin 600 s of 300 s): each
    stores one file and continues; no file is uploaded twice."""
    reconfigure("FT_ARCHIVER_DEADLINE_MARGIN", "600")
    spec = ModelSpec(size=512 * KIB, seed=14, shards=2)
    job, key = topology.archived(spec)
    deliveries: list[Delivery] = []
    while len(deliveries) < 30 and (made := topology.run_unpacker(timeout_s=300)):
        deliveries += made
    assert not any(d.failed for d in deliveries)
    continuations = [json.loads(d.body).get("continuations", 0) for d in deliveries]
    index = assert_unpacked(topology, spec, key)
    assert continuations == list(range(len(index["files"])))  # one file per invocation
    for entry in index["files"]:
        assert len(topology.stored.versions_of(entry["key"])) == 1
    assert [e["detail-type"] for e in topology.unpacked_events(job)] == ["Fine-tune Unpacked"]


def test_an_unpack_past_the_continuation_limit_fails_once_and_is_not_retried(
    topology: UnpackTopology, reconfigure: Callable[[str, str], None]
) -> None:
    reconfigure("FT_ARCHIVER_DEADLINE_MARGIN", "600")
    reconfigure("FT_ARCHIVER_MAX_CONTINUATIONS", "2")
    spec = ModelSpec(size=512 * KIB, seed=15, shards=2)
    job, key = topology.archived(spec)
    deliveries: list[Delivery] = []
    while len(deliveries) < 10 and (made := topology.run_unpacker(timeout_s=300)):
        deliveries += made
    assert len(deliveries) == 3  # the first invocation and two continuations
    assert not any(d.failed for d in deliveries)  # deleted: the same limit every time
    [event] = topology.unpacked_events(job)
    assert event["detail-type"] == "Fine-tune Unpack Failed"
    assert "continuations" in event["detail"]["error"]
    assert event["detail"]["retryable"] is False
    index = topology.stored.manifest(folder_of(key).rstrip("/") + ".files.json")
    assert index["status"] == "incomplete"
    stored = {item["Key"] for item in topology.stored.versions_under(folder_of(key))}
    assert stored == {entry["key"] for entry in index["files"]}  # verified files only
    assert topology.stored.open_uploads() == []
    assert topology.queued(topology.unpack.dead_letter_queue_url) == 0


def test_a_hostile_archive_is_refused_once_and_leaves_nothing(topology: UnpackTopology) -> None:
    spec = ModelSpec(size=256 * KIB, seed=16, variant="symlink")
    job, key = topology.archived(spec)
    [delivery] = topology.run_unpacker()
    assert not delivery.failed  # a refusal is the same every time: not retried
    [event] = topology.unpacked_events(job)
    assert event["detail-type"] == "Fine-tune Unpack Failed"
    assert "link" in event["detail"]["error"]
    assert topology.stored.versions_under(folder_of(key)) == []
    assert topology.stored.versions_under(folder_of(key).rstrip("/") + ".files.json") == []
    assert topology.stored.open_uploads() == []
    assert topology.queued(topology.unpack.queue_url) == 0


def test_s3_unreachable_is_retried_after_a_delay_and_then_finishes(
    topology: UnpackTopology, reconfigure: Callable[[str, str], None]
) -> None:
    spec = ModelSpec(size=512 * KIB, seed=17, shards=1)
    job, key = topology.archived(spec)
    reconfigure("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    [failed] = topology.run_unpacker()
    assert (failed.failed, failed.raised) == (True, False)
    assert failed.visibility_s is not None
    assert failed.visibility_s > 0
    [event] = topology.unpacked_events(job)
    assert (event["detail-type"], event["detail"]["retryable"]) == ("Fine-tune Unpack Failed", True)
    reconfigure("AWS_ENDPOINT_URL_S3", topology.aws.endpoint_url)
    [retried] = topology.run_unpacker()
    assert (retried.failed, retried.receive_count) == (False, 2)
    assert_unpacked(topology, spec, key)
    assert [e["detail-type"] for e in topology.unpacked_events(job)] == ["Fine-tune Unpacked"]
