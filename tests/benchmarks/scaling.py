"""Wall time of one distributed archive against the number of workers.

    python -m tests.benchmarks.scaling        (make bench-scaling, part of make bench)

The state machine template.yaml deploys runs on LocalStack's Step Functions, as in
tests/conformance/test_distributed.py; S3 is LocalStack's too (host mode), SQS, DynamoDB
and EventBridge moto. For each number of workers: the Map's MaxConcurrency
(FT_ARCHIVER_DISTRIBUTED_WORKERS) and as many worker processes serving its activity with
ArchiveStepsFunction's handler, each a process of its own as each Lambda invocation is
a runtime of its own. Each worker is limited as a Lambda would be: 2 GETs and 2
UploadParts at once, each source connection at 25 MB/s. The SHA-256 read-back is off
(FT_ARCHIVER_VERIFY_SHA256_UP_TO=0); one more archive with it on gives its rate, and
checks the stored object's SHA-256. Wall time: from the archive request to the
execution's end; median of --runs, after one warm-up archive per point.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import boto3

from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.domain.parts import MIB, parse_size
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from ft_archiver_tools.local.step_functions import step_functions_client
from tests.support.settings import archiver_variables

TIMEOUT_S = 900


@contextmanager
def deployment(
    localstack: LocalStack, together: TogetherSimulator, workers: int, batch: str, verify: int
) -> Iterator[LocalDeployment]:
    """The topology with ``workers`` worker processes on its state machine's activity."""
    environment = archiver_variables(
        tuning={},  # the product's defaults, but for these
        AWS_ENDPOINT_URL_S3=localstack.endpoint_url,
        FT_ARCHIVER_FAN_OUT_THRESHOLD_GIB=1 / 1024,  # 1 MiB and more: distributed
        FT_ARCHIVER_DISTRIBUTED_BATCH_SIZE=batch,
        FT_ARCHIVER_DISTRIBUTED_WORKERS=workers,
        FT_ARCHIVER_CONCURRENCY=2,
        FT_ARCHIVER_UPLOAD_CONCURRENCY=2,
        FT_ARCHIVER_VERIFY_SHA256_UP_TO=verify,
        POWERTOOLS_LOG_LEVEL="ERROR",
        POWERTOOLS_METRICS_DISABLED="true",
    )
    local = LocalDeployment(
        together.api_key, together.base_url, name=f"scaling-{workers}-{time.time_ns()}",
        extra_environment=environment, step_functions_endpoint=localstack.endpoint_url,
        step_workers=0, step_timeout_s=TIMEOUT_S,
    )  # fmt: skip
    local.start(poll=False)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        assert local.stack is not None
        assert local.state_machine is not None
        s3 = boto3.client("s3", endpoint_url=localstack.endpoint_url)
        s3.create_bucket(Bucket=local.stack.bucket)
        activity = local.state_machine.activity_arn
        command = [sys.executable, "-m", "ft_archiver_tools.local.step_worker",
                   localstack.endpoint_url, activity, str(TIMEOUT_S)]  # fmt: skip
        for _ in range(workers):
            quiet = subprocess.DEVNULL
            processes.append(
                subprocess.Popen(command, env=dict(os.environ), stdout=quiet, stderr=quiet)
            )
        yield local
    finally:
        for process in processes:
            process.kill()
            process.wait()
        local.stop()


def archive(local: LocalDeployment, together: TogetherSimulator, size: int) -> dict[str, Any]:
    """One archive requested and run to its end: the execution, its wall seconds."""
    assert local.stack is not None
    assert local.state_machine is not None
    sfn = step_functions_client(local.state_machine.endpoint_url)
    job = together.add_job("Lora", size=size, model_output_name=f"scaling-{time.time_ns()}")
    message = ArchiveMessage(id=job.id, correlation_id=job.id, received_at=time.time())
    local.aws.client("sqs").send_message(
        QueueUrl=local.stack.queue_url, MessageBody=message.model_dump_json()
    )
    started = time.time()
    [delivery] = local.deliver(wait_s=1)
    listed = sfn.list_executions(stateMachineArn=local.state_machine.arn)["executions"]
    execution = max(listed, key=lambda e: e["startDate"])
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))[
        "status"
    ] == "RUNNING":
        time.sleep(0.2)
    if delivery.failed or described["status"] != "SUCCEEDED":
        raise RuntimeError(f"{job.id}: {described['status']}")
    stopped: datetime = described["stopDate"]
    # The next archive starts on an empty bucket (CompleteMultipartUpload slowed down as
    # LocalStack's storage filled up).
    s3 = boto3.client("s3", endpoint_url=local.environment["AWS_ENDPOINT_URL_S3"])
    for stored in s3.list_objects_v2(Bucket=local.stack.bucket).get("Contents", []):
        s3.delete_object(Bucket=local.stack.bucket, Key=stored["Key"])
    return {"execution": described, "job": job, "wall_s": stopped.timestamp() - started}


def state_s(local: LocalDeployment, execution_arn: str, state: str) -> float:
    """From the first time the execution entered ``state`` to the last time it left it."""
    assert local.state_machine is not None
    sfn = step_functions_client(local.state_machine.endpoint_url)
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    times: list[float] = [
        event["timestamp"].timestamp()
        for event in events
        for kind in ("stateEnteredEventDetails", "stateExitedEventDetails")
        if event.get(kind, {}).get("name") == state
    ]
    return max(times) - min(times)


def render(
    size: int, runs: int, walls: dict[int, list[float]], maps: dict[int, list[float]]
) -> str:
    lines = [
        f"One distributed archive of {size / MIB:,.0f} MiB, median of {runs} runs:",
        "",
        "| workers | wall s | MB/s | speed-up vs 1 worker | efficiency | of which the Map s "
        "| the Map's speed-up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    fewest = min(walls)  # 1 unless --workers says otherwise
    base = statistics.median(walls[fewest]) * fewest
    map_base = statistics.median(maps[fewest]) * fewest
    for workers, samples in walls.items():
        wall, map_s = statistics.median(samples), statistics.median(maps[workers])
        speed_up = base / wall
        lines.append(
            f"| {workers} | {wall:.1f} | {size / wall / 1e6:.0f} | {speed_up:.2f}x | "
            f"{speed_up / workers:.0%} | {map_s:.1f} | {map_base / map_s:.2f}x |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--size", default="2GiB")
    parser.add_argument("--batch", default="128MiB", help="FT_ARCHIVER_DISTRIBUTED_BATCH_SIZE")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=25_000_000, help="bytes/s per connection")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop what was started
    size, batch = parse_size(args.size), parse_size(args.batch)
    walls: dict[int, list[float]] = {}
    maps: dict[int, list[float]] = {}  # the Parts state (the Distributed Map) alone
    with LocalStack() as localstack, TogetherSimulator() as together:
        together.set_faults(Faults(rate_limit_bps=args.rate))
        for workers in (int(text) for text in args.workers.split(",")):
            with deployment(localstack, together, workers, args.batch, verify=0) as local:
                archive(local, together, workers * batch)  # warm-up: each worker once
                for n in range(args.runs):
                    done = archive(local, together, size)
                    arn = done["execution"]["executionArn"]
                    walls.setdefault(workers, []).append(done["wall_s"])
                    maps.setdefault(workers, []).append(state_s(local, arn, "Parts"))
                    print(
                        f"{workers} workers run {n + 1}: {done['wall_s']:6.1f} s, "
                        f"the Map {maps[workers][-1]:6.1f} s",
                        flush=True,
                    )
        with deployment(localstack, together, 1, args.batch, verify=size) as local:
            done = archive(local, together, size)
            seconds = state_s(local, done["execution"]["executionArn"], "VerifySha256")
            output = done["execution"].get("output", "")
            expected = together.sha256(together.archive_for(done["job"].id, "merged"))
            checked = "matches" if expected in output else "DOES NOT MATCH"
    print(render(size, args.runs, walls, maps))
    print(
        f"\nSHA-256 read-back (VerifySha256, one worker): {seconds:.1f} s, "
        f"{size / seconds / 1e6:.0f} MB/s; the object's SHA-256 {checked} the source's"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
