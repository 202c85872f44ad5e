"""``ft-archiver demo``: the deployed topology on one machine, nothing but loopback.

A moto server holds template.yaml's resources, the Together simulator plays Together.
Both triggers run: a signed webhook for one job, and the poller, ticking as its schedule
would, for a job that completes while it watches (Together itself sends no webhooks).
The stack runs with ``Unpack=true`` and ``Import=bedrock``: each fine-tune is a real
Hugging Face-shaped model archive, which the archiver handler archives off ArchiveQueue;
the unpacker handler, fed by the stack's rule through UnpackQueue, turns it into a
folder of the model's files; and the import handler, fed by the next rule through
ImportQueue, imports the folder into a fake Bedrock (botocore's service model enforced
on every request) and follows the job to Fine-tune Imported, as Lambda's event source
mappings would run them. The events are read back from an SQS target of a rule on the
bus. Each archive's SHA-256, and each unpacked file's, is checked against the
simulator's.
"""

import hashlib
import json
import time
from typing import Any

from ft_archiver.domain.parts import MIB
from ft_archiver_tools.local.aws import capture_events, read_events
from ft_archiver_tools.local.model_archive import ModelSpec
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import SimJob, TogetherSimulator
from ft_archiver_tools.local.webhook_sender import send_webhook

# The handlers' JSON logs and EMF metrics would bury the demo's own lines.
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
POLL_EVERY_S = 2.0


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


ARCHIVE_OUTCOMES = ("Fine-tune Archived", "Fine-tune Archive Failed")
UNPACK_OUTCOMES = ("Fine-tune Unpacked", "Fine-tune Unpack Failed")
IMPORT_OUTCOMES = ("Fine-tune Imported", "Fine-tune Import Failed")


def _wait_for_event(
    deployment: LocalDeployment,
    queue_url: str,
    job_id: str,
    outcomes: tuple[str, ...],
    seen: list[dict[str, Any]],
    timeout_s: float,
) -> list[dict[str, Any]]:
    """The job's events (gathered in ``seen``, which keeps the ones read early), once one
    of ``outcomes`` is among them (or all so far, at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(e.get("detail-type") in outcomes for e in seen):
            break
        seen.extend(e for e in read_events(deployment.aws, queue_url, wait_s=1)
                    if e.get("detail", {}).get("id") == job_id)  # fmt: skip
    return seen


def _sha256(s3: Any, bucket: str, key: str) -> str:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(8 * MIB), b""):
        digest.update(chunk)
    return digest.hexdigest()


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
    stored = _sha256(deployment.aws.client("s3"), stack.bucket, detail["key"])
    expected = together.sha256(together.archive_for(job.id, "merged"))
    verified: bool = stored == expected == detail["sha256"]
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


def _verify_unpacked(deployment: LocalDeployment, together: TogetherSimulator, spec: ModelSpec,
                     events: list[dict[str, Any]]) -> bool:  # fmt: skip
    """The folder holds exactly the model's files, each with the simulator's SHA-256."""
    unpacked = [e for e in events if e.get("detail-type") == "Fine-tune Unpacked"]
    if len(unpacked) != 1:
        _step("FAILED: no Fine-tune Unpacked event arrived")
        print(json.dumps([e for e in events if e.get("detail-type") in UNPACK_OUTCOMES], indent=2))
        return False
    detail = unpacked[0]["detail"]
    stack = deployment.stack
    assert stack is not None
    s3 = deployment.aws.client("s3")
    model = together.model_archive(spec)
    top = f"{spec.top}/" if spec.top else ""
    expected = {name.removeprefix(top): d.sha256 for name, d in model.digests().items()}
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=stack.bucket, Prefix=detail["folder"]
    ):
        for item in page.get("Contents", []):
            found[item["Key"].removeprefix(detail["folder"])] = _sha256(
                s3, stack.bucket, item["Key"]
            )
    verified = found == expected
    targets = {k: v for k, v in detail["readiness"].items() if k != "facts"}
    ready = [name for name, verdict in targets.items() if verdict["ready"]]
    print(f"    folder:     {detail['folder_url']}")
    print(f"    files:      {detail['files']} ({detail['bytes']:,} bytes), "
          f"{'each matches the simulator' if verified else 'MISMATCH'}")  # fmt: skip
    print(f"    index:      s3://{stack.bucket}/{detail['index_key']}")
    print(f"    ready for:  {', '.join(ready) or 'nothing'}")
    return verified


def run_demo(size: int) -> int:
    _step("starting the Together simulator, moto, and template.yaml's resources on 127.0.0.1")
    with (
        TogetherSimulator() as together,
        LocalDeployment(
            together.api_key, together.base_url, name="ft-archiver-demo",
            extra_environment=QUIET, schedule_every_s=POLL_EVERY_S,
            parameters={"Unpack": "true", "Import": "bedrock"},
        ) as deployment,
    ):  # fmt: skip
        stack = deployment.stack
        assert stack is not None
        print(f"    moto: {deployment.aws.endpoint_url}   together: {together.base_url}")
        print(f"    bucket {stack.bucket}, queues + DLQs, table {stack.table_name}, "
              f"poller every {POLL_EVERY_S:.0f} s, Unpack=true, Import=bedrock")  # fmt: skip
        assert deployment.bedrock is not None
        print(f"    fake Bedrock (Custom Model Import): {deployment.bedrock.endpoint_url}")
        capture = capture_events(deployment.aws, stack.bus_name, "ft-archiver-demo-capture")

        spec = ModelSpec(size=size, seed=1)
        job = together.add_job("Lora", model=spec, model_output_name="acme/Llama-3-8B-demo")
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
        _step(
            f"   the archiver streams the {size / MIB:,.0f} MiB model from the simulator to S3 ..."
        )
        if not _archived_and_unpacked(deployment, together, capture, job, spec, show_event=True):
            return 1

        polled = ModelSpec(size=max(MIB, size // 4), seed=2)
        watched = together.add_job("Lora", model=polled, completes_after_s=3,
                                   model_output_name="acme/Llama-3-8B-polled")  # fmt: skip
        _step(f"2. poller: job {watched.id} is running on Together; no webhook will come")
        print("    it completes in 3 s; the next poll lists it, queues it, and it is archived")
        if not _archived_and_unpacked(deployment, together, capture, watched, polled):
            return 1
        _step("done: one archive by webhook, one by the poller, both verified, unpacked and "
              "imported, events out")  # fmt: skip
        return 0


def _archived_and_unpacked(deployment: LocalDeployment, together: TogetherSimulator,
                           capture: str, job: SimJob, spec: ModelSpec,
                           show_event: bool = False) -> bool:  # fmt: skip
    seen: list[dict[str, Any]] = []
    events = _wait_for_event(deployment, capture, job.id, ARCHIVE_OUTCOMES, seen, timeout_s=600)
    if not _verify(deployment, together, job, events):
        return False
    if show_event:
        _step("   the event, as it arrived on the bus's SQS target")
        archived = [e for e in events if e.get("detail-type") == "Fine-tune Archived"]
        print(json.dumps(archived[0], indent=2))
    _step(
        "   the stack's rule hands the event to UnpackQueue; the unpacker writes the model's files"
    )
    events = _wait_for_event(deployment, capture, job.id, UNPACK_OUTCOMES, seen, timeout_s=600)
    if not _verify_unpacked(deployment, together, spec, events):
        return False
    _step("   the next rule hands Fine-tune Unpacked to ImportQueue; the import function calls "
          "CreateModelImportJob and looks again until Bedrock is done")  # fmt: skip
    events = _wait_for_event(deployment, capture, job.id, IMPORT_OUTCOMES, seen, timeout_s=120)
    return _verify_imported(deployment, events)


def _verify_imported(deployment: LocalDeployment, events: list[dict[str, Any]]) -> bool:
    """One Fine-tune Imported, of a model the fake Bedrock holds, every request it saw
    valid by botocore's model."""
    imported = [e for e in events if e.get("detail-type") == "Fine-tune Imported"]
    fake = deployment.bedrock
    assert fake is not None
    if len(imported) != 1 or fake.refused:
        _step("FAILED: no Fine-tune Imported event arrived, or Bedrock refused a request")
        print(json.dumps([e for e in events if e.get("detail-type") in IMPORT_OUTCOMES]
                         + [r._asdict() for r in fake.refused], indent=2, default=str))  # fmt: skip
        return False
    detail = imported[0]["detail"]
    looks = sum(1 for call in fake.requests if call.operation == "GetModelImportJob"
                and call.params.get("jobIdentifier") == detail["job_arn"])  # fmt: skip
    held = detail["imported_model_arn"] in fake.models
    print(f"    job:        {detail['job_name']} ({looks} looks at it, none waiting in a function)")
    print(f"    model:      {detail['imported_model_arn']} "
          f"({'held by Bedrock' if held else 'MISSING'})")  # fmt: skip
    print(f"    invoke:     aws bedrock-runtime invoke-model --model-id {detail['model_id']} ...")
    return held
