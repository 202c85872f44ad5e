"""``ft-archiver demo``: the deployed topology on one machine, nothing but loopback.

A moto server holds template.yaml's resources, the Together simulator plays Together.
A signed webhook goes to the local webhook endpoint, the queue poller runs the archiver
handler as Lambda's event source mapping would, and the event is read back from an SQS
target of a rule on the bus. The object's SHA-256 is checked against the simulator's.
"""

import hashlib
import json
import time
from typing import Any

from ft_archiver.domain.parts import MIB
from ft_archiver.local.aws import capture_events, read_events
from ft_archiver.local.serve import LocalDeployment
from ft_archiver.local.simulator import TogetherSimulator
from ft_archiver.local.webhook_sender import send_webhook

# The handlers' JSON logs and EMF metrics would bury the demo's own lines.
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def _wait_for_event(deployment: LocalDeployment, queue_url: str, timeout_s: float) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = read_events(deployment.aws, queue_url, wait_s=2)
        if events:
            return events
    return []


def run_demo(size: int) -> int:
    _step("starting the Together simulator, moto, and template.yaml's resources on 127.0.0.1")
    with (
        TogetherSimulator() as together,
        LocalDeployment(
            together.api_key, together.base_url, name="ft-archiver-demo", extra_environment=QUIET
        ) as deployment,
    ):
        stack = deployment.stack
        assert stack is not None
        print(f"    moto: {deployment.aws.endpoint_url}   together: {together.base_url}")
        print(f"    bucket {stack.bucket}, queue + DLQ, table {stack.table_name}")
        capture = capture_events(deployment.aws, stack.bus_name, "ft-archiver-demo-capture")
        job = together.add_job("Lora", size=size, model_output_name="acme/Llama-3-8B-demo")
        archive = together.archive_for(job.id, "merged")

        _step(f"POST signed webhook to {deployment.webhook_url} for LoRA job {job.id}")
        payload = {
            "type": "fine_tuning.job.completed",
            "data": {"id": job.id, "status": "completed"},
        }
        answer = send_webhook(deployment.webhook_url, stack.webhook_secret, payload)
        print(f"    HTTP {answer.status_code} {answer.text}")
        if answer.status_code != 202:
            _step("FAILED: the webhook was not accepted")
            return 1

        _step(f"archiver streams {size / MIB:,.0f} MiB from the simulator into S3 ...")
        events = _wait_for_event(deployment, capture, timeout_s=600)
        archived = [e for e in events if e.get("detail-type") == "Fine-tune Archived"]
        if len(archived) != 1:
            _step("FAILED: no success event arrived")
            print(json.dumps(events, indent=2))
            return 1
        detail = archived[0]["detail"]

        _step("verifying the object against the simulator")
        body = deployment.aws.client("s3").get_object(Bucket=stack.bucket, Key=detail["key"])[
            "Body"
        ]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(8 * MIB), b""):
            digest.update(chunk)
        expected = together.sha256(archive)
        verified = digest.hexdigest() == expected == detail["sha256"]
        parts = f"{detail['parts']} parts of {detail['part_size'] // MIB} MiB"
        rate = detail["size"] / detail["duration_s"] / MIB if detail["duration_s"] else 0.0
        print(f"    key:        {detail['filename']}")
        print(f"    size:       {detail['size']:,} bytes in {parts}")
        check = "matches the simulator" if verified else "MISMATCH"
        print(f"    sha256:     {detail['sha256']} ({check})")
        print(f"    checksum:   {detail['checksum_algorithm']} {detail['checksum']} (full object)")
        print(f"    throughput: {rate:,.1f} MiB/s ({detail['duration_s']:.1f} s)")

        _step("the event, as it arrived on the bus's SQS target")
        print(json.dumps(archived[0], indent=2))
        ok = verified
        _step("done: webhook in, archive verified, event out" if ok else "FAILED")
        return 0 if ok else 1
