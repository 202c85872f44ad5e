"""The command line's plan command: how an archive of a given size would be archived in
AWS, in how long and for how much, as a short table or one JSON object. It contacts
nothing and reads no settings: the figures come from domain/sizing.py and
domain/prices.py alone."""

import argparse
import json
from typing import Any

from ft_archiver.domain import prices, sizing
from ft_archiver.domain.parts import format_size, parse_size
from ft_archiver.domain.sizing import Sizing, size_archive
from ft_archiver.errors import RuleError

DECIMAL_UNITS = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000))
BINARY_UNITS = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def add_plan_parser(commands: Any) -> None:
    plan = commands.add_parser(
        "plan",
        help="how an archive of a given size would be archived in AWS, how long, what it costs",
        description="Prints the path (one function, or fanned out on Step Functions), parts, "
        "batches, estimated wall time, Lambda invocations and GB-seconds, state transitions "
        "and an estimated cost at us-east-1 prices. Contacts nothing; needs no settings.",
        one_line_errors=True,
    )
    # Values are read by run_plan, so that a bad one is one line, like every other error.
    plan.add_argument("--size", help="archive size: 150GB, 1TB, 48.8TiB, 500MiB or bytes")
    plan.add_argument("--workers", help=f"batches at once (default {sizing.DEFAULT_WORKERS})")
    plan.add_argument(
        "--memory", help=f"the function's memory in MB (default {sizing.DEFAULT_MEMORY_MB})"
    )
    plan.add_argument("--json", action="store_true", help="print one JSON object")


def run_plan(args: argparse.Namespace) -> int:
    size = _archive_size(args.size)
    workers = _number("--workers", args.workers, sizing.DEFAULT_WORKERS, 1, sizing.MAX_WORKERS)
    memory = _number(
        "--memory",
        args.memory,
        sizing.DEFAULT_MEMORY_MB,
        sizing.MIN_MEMORY_MB,
        sizing.MAX_MEMORY_MB,
    )
    plan = size_archive(size, workers, memory)
    print(json.dumps(as_json(plan)) if args.json else "\n".join(table(plan)))
    return 0


def _archive_size(text: str | None) -> int:
    if text is None:
        raise RuleError("plan needs --size, e.g. --size 150GB")
    try:
        size = parse_size(text)
    except ValueError as exc:
        raise RuleError(f"--size: {exc}") from None
    if size < 1:
        raise RuleError(f"--size: {text!r} is not an archive: give at least 1 byte")
    return size


def _number(flag: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise RuleError(f"{flag}: {text!r} is not a whole number from {low} to {high}")
    return number


def human_size(size: int, units: tuple[tuple[str, int], ...] = DECIMAL_UNITS) -> str:
    for unit, scale in units:
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def duration(seconds: float) -> str:
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def usd(amount: float) -> str:
    if 0 < amount < 0.0001:
        return "< $0.0001"
    return f"${amount:,.4f}" if amount < 1 else f"${amount:,.2f}"


def plural(count: int, word: str, words: str = "") -> str:
    return f"{count:,} {word if count == 1 else words or word + 's'}"


def table(plan: Sizing) -> list[str]:
    costs = plan.costs
    if plan.path == "single":
        path = f"single: the archiver function, {plural(plan.invocations, 'invocation')}"
        batches = "none"
        wall = duration(plan.wall_s)
    else:
        rounds = -(-(plan.batches or 0) // plan.workers)
        path = (
            f"distributed: Plan, {plural(plan.batches or 0, 'batch', 'batches')} on "
            f"{plural(plan.workers, 'worker')} ({plural(rounds, 'round')}), Complete"
            + (", SHA-256 read-back" if plan.verify_s else "")
        )
        batches = f"{plan.batches:,} of up to {format_size(sizing.BATCH_BYTES)}"
        wall = duration(plan.wall_s)
        if plan.verify_s:
            wall += f" (of which the SHA-256 read-back {duration(plan.verify_s)})"
    rows = [
        ("archive", f"{human_size(plan.size)} ({human_size(plan.size, BINARY_UNITS)}, "
                    f"{plan.size:,} bytes)"),
        ("path", path),
        ("part size", format_size(plan.part_size)),
        ("parts", f"{plan.parts:,}"),
        ("batches", batches),
        ("per invocation", f"{plural(plan.lanes.downloads, 'GET')} and "
                           f"{plural(plan.lanes.uploads, 'UploadPart')} at once, "
                           f"{plan.memory_mb} MB"),
        ("estimated wall time", wall),
        ("Lambda invocations", f"{plan.invocations:,}"),
        ("Lambda GB-seconds", f"{plan.gb_seconds:,.0f}"),
        ("state transitions", f"{plan.state_transitions:,}"),
        ("S3 PUT requests", f"{plan.s3_put_requests:,}"),
        ("cost: Lambda compute", usd(costs.lambda_compute)),
        ("cost: Lambda requests", usd(costs.lambda_requests)),
        ("cost: Step Functions", usd(costs.step_functions)),
        ("cost: S3 requests", usd(costs.s3_requests)),
        ("cost: total", usd(costs.total)),
        ("S3 storage", f"{usd(costs.storage_per_month)} a month (not in the total)"),
        ("times from", f"{human_size(sizing.PER_WORKER_BPS)}/s per worker, "
                       f"{human_size(sizing.VERIFY_READ_BPS)}/s read-back: placeholders "
                       "(domain/sizing.py)"),
        ("prices", f"{prices.REGION} on-demand of {prices.LOOKED_UP}, no free tier "
                   "(domain/prices.py)"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{name:<{width}}{value}" for name, value in rows]
    lines.extend(f"note: {note}" for note in plan.notes)
    return lines


def as_json(plan: Sizing) -> dict[str, Any]:
    costs = plan.costs
    return {
        "size": plan.size,
        "path": plan.path,
        "part_size": plan.part_size,
        "parts": plan.parts,
        "batches": plan.batches,
        "workers": plan.workers,
        "memory_mb": plan.memory_mb,
        "lanes": {
            "downloads": plan.lanes.downloads,
            "uploads": plan.lanes.uploads,
            "buffers": plan.lanes.buffers,
        },
        "fits_memory": plan.fits_memory,
        "min_memory_mb": plan.min_memory_mb,
        "wall_seconds": round(plan.wall_s, 1),
        "verify_seconds": round(plan.verify_s, 1),
        "invocations": plan.invocations,
        "gb_seconds": round(plan.gb_seconds, 1),
        "state_transitions": plan.state_transitions,
        "s3_put_requests": plan.s3_put_requests,
        "cost_usd": {
            "lambda_compute": round(costs.lambda_compute, 6),
            "lambda_requests": round(costs.lambda_requests, 6),
            "step_functions": round(costs.step_functions, 6),
            "s3_requests": round(costs.s3_requests, 6),
            "total": round(costs.total, 6),
        },
        "storage_usd_per_month": round(costs.storage_per_month, 4),
        "notes": plan.notes,
        "assumptions": {
            "fan_out_threshold_gib": sizing.FAN_OUT_THRESHOLD_GIB,
            "batch_bytes": sizing.BATCH_BYTES,
            "per_worker_bps": sizing.PER_WORKER_BPS,
            "verify_read_bps": sizing.VERIFY_READ_BPS,
            "region": prices.REGION,
            "prices_looked_up": prices.LOOKED_UP,
        },
    }
