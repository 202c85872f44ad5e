"""``ft-archiver demo``: the whole archive path on one machine, nothing but loopback.

Starts moto's server and the Together simulator, creates the bucket (with its lifecycle
rule), an event bus and a rule forwarding to an SQS queue, archives a simulated LoRA
fine-tune, reads the event back from the queue, checks the object's SHA-256 against
the simulator's, and stops everything again.
"""

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ft_archiver.domain.parts import MIB
from ft_archiver.local.aws import (
    TEST_CREDENTIALS,
    MotoServer,
    create_archive_resources,
    read_events,
)
from ft_archiver.local.simulator import TogetherSimulator
from ft_archiver.service.archive import ArchiveRequest, Destination
from ft_archiver.settings import Settings
from ft_archiver.wiring import build_archiver

BUCKET = "ft-archiver-demo"
BUS = "ft-archiver-demo"


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def run_demo(size: int) -> int:
    _step("starting the AWS emulator (moto server) and the Together simulator on 127.0.0.1")
    with (
        MotoServer() as aws,
        TogetherSimulator() as together,
        _environment({**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": aws.endpoint_url}),
    ):
        print(f"    moto: {aws.endpoint_url}   together: {together.base_url}")
        _step(f"creating bucket {BUCKET} (abort-incomplete-uploads rule), bus {BUS}, capture queue")
        resources = create_archive_resources(aws, BUCKET, BUS, "ft-archiver-demo-events")
        job = together.add_job("Lora", size=size, model_output_name="acme/Llama-3-8B-demo")
        archive = together.archive_for(job.id, "merged")
        _step(f"archiving LoRA fine-tune {job.id} ({size / MIB:,.0f} MiB merged model)")
        settings = Settings(
            TOGETHER_API_KEY=together.api_key,
            TOGETHER_BASE_URL=together.base_url,
            ARCHIVE_BUCKET=BUCKET,
            ARCHIVE_PREFIX="models/",
            EVENT_BUS_NAME=BUS,
        )
        started = time.monotonic()
        detail = build_archiver(settings).archive(
            ArchiveRequest(job.id), Destination(BUCKET, settings.archive_prefix)
        )
        elapsed = time.monotonic() - started

        _step("verifying the object against the simulator")
        s3 = aws.client("s3")
        body = s3.get_object(Bucket=BUCKET, Key=detail.key)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(8 * MIB), b""):
            digest.update(chunk)
        expected = together.sha256(archive)
        verified = digest.hexdigest() == expected == detail.sha256
        print(f"    key:        s3://{BUCKET}/{detail.key}")
        parts = f"{detail.parts} parts of {detail.part_size // MIB} MiB"
        print(f"    size:       {detail.size:,} bytes in {parts}")
        check = "matches the simulator" if verified else "MISMATCH"
        print(f"    sha256:     {detail.sha256} ({check})")
        print(f"    checksum:   {detail.checksum_algorithm} {detail.checksum} (full object)")
        print(f"    throughput: {detail.size / elapsed / MIB:,.1f} MiB/s ({elapsed:.1f} s)")

        _step("reading the event back from the rule's SQS target")
        events = read_events(aws, resources.queue_url)
        print(json.dumps(events, indent=2))
        delivered = [e for e in events if e.get("detail-type") == "Fine-tune Archived"]
        ok = verified and len(delivered) == 1 and delivered[0]["detail"]["sha256"] == expected
        _step("done: archive verified, event delivered" if ok else "FAILED")
        return 0 if ok else 1
