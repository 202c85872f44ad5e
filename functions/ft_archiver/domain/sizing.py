"""How an archive of a given size would be archived in AWS, how long it would take and
what it would cost. Pure.

Two paths (issue 11). Up to the fan-out threshold, the single archiver function: one
invocation after another, each continuing the upload before its 900 s deadline. Above
it, a Step Functions STANDARD state machine: Plan (one invocation: CreateMultipartUpload,
the parts, the batches), a Distributed Map over the batches (one invocation per batch,
``workers`` at once), Complete (one invocation: ListParts, CompleteMultipartUpload,
HeadObject, manifest, event), then VerifySha256 reading the object back for the whole
archive's SHA-256, one invocation after another.

The parts and batches are exact (the archiver's own planning); times, and so GB-seconds
and cost, are estimates from the rates below (one measured on the benchmark machine, the
others placeholders).
"""

import math
from dataclasses import dataclass
from typing import Literal

from ft_archiver.domain import prices
from ft_archiver.domain.batches import plan_batches
from ft_archiver.domain.distributed_defaults import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_FAN_OUT_THRESHOLD_GIB,
    DEFAULT_VERIFY_SHA256_UP_TO,
)
from ft_archiver.domain.distributed_defaults import (
    DEFAULT_WORKERS as DEFAULT_WORKERS,
)
from ft_archiver.domain.parts import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PART_SIZE,
    DEFAULT_UPLOAD_CONCURRENCY,
    GIB,
    MIB,
    PART_SIZE_FLOOR,
    RUNTIME_RESERVE,
    S3_MAX_OBJECT_SIZE,
    Lanes,
    default_memory_budget,
    format_size,
    plan_lanes,
    plan_parts,
)
from ft_archiver.errors import ArchiveTooLargeError, RuleError

MB = 1000**2

# Archives of at least this many GiB take the distributed path (the stack's
# FanOutThreshold); a batch (one Distributed Map item) holds about BATCH_BYTES; the Map's
# MaxConcurrency, which runs at most 10,000 child workflow executions at once
# (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).
FAN_OUT_THRESHOLD_GIB = DEFAULT_FAN_OUT_THRESHOLD_GIB
BATCH_BYTES = DEFAULT_BATCH_BYTES
MAX_WORKERS = 10_000
# template.yaml's ArchiverMemorySize: Default, MinValue, MaxValue (a unit test compares).
DEFAULT_MEMORY_MB = 1024
MIN_MEMORY_MB = 256
MAX_MEMORY_MB = 10240
# What one invocation works before it continues in the next: the archiver's Timeout in
# template.yaml (900 s) less FT_ARCHIVER_DEADLINE_MARGIN's default (60 s).
WORK_WINDOW_S = 900 - 60

# Bytes per second one invocation moves from Together to S3 (20 ranged GETs, 8 UploadParts
# at once). Measured 2026-11-26 by `make bench-sizing` (python -m tests.benchmarks.sizing):
# the archiver's process under the CPU quota of a 1,024 MB function (0.58 vCPU), 1 GiB,
# each source connection capped at 25 MB/s, median of 3. Its S3 was LocalStack on the
# same 2 shared cores, not AWS's (docs/serverless.md, Sizing).
PER_WORKER_BPS = 193 * MB
# Bytes per second VerifySha256 reads back from S3 through SHA-256. A placeholder:
# hashlib's SHA-256 ran at about 1.8 GiB/s on one core of the benchmark machine (SHA-NI)
# and a 1024 MB function has about 0.6 of a vCPU, so the read from S3 is the likelier
# bound. `make bench-scaling` read 2 GiB back at 432 and 600 MB/s (two runs, 2026-11-26), but from
# LocalStack on loopback with no CPU quota: one 8 MiB ranged GET after another on one
# connection, whose rate from AWS's S3 that does not tell.
VERIFY_READ_BPS = 200 * MB
# Seconds an invocation spends besides moving bytes (start, job lookup, probe or
# ListParts); the Plan invocation (lookup, probe, CreateMultipartUpload, the batches) and
# the Complete one (ListParts of up to 10,000 parts, CompleteMultipartUpload, HeadObject,
# tag, manifest, event) in all. Estimates, not measured.
INVOCATION_OVERHEAD_S = 2.0
PLAN_S = 5.0
COMPLETE_S = 30.0

# State transitions of the distributed path (a STANDARD workflow is billed per transition).
# The parent: Plan, the Map state, Complete. Each child workflow execution: one for its
# start ("you're charged one state transition for each child workflow execution that the
# Distributed Map state starts",
# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html) and one
# for its UploadBatch task. VerifySha256: its task and the Choice that loops back, per
# invocation. A retry is a transition too; none are estimated.
PARENT_TRANSITIONS = 3
CHILD_TRANSITIONS = 2
VERIFY_TRANSITIONS = 2

# The single path uses the x86 price: template.yaml deploys on x86_64 (a test checks).
LAMBDA_USD_PER_GB_SECOND = prices.LAMBDA_X86_USD_PER_GB_SECOND

Path = Literal["single", "distributed"]


@dataclass(frozen=True)
class Costs:
    """USD, us-east-1 on-demand, no free tier (see ``prices``)."""

    lambda_compute: float
    lambda_requests: float
    step_functions: float
    s3_requests: float
    storage_per_month: float  # S3 Standard, for information: not part of the total

    @property
    def total(self) -> float:
        return self.lambda_compute + self.lambda_requests + self.step_functions + self.s3_requests


@dataclass(frozen=True)
class Sizing:
    size: int
    path: Path
    workers: int
    memory_mb: int
    part_size: int
    parts: int
    batches: int | None  # the Distributed Map's items; None on the single path
    lanes: Lanes  # per invocation, within the function's memory
    min_memory_mb: int  # the least ArchiverMemorySize one part's buffer fits in
    wall_s: float
    verify_s: float  # of wall_s, the SHA-256 read-back
    batch_s: float  # one full batch's invocation (0 on the single path)
    invocations: int
    gb_seconds: float
    state_transitions: int
    s3_put_requests: int
    costs: Costs

    @property
    def fits_memory(self) -> bool:
        return self.memory_mb >= self.min_memory_mb

    @property
    def notes(self) -> list[str]:
        """What makes this plan doubtful, one sentence each."""
        found = []
        if not self.fits_memory:
            budget = default_memory_budget(self.memory_mb)
            found.append(
                f"a part of {format_size(self.part_size)} does not fit the "
                f"{format_size(budget)} of part buffers a {self.memory_mb} MB function has: "
                f"an archive this large needs ArchiverMemorySize {self.min_memory_mb} or more"
            )
        elif self.lanes.downloads < DEFAULT_CONCURRENCY:
            found.append(
                f"{self.lanes.buffers} part buffer(s) of {format_size(self.part_size)} fit in "
                f"{self.memory_mb} MB: {self.lanes.downloads} GET(s) and {self.lanes.uploads} "
                "UploadPart(s) at once, fewer than the rate assumes, so slower than estimated"
            )
        if self.batch_s > WORK_WINDOW_S:
            found.append(
                f"a batch takes about {self.batch_s:.0f} s, more than one invocation's "
                f"{WORK_WINDOW_S} s: batches must be smaller"
            )
        return found


def min_memory_mb(part_size: int) -> int:
    """The least function memory (MB, as Lambda counts it) whose part buffer budget holds
    one part: the runtime's reserve on top, or twice the part below 512 MB."""
    part_mib = -(-part_size // MIB)
    return max(MIN_MEMORY_MB, min(part_mib + RUNTIME_RESERVE // MIB, 2 * part_mib))


def check_inputs(size: int, workers: int, memory_mb: int) -> None:
    if size < 0:
        raise RuleError(f"archive size {size} is negative")
    if size > S3_MAX_OBJECT_SIZE:
        raise ArchiveTooLargeError(
            f"an archive of {size:,} bytes is over S3's maximum object size of 48.8 TiB "
            f"({S3_MAX_OBJECT_SIZE:,} bytes: 10,000 parts of 5 GiB)"
        )
    if not 1 <= workers <= MAX_WORKERS:
        raise RuleError(f"workers must be 1 to {MAX_WORKERS:,} (Distributed Map's most)")
    if not MIN_MEMORY_MB <= memory_mb <= MAX_MEMORY_MB:
        raise RuleError(
            f"memory must be {MIN_MEMORY_MB} to {MAX_MEMORY_MB} MB (ArchiverMemorySize's range)"
        )


def size_archive(
    size: int,
    workers: int = DEFAULT_WORKERS,
    memory_mb: int = DEFAULT_MEMORY_MB,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    part_size_floor: int = PART_SIZE_FLOOR,
    fan_out_threshold_gib: float = FAN_OUT_THRESHOLD_GIB,
    batch_bytes: int = BATCH_BYTES,
    per_worker_bps: float = PER_WORKER_BPS,
    verify_read_bps: float = VERIFY_READ_BPS,
    verify_sha256_up_to: int = DEFAULT_VERIFY_SHA256_UP_TO,
) -> Sizing:
    """The plan of an archive of ``size`` bytes with the archiver's part settings, and its
    estimated wall time, Lambda use, state transitions, S3 requests and cost."""
    check_inputs(size, workers, memory_mb)
    plan = plan_parts(size, part_size, part_size_floor)
    lanes = plan_lanes(
        DEFAULT_CONCURRENCY,
        DEFAULT_UPLOAD_CONCURRENCY,
        plan.part_size,
        default_memory_budget(memory_mb),
    )
    # PutObject for an archive of one part; else CreateMultipartUpload, the parts, Complete.
    puts = 1 if plan.single_request else plan.count + 2
    transfer_s = size / per_worker_bps
    batches: int | None = None
    verify_s = batch_s = 0.0
    if size < fan_out_threshold_gib * GIB:
        path: Path = "single"
        invocations = max(1, math.ceil(transfer_s / WORK_WINDOW_S))  # continuations
        wall_s = busy_s = transfer_s + invocations * INVOCATION_OVERHEAD_S
        transitions = 0
    else:
        path = "distributed"
        items = plan_batches(plan, batch_bytes)
        batches = len(items)
        batch_s = max(item.length for item in items) / per_worker_bps + INVOCATION_OVERHEAD_S
        rounds = math.ceil(batches / workers)
        read_back = size <= verify_sha256_up_to
        verifies = math.ceil(size / (WORK_WINDOW_S * verify_read_bps)) if read_back else 0
        if verifies:
            verify_s = size / verify_read_bps + verifies * INVOCATION_OVERHEAD_S
        wall_s = PLAN_S + rounds * batch_s + COMPLETE_S + verify_s
        busy_s = PLAN_S + transfer_s + batches * INVOCATION_OVERHEAD_S + COMPLETE_S + verify_s
        invocations = 1 + batches + 1 + verifies
        transitions = (
            PARENT_TRANSITIONS + batches * CHILD_TRANSITIONS + verifies * VERIFY_TRANSITIONS
        )
    gb_seconds = memory_mb / 1024 * busy_s  # Lambda's GB is 1024 MB
    costs = Costs(
        lambda_compute=gb_seconds * LAMBDA_USD_PER_GB_SECOND,
        lambda_requests=invocations * prices.LAMBDA_USD_PER_REQUEST,
        step_functions=transitions * prices.STEP_FUNCTIONS_USD_PER_TRANSITION,
        s3_requests=puts * prices.S3_PUT_USD_PER_REQUEST,
        storage_per_month=size / GIB * prices.S3_STANDARD_USD_PER_GIB_MONTH,
    )
    return Sizing(
        size=size,
        path=path,
        workers=workers,
        memory_mb=memory_mb,
        part_size=plan.part_size,
        parts=plan.count,
        batches=batches,
        lanes=lanes,
        min_memory_mb=min_memory_mb(plan.part_size),
        wall_s=wall_s,
        verify_s=verify_s,
        batch_s=batch_s,
        invocations=invocations,
        gb_seconds=gb_seconds,
        state_transitions=transitions,
        s3_put_requests=puts,
        costs=costs,
    )
