"""Fault trials: every fault kind the archiver must survive, N times each, with the
outcome counted. Prints the Reliability table of docs/reliability.md.

    python -m tests.benchmarks.reliability --trials 20     (or: make reliability)

moto (in its own process) behind a fault-injecting proxy for S3 faults, the Together
simulator for source faults, template.yaml's resources, and an SQS target on the bus to
count the events. After every trial: the object's SHA-256 against the simulator's, open
multipart uploads (orphans), object versions under the key, and success events.
"""

import argparse
import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ft_archiver.domain.parts import parse_size
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.domain.webhook import decode_secret, sign
from ft_archiver.errors import ArchiverError
from ft_archiver.handlers.http_status import status_of
from ft_archiver.service.control import Archived, TransferControl, without_deadline
from ft_archiver.service.intake import WebhookIntake
from ft_archiver.settings import CliSettings
from ft_archiver.wiring.archiver import build_archiver
from ft_archiver_tools.local.s3_fault_proxy import S3Fault
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from tests.support.aws import aws_environment, moto_server
from tests.support.fakes import FakeLedger, FakeQueue
from tests.support.faults import s3_fault_proxy
from tests.support.sandbox import Sandbox
from tests.support.settings import SMALL_PARTS, settings_from

KIB = 1024
PART = parse_size(SMALL_PARTS["FT_ARCHIVER_PART_SIZE"])  # the trials' archives' parts


@dataclass
class Trial:
    name: str
    source: Callable[[random.Random], Faults]
    s3: Callable[[random.Random, int], list[S3Fault]]
    expect_success: bool = True


TRIALS = [
    Trial("source: connection dropped mid-part (twice)",
          lambda r: Faults(drop_after_bytes=r.randrange(1, 3 * PART), drop_times=2),
          lambda r, n: []),
    Trial("source: 5xx on the first requests",
          lambda r: Faults(fail_first=r.randrange(1, 3), fail_status=r.choice([500, 502, 503])),
          lambda r, n: []),
    Trial("source: 429 with Retry-After",
          lambda r: Faults(fail_first=r.randrange(1, 3), fail_status=429, retry_after=0),
          lambda r, n: []),
    Trial("source: body stalls past the read timeout",
          lambda r: Faults(stall_after_bytes=r.randrange(1, 3 * PART), stall_s=1.5),
          lambda r, n: []),
    Trial("S3: 503 SlowDown on an UploadPart",
          lambda r: Faults(),
          lambda r, n: [S3Fault("PUT", {"partNumber": str(r.randrange(1, n + 1))}, 503,
                                "SlowDown", times=2)]),
    Trial("S3: 500 on CompleteMultipartUpload",
          lambda r: Faults(),
          lambda r, n: [S3Fault("POST", {"uploadId": "*"}, 500, "InternalError", times=1)]),
    Trial("S3: the upload vanishes (NoSuchUpload)",
          lambda r: Faults(),
          lambda r, n: [S3Fault("PUT", {"partNumber": str(r.randrange(1, n + 1))}, 404,
                                "NoSuchUpload", times=1)]),
    Trial("source keeps failing (must fail cleanly)",
          lambda r: Faults(fail_first=10_000, fail_status=503),
          lambda r, n: [], expect_success=False),
    Trial("S3 keeps throttling (must fail cleanly)",
          lambda r: Faults(),
          lambda r, n: [S3Fault("PUT", {"partNumber": "2"}, 503, "SlowDown", times=10_000)],
          expect_success=False),
]  # fmt: skip


@contextmanager
def sandbox(name: str) -> Iterator[Sandbox]:
    """moto and a Together simulator of the trials' own, the template's resources named
    after ``name``, and this process's AWS environment pointing at moto."""
    with moto_server() as aws, TogetherSimulator() as together:
        os.environ.update(aws_environment(aws.endpoint_url))
        yield Sandbox.deploy(aws, together, name, wait_s=1)


def run_trials(trials: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    with sandbox("reliability") as box:
        together, stack = box.together, box.stack
        with s3_fault_proxy(box.aws.endpoint_url, os.environ.__setitem__) as proxy:
            settings = settings_from(box.variables(
                FT_ARCHIVER_MAX_ATTEMPTS=4, FT_ARCHIVER_READ_TIMEOUT=0.5,
                FT_ARCHIVER_CONCURRENCY=4, FT_ARCHIVER_UPLOAD_CONCURRENCY=4,
            ))  # fmt: skip
            for trial in TRIALS:
                outcome: Counter[str] = Counter()
                for _ in range(trials):
                    size = rng.randrange(PART + 1, 6 * PART)
                    job = together.add_job(
                        "Lora", size=size, model_output_name=f"r-{uuid.uuid4().hex}"
                    )
                    key = f"trials/{job.model_output_name}.tar.zst"
                    together.set_faults(trial.source(rng))
                    proxy.faults = trial.s3(rng, -(-size // PART))
                    try:
                        archived = build_archiver(settings).archive(
                            ArchiveRequest(job.id, key=key), Destination(stack.bucket)
                        )
                        detail = without_deadline(archived).detail
                        expected = together.sha256(together.archive_for(job.id, "merged"))
                        right = box.stored.sha256_of(key) == expected == detail.sha256
                        outcome[
                            "completed, right bytes" if right else "completed, WRONG bytes"
                        ] += 1
                    except ArchiverError:
                        outcome["failed"] += 1
                    together.set_faults(Faults())
                    proxy.faults = []
                    outcome["orphaned uploads"] += len(box.stored.open_uploads(key))
                    kept = len(box.stored.versions_under(key))
                    if not trial.expect_success:
                        outcome["objects left by a failure"] += kept
                    events = box.events.read(job_id=job.id)
                    successes = sum(e["detail-type"] == "Fine-tune Archived" for e in events)
                    outcome["duplicate success events"] += max(0, successes - 1)
                    if not trial.expect_success:
                        outcome["success events for a failure"] += successes
                rows.append({"fault": trial.name, "trials": trials, **outcome})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def resume_trials(trials: int, seed: int) -> list[dict[str, Any]]:
    """Archives that outlive one invocation (a 2 s Lambda deadline) and archivers killed
    with SIGKILL mid-transfer, resumed: bytes, re-downloads, orphans, events."""
    rng = random.Random(seed)
    rows = []
    with sandbox("resume") as box:
        together, stack = box.together, box.stack
        env = box.variables(
            SMALL_PARTS, STATE_TABLE_NAME=stack.table_name, FT_ARCHIVER_CONCURRENCY=2,
            FT_ARCHIVER_UPLOAD_CONCURRENCY=2, FT_ARCHIVER_LEASE=1, FT_ARCHIVER_DEADLINE_MARGIN=1.2,
        )  # fmt: skip
        settings = settings_from(env)
        together.set_faults(Faults(rate_limit_bps=512 * KIB))
        for kind in ("Lambda deadline: 2 s invocations", "archiver killed with SIGKILL"):
            outcome: Counter[str] = Counter()
            for _ in range(trials):
                size = rng.randrange(10 * PART, 16 * PART)
                job = together.add_job("Lora", size=size, model_output_name=f"r-{uuid.uuid4().hex}")
                key = f"resume/{job.model_output_name}.tar.zst"
                archive = together.archive_for(job.id, "merged")
                if kind.startswith("Lambda"):
                    invocations = _run_with_deadline(settings, job.id, key, stack.bucket)
                else:
                    invocations = _run_killed_then_resumed(env, job.id, key, box.aws.endpoint_url)
                outcome["invocations"] += invocations
                right = box.stored.sha256_of(key) == together.sha256(archive)
                outcome["completed, right bytes" if right else "completed, WRONG bytes"] += 1
                ranges = [r.range for r in together.blob_requests(archive)
                          if r.range != "bytes=0-1"]  # fmt: skip
                outcome["parts downloaded twice"] += len(ranges) - len(set(ranges))
                outcome["orphaned uploads"] += len(box.stored.open_uploads(key))
                events = box.events.read(job_id=job.id)
                successes = sum(e["detail-type"] == "Fine-tune Archived" for e in events)
                outcome["duplicate success events"] += max(0, successes - 1)
                outcome["missing success events"] += successes == 0
            rows.append({"fault": kind, "trials": trials, **outcome})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _run_with_deadline(settings: CliSettings, job_id: str, key: str, bucket: str) -> int:
    """As ArchiverFunction with a 2 s timeout: each suspension is a new invocation."""
    invocations = 0
    while True:
        invocations += 1
        ends = time.monotonic() + 2.0

        def remaining(ends: float = ends) -> float:
            return ends - time.monotonic()

        outcome = build_archiver(settings).archive(
            ArchiveRequest(job_id, key=key),
            Destination(bucket),
            TransferControl(remaining_s=remaining),
        )
        if isinstance(outcome, Archived):
            return invocations


def _run_killed_then_resumed(env: dict[str, str], job_id: str, key: str, endpoint: str) -> int:
    command = [sys.executable, "-m", "ft_archiver_tools", "archive", job_id, "--key", key]
    full = {**os.environ, **env, "AWS_ENDPOINT_URL": endpoint}
    victim = subprocess.Popen(
        command, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(random.uniform(1.0, 2.5))
    victim.kill()
    victim.wait()
    time.sleep(1.1)  # the lease of the dead run expires
    subprocess.run(command, env=full, check=True, capture_output=True)
    return 2


SIGNALS = {
    "Ctrl-C once": [signal.SIGINT],
    "Ctrl-C three times within 100 ms": [signal.SIGINT] * 3,
    "SIGTERM": [signal.SIGTERM],
    "SIGTERM, then Ctrl-C twice": [signal.SIGTERM, signal.SIGINT, signal.SIGINT],
}


def signal_trials(trials: int, seed: int) -> list[dict[str, Any]]:
    """The command line stopped mid-transfer by signals, as a user or an orchestrator
    stops it: exit code, the one line it prints, and what is left in S3."""
    rng = random.Random(seed)
    rows = []
    with sandbox("signals") as box:
        together = box.together
        env = {**os.environ, **aws_environment(box.aws.endpoint_url), **box.variables(SMALL_PARTS)}
        together.set_faults(Faults(rate_limit_bps=256 * KIB))
        for kind, numbers in SIGNALS.items():
            outcome: Counter[str] = Counter()
            for _ in range(trials):
                job = together.add_job(
                    "Lora", size=32 * PART, model_output_name=f"s-{uuid.uuid4().hex}"
                )
                key = f"signals/{job.model_output_name}.tar.zst"
                victim = subprocess.Popen(
                    [sys.executable, "-m", "ft_archiver_tools", "archive", job.id, "--key", key],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                )  # fmt: skip
                box.stored.wait_for_upload(key)
                time.sleep(rng.uniform(0.0, 2.0))  # somewhere in the transfer
                for number in numbers:
                    victim.send_signal(number)
                    time.sleep(rng.uniform(0.0, 0.05))
                _, stderr = victim.communicate(timeout=60)
                expected = 128 + numbers[0]
                outcome["right exit code"] += victim.returncode == expected
                outcome["said it aborted"] += "the upload was aborted" in stderr
                outcome["tracebacks"] += "Traceback" in stderr
                outcome["orphaned uploads"] += len(box.stored.open_uploads(key))
                outcome["objects left"] += len(box.stored.versions_under(key))
            rows.append({"signals": kind, "trials": trials, **outcome})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def bad_input_trials(count: int, seed: int) -> dict[str, int]:
    """Random and mangled webhooks against the intake: answers by status, and what was
    queued for a request that was not accepted (must be nothing)."""
    rng = random.Random(seed)
    secret = "whsec_" + base64.b64encode(b"reliability").decode()
    key = decode_secret(secret)
    queue = FakeQueue()
    intake = WebhookIntake(lambda: [key], queue, FakeLedger(), clock=lambda: 1_800_000_000)
    statuses: Counter[int] = Counter()
    wrongly_queued = 0
    pieces: list[Any] = [
        "ft-abc", "ft-abc:5", "ft-ABC:5", "ft-x&checkpoint=adapter", "../x", "", "é",
        "a" * 300, None, 5, -1, 10**30, True, [], {}, "default", "ADAPTER", "lora",
        "models/a.tar.zst", "/abs", "a//b", "completed", "failed",
    ]  # fmt: skip
    for n in range(count):
        payload = {name: rng.choice(pieces) for name in
                   rng.sample(["id", "status", "checkpoint_step", "checkpoint_type", "key"],
                              rng.randrange(0, 6))}  # fmt: skip
        body = json.dumps(payload).encode()
        if rng.random() < 0.2:
            body = body[: rng.randrange(0, len(body) + 1)] + bytes(
                rng.randrange(256) for _ in range(3)
            )
        headers = {"content-type": "application/json", "webhook-id": f"msg_{n}",
                   "webhook-timestamp": "1800000000",
                   "webhook-signature": sign(key, f"msg_{n}", 1_800_000_000, body)}  # fmt: skip
        if rng.random() < 0.1:
            headers["webhook-signature"] = "v1,AAAA"
        before = len(queue.messages)
        status = status_of(intake.handle(headers, body))
        statuses[status] += 1
        if status != 202 and len(queue.messages) != before:
            wrongly_queued += 1
    return {"requests": count, **{f"HTTP {k}": v for k, v in sorted(statuses.items())},
            "5xx": sum(v for k, v in statuses.items() if k >= 500),
            "queued although refused": wrongly_queued}  # fmt: skip


def print_table(
    title: str, rows: list[dict[str, Any]], columns: list[str], name: str | None = None
) -> None:
    """A Markdown table of trial rows: the kind (``row[name]``, by default the title),
    the number of trials, then a column each, 0 where a row has no count."""
    print(f"\n| {title} | trials | " + " | ".join(columns) + " |")
    print("| --- | ---: |" + " ---: |" * len(columns))
    for row in rows:
        cells = " | ".join(str(row.get(column, 0)) for column in columns)
        print(f"| {row[name or title]} | {row['trials']} | {cells} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--resume-trials", type=int, default=10)
    parser.add_argument("--bad-inputs", type=int, default=5000)
    parser.add_argument("--signal-trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rows = run_trials(args.trials, args.seed)
    resumed = resume_trials(args.resume_trials, args.seed)
    columns = ["completed, right bytes", "failed", "orphaned uploads",
               "duplicate success events", "objects left by a failure",
               "success events for a failure", "completed, WRONG bytes"]  # fmt: skip
    print_table("fault", rows, columns)
    columns = ["completed, right bytes", "invocations", "parts downloaded twice",
               "orphaned uploads", "duplicate success events", "missing success events",
               "completed, WRONG bytes"]  # fmt: skip
    print_table("resumed", resumed, columns, name="fault")
    stopped = signal_trials(args.signal_trials, args.seed)
    columns = ["right exit code", "said it aborted", "orphaned uploads", "objects left",
               "tracebacks"]  # fmt: skip
    print_table("signals", stopped, columns)
    print("\nBad input:", json.dumps(bad_input_trials(args.bad_inputs, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
