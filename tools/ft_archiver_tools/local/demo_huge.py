"""``ft-archiver demo --huge``: one archive spread over several workers by the state
machine template.yaml deploys, executed by LocalStack's Step Functions on this machine.

Everything else is as in ``demo`` (moto, the simulator, the archiver off the queue), with
the thresholds scaled down so that a few hundred MiB already take the distributed path:
the archiver hands the request to ArchiveStateMachine; Plan opens the upload and cuts it
into batches; a DISTRIBUTED Map gives the batches to the workers (threads serving the
state machine's activity with ArchiveStepsFunction's handler); Complete, the read-back of
the whole SHA-256 and Finish end it with one event.
"""

import time
from typing import Any

from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.domain.parts import MIB
from ft_archiver_tools.local.aws import capture_events
from ft_archiver_tools.local.demo import (
    ARCHIVE_OUTCOMES,
    QUIET,
    _step,
    _verify,
    _wait_for_event,
)
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import TogetherSimulator
from ft_archiver_tools.local.step_functions import step_functions_client

WORKERS = 4
SCALED_DOWN = {
    "FT_ARCHIVER_FAN_OUT_THRESHOLD_GIB": "0.0625",  # 64 MiB and more: distributed
    "FT_ARCHIVER_DISTRIBUTED_BATCH_SIZE": "32MiB",
    "FT_ARCHIVER_DISTRIBUTED_WORKERS": str(WORKERS),
}


def _map_progress(client: Any, execution_arn: str) -> str:
    runs = client.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if not runs:
        return "planning"
    counts = client.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"]
    return f"batches: {counts['succeeded']} of {counts['total']} done, {counts['running']} running"


def run_demo_huge(size: int) -> int:
    _step("starting LocalStack (Step Functions), moto, the simulator and the template's resources")
    with (
        LocalStack() as localstack,
        TogetherSimulator() as together,
        LocalDeployment(
            together.api_key, together.base_url, name="ft-archiver-demo-huge",
            extra_environment={**QUIET, **SCALED_DOWN},
            step_functions_endpoint=localstack.endpoint_url, step_workers=WORKERS,
        ) as deployment,
    ):  # fmt: skip
        stack, machine = deployment.stack, deployment.state_machine
        assert stack is not None
        assert machine is not None
        print(f"    state machine: {machine.arn}")
        print(f"    definition: infra/archive.asl.json, its task pointed at {machine.activity_arn}")
        capture = capture_events(deployment.aws, stack.bus_name, "ft-archiver-demo-huge-capture")
        job = together.add_job("Lora", size=size, model_output_name="acme/Llama-3-70B-huge")
        message = ArchiveMessage(id=job.id, correlation_id="demo-huge", received_at=time.time())
        deployment.aws.client("sqs").send_message(
            QueueUrl=stack.queue_url, MessageBody=message.model_dump_json()
        )
        _step(f"1. the archiver takes the request for {size / MIB:,.0f} MiB and hands it on")
        deployment.deliver(wait_s=1)
        client = step_functions_client(localstack.endpoint_url)
        [execution] = client.list_executions(stateMachineArn=machine.arn)["executions"]
        print(f"    execution: {execution['name']}")
        _step(f"2. {WORKERS} workers upload the batches in parallel")
        status = "RUNNING"
        while status == "RUNNING":
            time.sleep(2)
            status = client.describe_execution(executionArn=execution["executionArn"])["status"]
            print(f"    {status.lower()}: {_map_progress(client, execution['executionArn'])}")
        events = _wait_for_event(deployment, capture, job.id, ARCHIVE_OUTCOMES, [], timeout_s=30)
        _step("3. complete, read back, finish: the one event")
        if status != "SUCCEEDED" or not _verify(deployment, together, job, events):
            _step(f"FAILED: the execution ended {status}")
            return 1
        print(f"    sha256 tree: {events[0]['detail']['sha256_tree']} (of the parts' digests)")
        _step("done: one archive spread over the workers, verified, one event out")
        return 0
