"""The distributed path through the definition template.yaml deploys, executed by
LocalStack's Step Functions: its DISTRIBUTED Map of batches, Retry and Catch. The task
resource points at an activity served by workers that run ArchiveStepsFunction's handler;
everything else (S3 with small parts, SQS, DynamoDB, EventBridge) is moto, as in the
serverless tests."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import Faults, SimJob, TogetherSimulator
from ft_archiver_tools.local.step_functions import step_functions_client
from ft_archiver_tools.status.command import StatusReader
from ft_archiver_tools.status.sources import Executions, StateTable
from ft_archiver_tools.template import load_template
from tests.support.aws import set_all
from tests.support.iam import actions, as_list, statements
from tests.support.sandbox import ServedSandbox, local_deployment
from tests.support.settings import archiver_variables

PART = 64 * 1024
BATCH_PARTS = 4
SIZE = 40 * PART + 123  # 41 parts, 11 batches
STEP_TIMEOUT_S = 8  # a batch invocation silent this long is presumed dead


def distributed_environment(**overrides: str | int | float) -> dict[str, str]:
    """64 KiB parts; 1 MiB and more take the distributed path."""
    variables = archiver_variables(
        FT_ARCHIVER_PART_SIZE="64KiB",
        FT_ARCHIVER_FAN_OUT_THRESHOLD_GIB=1 / 1024,
        FT_ARCHIVER_DISTRIBUTED_BATCH_TIMEOUT=STEP_TIMEOUT_S,
        FT_ARCHIVER_DEADLINE_MARGIN=1,
    )
    return {**variables, **{name: str(value) for name, value in overrides.items()}}


@pytest.fixture(scope="module")
def deployment(localstack: LocalStack, together: TogetherSimulator) -> Iterator[LocalDeployment]:
    environment = distributed_environment(
        FT_ARCHIVER_DISTRIBUTED_BATCH_SIZE=f"{BATCH_PARTS * 64}KiB",
        FT_ARCHIVER_DISTRIBUTED_WORKERS=4,
        FT_ARCHIVER_LEASE_WAIT=0,
    )
    with local_deployment(
        together, "distributed", environment, step_functions_endpoint=localstack.endpoint_url,
        step_workers=4, step_timeout_s=STEP_TIMEOUT_S,
    ) as local:  # fmt: skip
        yield local


class Distributed(ServedSandbox):
    def __init__(self, local: LocalDeployment, together: TogetherSimulator) -> None:
        super().__init__(local, together, wait_s=3.0)
        self.drain(self.stack.queue_url)
        assert local.state_machine is not None
        assert local.step_functions_endpoint
        self.machine = local.state_machine
        self.sfn = step_functions_client(local.step_functions_endpoint)

    def request(self, job: SimJob) -> None:
        """An archive request on ArchiveQueue, and one delivery of it to the archiver."""
        message = ArchiveMessage(
            id=job.id, correlation_id=f"c-{time.time_ns()}", received_at=time.time()
        )
        self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=message.model_dump_json())
        [delivery] = self.local.deliver(wait_s=1)
        assert not delivery.failed

    def executions(self) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=self.machine.arn)["executions"]
        return [e for e in listed if e["name"].startswith("archive-")]

    def wait(self, execution_arn: str, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.5)
        raise AssertionError(f"{execution_arn} still running after {timeout_s} s")

    def part_gets(self, job: SimJob) -> Counter[str]:
        """How often each byte range of the job's archive was fetched (probes aside)."""
        archive = self.together.archive_for(job.id, "merged")
        return Counter(
            entry.range or ""
            for entry in self.together.blob_requests(archive)
            if entry.method == "GET" and entry.range != "bytes=0-1"
        )


@pytest.fixture
def distributed(
    deployment: LocalDeployment, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Distributed]:
    set_all(monkeypatch.setenv, deployment.environment)
    together.set_faults(Faults())
    yield Distributed(deployment, together)
    together.set_faults(Faults())


def granted_child_label() -> str:
    """The Map Run label in the state machine role's grant on its child executions,
    ``execution:{machine}/{label}:*`` (the one such grant)."""
    template = load_template()
    [children] = [
        resource
        for statement in statements(template, "ArchiveStateMachine")
        if "states:DescribeExecution" in actions(statement)
        for resource in as_list(statement["Resource"])
    ]
    machine_and_label = str(children["Fn::Sub"]).split(":execution:")[1].removesuffix(":*")
    return machine_and_label.split("/", 1)[1]


def new_job(together: TogetherSimulator, size: int = SIZE) -> SimJob:
    return together.add_job("Lora", size=size, model_output_name=f"huge-{time.time_ns()}")


def test_a_many_part_archive_completes_through_the_state_machine(distributed: Distributed) -> None:
    job = new_job(distributed.together)
    distributed.request(job)
    [execution] = distributed.executions()[:1]
    done = distributed.wait(execution["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    [event] = distributed.events.read()
    detail = event["detail"]
    archive = distributed.together.archive_for(job.id, "merged")
    expected = distributed.together.sha256(archive)
    assert event["detail-type"] == "Fine-tune Archived"
    assert (detail["size"], detail["parts"], detail["sha256"]) == (SIZE, 41, expected)
    assert distributed.stored.sha256_of(detail["key"]) == expected
    manifest = distributed.stored.manifest(detail["manifest_key"])
    part_digests = manifest["result"]["part_sha256"]
    assert len(part_digests) == 41
    tree = hashlib.sha256(b"".join(bytes.fromhex(d) for d in part_digests)).hexdigest()
    assert tree == detail["sha256_tree"] == manifest["result"]["sha256_tree"]
    assert distributed.stored.tags(detail["key"]) == {"sha256": expected, "sha256-tree": tree}
    assert distributed.stored.open_uploads() == []
    assert distributed.events.read(wait_s=1) == []  # one event
    assert set(distributed.part_gets(job).values()) == {1}  # each part fetched once
    # The Map Run's children are named after the Map state's Label, as template.yaml
    # grants DescribeExecution/StopExecution on them (one grant, the Label's).
    [run] = distributed.sfn.list_map_runs(executionArn=execution["executionArn"])["mapRuns"]
    machine_name = distributed.machine.arn.rsplit(":", 1)[1]
    assert run["mapRunArn"].split(":mapRun:")[1].split(":")[0] == (
        f"{machine_name}/{granted_child_label()}"
    )


def test_status_shows_the_batches_of_a_running_execution(distributed: Distributed) -> None:
    job = new_job(distributed.together)
    distributed.together.set_faults(Faults(rate_limit_bps=64 * 1024))  # a part a second
    distributed.request(job)
    [execution] = distributed.executions()[:1]
    reader = status_reader(distributed)
    seen = []
    while distributed.sfn.describe_execution(executionArn=execution["executionArn"])[
        "status"
    ] == "RUNNING":  # fmt: skip
        seen += [s for s in reader.read(time.time(), lambda s: s.job == job.id) if not s.finished]
        time.sleep(0.2)
    running = [s for s in seen if s.execution == "RUNNING" and s.batches_done is not None]
    assert running, seen
    assert {(s.path, s.batches, s.size, s.parts) for s in running} == {
        ("distributed", 11, SIZE, 41)
    }
    done_counts = [s.batches_done or 0 for s in running]
    assert done_counts == sorted(done_counts)
    assert len(set(done_counts)) >= 2  # the figures moved
    parts_done = [s.parts_done or 0 for s in running]
    assert parts_done == sorted(parts_done)
    last_seen = [s.seen_at or 0.0 for s in running]
    assert last_seen == sorted(last_seen)
    assert max(last_seen) > min(last_seen)  # each batch's end marks the archive seen
    shown = subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", "status", job.id, "--json"],
        env=dict(os.environ), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    finished = json.loads(shown.stdout)
    assert (finished["state"], finished["bytes_done"]) == ("done", SIZE)
    distributed.events.read()


def status_reader(sandbox: Distributed) -> StatusReader:
    table = StateTable(sandbox.aws.client("dynamodb"), sandbox.stack.table_name)
    return StatusReader(table, Executions(sandbox.sfn, sandbox.machine.arn))


def test_two_requests_for_one_archive_make_one_execution(distributed: Distributed) -> None:
    job = new_job(distributed.together)
    before = len(distributed.executions())
    distributed.request(job)
    distributed.request(job)  # the lease is the execution's: this one waits
    started = distributed.executions()
    assert len(started) == before + 1
    assert distributed.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"
    [event] = distributed.events.read()
    assert event["detail"]["id"] == job.id
    distributed.drain(distributed.stack.queue_url)


def test_a_batch_that_keeps_failing_aborts_the_upload_and_reports_once(
    distributed: Distributed,
) -> None:
    job = new_job(distributed.together)
    # The probe passes (its whole answer gives the size); every part's ranged GET is
    # answered with the whole archive, which no retry changes.
    distributed.together.set_faults(Faults(ignore_range=True))
    distributed.request(job)
    [execution] = distributed.executions()[:1]
    done = distributed.wait(execution["executionArn"])
    assert done["status"] == "FAILED"
    [event] = distributed.events.read()
    assert event["detail-type"] == "Fine-tune Archive Failed"
    assert event["detail"]["id"] == job.id
    assert event["detail"]["retryable"] is False
    assert distributed.stored.open_uploads() == []
    leftovers = distributed.stored.keys()
    assert [key for key in leftovers if str(job.model_output_name) in key] == []


@pytest.fixture
def workerless(
    localstack: LocalStack, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Distributed]:
    """A deployment whose state machine has no worker until the test adds one; batches of
    16 parts, two connections each."""
    environment = distributed_environment(
        FT_ARCHIVER_DISTRIBUTED_BATCH_SIZE="1MiB", FT_ARCHIVER_CONCURRENCY=2
    )
    with local_deployment(
        together, "killed", environment, step_functions_endpoint=localstack.endpoint_url,
        step_workers=0, step_timeout_s=STEP_TIMEOUT_S,
    ) as local:  # fmt: skip
        set_all(monkeypatch.setenv, local.environment)
        together.set_faults(Faults())
        yield Distributed(local, together)
        together.set_faults(Faults())


def recorded_parts(sandbox: Distributed) -> set[int]:
    items = sandbox.aws.client("dynamodb").scan(TableName=sandbox.stack.table_name)["Items"]
    return {
        int(name[1:])
        for item in items
        if item["pk"]["S"].startswith("parts#")
        for name in item
        if name.startswith("p") and name[1:].isdigit()
    }


def test_a_worker_killed_mid_batch_is_retried_and_no_finished_part_is_fetched_again(
    workerless: Distributed,
) -> None:
    job = new_job(workerless.together, size=32 * PART)  # two batches of 16 parts
    workerless.request(job)
    workerless.together.set_faults(Faults(rate_limit_bps=256 * 1024))  # ~4 parts a second
    worker = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools.local.step_worker",
         workerless.machine.endpoint_url, workerless.machine.activity_arn, str(STEP_TIMEOUT_S)],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(recorded_parts(workerless)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)  # mid-batch, as a Lambda that dies
    finally:
        worker.wait()
    finished_before = recorded_parts(workerless)
    assert 3 <= len(finished_before) < 32
    workerless.machine.add_worker("after-the-kill")
    [execution] = workerless.executions()
    assert workerless.wait(execution["executionArn"], timeout_s=180)["status"] == "SUCCEEDED"
    [event] = workerless.events.read()
    expected = workerless.together.sha256(workerless.together.archive_for(job.id, "merged"))
    assert workerless.stored.sha256_of(event["detail"]["key"]) == expected
    gets = workerless.part_gets(job)
    assert {f"bytes={(n - 1) * PART}-{n * PART - 1}" for n in finished_before} <= set(gets)
    assert all(gets[f"bytes={(n - 1) * PART}-{n * PART - 1}"] == 1 for n in finished_before)
    assert max(gets.values()) <= 2  # only parts in flight at the kill were fetched again
