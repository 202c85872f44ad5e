"""The stack's import stage, locally (``Unpack=true``, ``Import=bedrock``): ArchiverFunction
-> Fine-tune Archived -> UnpackFunction -> Fine-tune Unpacked -> the stack's rule (moto's
EventBridge) -> ImportQueue -> ImportFunction, one look per message, the next look sent
back with a delay -> the fake Bedrock (botocore's model enforced on every request) ->
Fine-tune Imported; the handlers run as Lambda's event source mappings would run them."""

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ft_archiver.domain.imports.record import record_key
from ft_archiver_tools.local.bedrock.server import FakeBedrock
from ft_archiver_tools.local.model_archive import ModelSpec
from ft_archiver_tools.local.resources import LocalImportStage
from ft_archiver_tools.local.serve import Delivery, LocalDeployment
from ft_archiver_tools.local.simulator import Faults, SimJob, TogetherSimulator
from tests.integration.test_serverless_unpack import UnpackTopology
from tests.support.aws import set_all
from tests.support.sandbox import local_deployment
from tests.support.settings import archiver_variables

MIB = 1024 * 1024
LOOKS = 40  # more than any test needs: each look is one delivery


@pytest.fixture(scope="module")
def deployment(together: TogetherSimulator) -> Iterator[LocalDeployment]:
    environment = archiver_variables(FT_ARCHIVER_LEASE_WAIT=0)
    name = f"import-{uuid.uuid4().hex[:6]}"
    parameters = {"Unpack": "true", "Import": "bedrock"}
    with local_deployment(together, name, environment, parameters=parameters) as local:
        yield local


class ImportTopology(UnpackTopology):
    def __init__(self, local: LocalDeployment, together: TogetherSimulator) -> None:
        super().__init__(local, together)
        for url in (self.imports.queue_url, self.imports.dead_letter_queue_url):
            self.drain(url)
        for arn in self.bedrock.models:  # the model quota (3) for each test alone
            self.bedrock_client().delete_imported_model(modelIdentifier=arn)

    def bedrock_client(self) -> Any:
        """boto3's, to the fake (AWS_ENDPOINT_URL_BEDROCK is in the environment)."""
        return boto3.client("bedrock", region_name=self.bedrock.region)

    @property
    def imports(self) -> LocalImportStage:
        assert self.stack.imports is not None
        return self.stack.imports

    @property
    def bedrock(self) -> FakeBedrock:
        assert self.local.bedrock is not None
        return self.local.bedrock

    def unpacked(self, seed: int) -> tuple[SimJob, dict[str, Any]]:
        """A merged model archived and unpacked by the stack; its Fine-tune Unpacked event
        (the rule has put it on ImportQueue too)."""
        job, _ = self.archived(ModelSpec(size=1 * MIB, seed=seed, shards=2))
        [delivery] = self.run_unpacker()
        assert not delivery.failed
        [event] = self.events.read(detail_type="Fine-tune Unpacked", job_id=job.id)
        return job, event

    def run_imports(self, until: str, job: SimJob) -> tuple[list[Delivery], list[dict[str, Any]]]:
        """ImportQueue's deliveries, one look at a time, until ``until`` (a detail type)
        is seen for the job, then until the queue is empty; every delivery and every
        import event of the job."""
        deliveries: list[Delivery] = []
        seen: list[dict[str, Any]] = []
        for _ in range(LOOKS):
            made = self.local.deliver_import(wait_s=3)
            deliveries += made
            for delivery in made:
                if delivery.failed and delivery.visibility_s:
                    self.local.skip_delay(delivery)
            seen += [e for e in self.events.read(wait_s=0.1, job_id=job.id)
                     if "Import" in e["detail-type"]]  # fmt: skip
            if not made and any(e["detail-type"] == until for e in seen):
                return deliveries, seen
        raise AssertionError(f"no {until} after {LOOKS} looks: {seen}")

    def record(self, unpacked: dict[str, Any]) -> dict[str, Any]:
        return self.stored.manifest(record_key(unpacked["detail"]["index_key"]))


@pytest.fixture
def topology(
    deployment: LocalDeployment, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ImportTopology]:
    set_all(monkeypatch.setenv, deployment.environment)
    together.set_faults(Faults())
    yield ImportTopology(deployment, together)
    together.set_faults(Faults())


def _started(topology: ImportTopology) -> list[dict[str, Any]]:
    return [c.params for c in topology.bedrock.requests if c.operation == "CreateModelImportJob"]


def test_an_unpacked_folder_is_imported_and_announced_once(topology: ImportTopology) -> None:
    job, unpacked = topology.unpacked(seed=31)
    jobs_before = len(topology.bedrock.jobs)
    deliveries, events = topology.run_imports("Fine-tune Imported", job)
    assert json.loads(deliveries[0].body)["detail-type"] == "Fine-tune Unpacked"
    assert not any(d.failed for d in deliveries)
    assert len(deliveries) >= 3  # the event, then a look per poll until Completed
    [imported] = events
    detail = imported["detail"]
    assert imported["detail-type"] == "Fine-tune Imported"
    assert detail["id"] == job.id
    assert detail["folder_url"] == unpacked["detail"]["folder_url"]
    assert detail["archive_key"] == unpacked["detail"]["archive_key"]
    assert detail["model_id"] == detail["imported_model_arn"]
    model = topology.bedrock.models[detail["imported_model_arn"]]
    assert model.name == detail["imported_model_name"]
    assert len(topology.bedrock.jobs) == jobs_before + 1
    [request] = _started(topology)[-1:]
    assert request["roleArn"] == topology.imports.role_arn
    assert request["modelDataSource"]["s3DataSource"]["s3Uri"] == detail["folder_url"]
    tags = {tag["key"]: tag["value"] for tag in request["importedModelTags"]}
    assert tags["ft-archiver:fine-tune-id"] == job.id
    record = topology.record(unpacked)
    assert (record["status"], record["announced"]) == ("Completed", True)
    assert topology.bedrock.refused == []


def test_duplicate_unpacked_deliveries_start_one_job_and_announce_once(
    topology: ImportTopology,
) -> None:
    job, unpacked = topology.unpacked(seed=32)
    started = len(_started(topology))
    for _ in range(2):  # the same event, delivered twice more (each its own SQS message)
        topology.sqs.send_message(
            QueueUrl=topology.imports.queue_url, MessageBody=json.dumps(unpacked)
        )
    deliveries, events = topology.run_imports("Fine-tune Imported", job)
    assert [e["detail-type"] for e in events] == ["Fine-tune Imported"]
    first_looks = [d for d in deliveries if "detail-type" in json.loads(d.body)]
    assert len(first_looks) == 3
    folder = unpacked["detail"]["folder_url"]
    jobs = [
        j
        for j in topology.bedrock.jobs.values()
        if j.model_data_source["s3DataSource"]["s3Uri"] == folder
    ]
    assert len(jobs) == 1  # the token and the name: one job for the three
    assert len(_started(topology)) - started >= 1


def test_a_failed_job_gives_one_failure_event_with_bedrocks_message(
    topology: ImportTopology,
) -> None:
    job, unpacked = topology.unpacked(seed=33)
    models_before = set(topology.bedrock.models)
    topology.bedrock.fail_next_job("Model weights are corrupt (the fake's message)")
    deliveries, events = topology.run_imports("Fine-tune Import Failed", job)
    [failed] = events
    assert failed["detail-type"] == "Fine-tune Import Failed"
    assert failed["detail"]["error"] == "Model weights are corrupt (the fake's message)"
    assert failed["detail"]["retryable"] is False
    assert failed["detail"]["job_arn"] is not None
    assert set(topology.bedrock.models) == models_before  # nothing half-made
    record = topology.record(unpacked)
    assert (record["status"], record["announced"]) == ("Failed", True)
    assert not any(d.failed for d in deliveries)


def test_a_quota_refusal_is_waited_out_then_imported(topology: ImportTopology) -> None:
    """Another import holds the region's one job: the stage's start is refused with
    ServiceQuotaExceededException, asked again after a delay, and starts once the other
    job is done."""
    job, unpacked = topology.unpacked(seed=34)
    bedrock = topology.bedrock_client()
    other = bedrock.create_model_import_job(
        jobName=f"other-{uuid.uuid4().hex[:8]}", importedModelName=f"other-{uuid.uuid4().hex[:8]}",
        roleArn=topology.imports.role_arn,
        modelDataSource={"s3DataSource": {"s3Uri": unpacked["detail"]["folder_url"]}},
    )["jobArn"]  # fmt: skip
    [first] = topology.local.deliver_import(wait_s=3)
    assert not first.failed
    deferred = json.loads(topology.sqs.receive_message(
        QueueUrl=topology.imports.queue_url, WaitTimeSeconds=5, VisibilityTimeout=0,
    )["Messages"][0]["Body"])  # fmt: skip
    assert deferred["deferrals"] == 1
    assert deferred["job_arn"] is None
    while bedrock.get_model_import_job(jobIdentifier=other)["status"] == "InProgress":
        time.sleep(0.1)  # each look moves the fake's job on
    _, events = topology.run_imports("Fine-tune Imported", job)
    assert [e["detail-type"] for e in events] == ["Fine-tune Imported"]
    stage_starts = [r for r in _started(topology) if r["jobName"].startswith("acme-m-")]
    assert len(stage_starts) >= 2  # refused once for the quota, then started
