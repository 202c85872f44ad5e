"""``ft-archiver demo``: the deployed topology on one machine, nothing but loopback.

A moto server holds template.yaml's resources, the Together simulator plays Together.
Both triggers run: a signed webhook for one job, and the poller, ticking as its schedule
would, for a job that completes while it watches (Together itself sends no webhooks).
The archiver handler runs off the queue as Lambda's event source mapping would, and the
events are read back from an SQS target of a rule on the bus. Each object's SHA-256 is
checked against the simulator's.
"""

import hashlib
import json
import time
from typing import Any

from ft_archiver.domain.parts import MIB
from ft_archiver_tools.local.aws import capture_events, read_events
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import SimJob, TogetherSimulator
from ft_archiver_tools.local.webhook_sender import send_webhook

# The handlers' JSON logs and EMF metrics would bury the demo's own lines.
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
POLL_EVERY_S = 2.0


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def _wait_for_event(
    deployment: LocalDeployment, queue_url: str, job_id: str, timeout_s: float
) -> list[dict[str, Any]]:
    """Every event for the job, once one has arrived (or nothing at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = [e for e in read_events(deployment.aws, queue_url, wait_s=1)
                  if e.get("detail", {}).get("id") == job_id]  # fmt: skip
        if events:
            return events
    return []


def _verify(deployment: LocalDeployment, together: TogetherSimulator, job: SimJob,
            events: list[dict[str, Any]]) -> bool:  # fmt: skip
    archived = [e for e in events if e.get("detail-type") == "Fine-tune Archived"]
    if len(archived) != 1:
        _step("FAILED: no success event arrived")
        print(json.dumps(events, indent=2))
        return False
    detail = archived[0]["detail"]
    stack = deployment.stack
    assert stack is not None
    body = deployment.aws.client("s3").get_object(Bucket=stack.bucket, Key=detail["key"])["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(8 * MIB), b""):
        digest.update(chunk)
    expected = together.sha256(together.archive_for(job.id, "merged"))
    verified: bool = digest.hexdigest() == expected == detail["sha256"]
    parts = f"{detail['parts']} parts of {detail['part_size'] // MIB} MiB"
    rate = detail["size"] / detail["duration_s"] / MIB if detail["duration_s"] else 0.0
    print(f"    key:        {detail['filename']}")
    print(f"    size:       {detail['size']:,} bytes in {parts}")
    print(f"    sha256:     {detail['sha256']} "
          f"({'matches the simulator' if verified else 'MISMATCH'})")  # fmt: skip
    print(f"    checksum:   {detail['checksum_algorithm']} {detail['checksum']} (full object)")
    print(f"    manifest:   s3://{stack.bucket}/{detail['manifest_key']}")
    print(f"    throughput: {rate:,.1f} MiB/s ({detail['duration_s']:.1f} s)")
    return verified


def run_demo(size: int) -> int:
    _step("starting the Together simulator, moto, and template.yaml's resources on 127.0.0.1")
    with (
        TogetherSimulator() as together,
        LocalDeployment(
            together.api_key, together.base_url, name="ft-archiver-demo",
            extra_environment=QUIET, schedule_every_s=POLL_EVERY_S,
        ) as deployment,
    ):  # fmt: skip
        stack = deployment.stack
        assert stack is not None
        print(f"    moto: {deployment.aws.endpoint_url}   together: {together.base_url}")
        print(f"    bucket {stack.bucket}, queue + DLQ, table {stack.table_name}, "
              f"poller every {POLL_EVERY_S:.0f} s")  # fmt: skip
        capture = capture_events(deployment.aws, stack.bus_name, "ft-archiver-demo-capture")

        job = together.add_job("Lora", size=size, model_output_name="acme/Llama-3-8B-demo")
        _step(
            f"1. webhook: POST a signed webhook to {deployment.webhook_url} for LoRA job {job.id}"
        )
        payload = {
            "type": "fine_tuning.job.completed",
            "data": {"id": job.id, "status": "completed"},
        }
        answer = send_webhook(deployment.webhook_url, stack.webhook_secret, payload)
        print(f"    HTTP {answer.status_code} {answer.text}")
        if answer.status_code != 202:
            _step("FAILED: the webhook was not accepted")
            return 1
        _step(f"   the archiver streams {size / MIB:,.0f} MiB from the simulator into S3 ...")
        events = _wait_for_event(deployment, capture, job.id, timeout_s=600)
        if not _verify(deployment, together, job, events):
            return 1
        _step("   the event, as it arrived on the bus's SQS target")
        print(json.dumps(events[0], indent=2))

        watched = together.add_job("Lora", size=max(MIB, size // 4), completes_after_s=3,
                                   model_output_name="acme/Llama-3-8B-polled")  # fmt: skip
        _step(f"2. poller: job {watched.id} is running on Together; no webhook will come")
        print("    it completes in 3 s; the next poll lists it, queues it, and it is archived")
        events = _wait_for_event(deployment, capture, watched.id, timeout_s=600)
        if not _verify(deployment, together, watched, events):
            return 1
        _step("done: one archive by webhook, one by the poller, both verified, events out")
        return 0
