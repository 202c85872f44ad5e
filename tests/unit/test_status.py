"""``status``'s reading of state-table items and its rendering (pure)."""

import json
from typing import Any

from ft_archiver_tools.status.model import archive_status, with_execution, with_recorded_parts
from ft_archiver_tools.status.render import bar, block, table

NOW = 1_800_000_000.0
MIB = 1024 * 1024
ARCHIVE = "ft-abc123#final#merged#bucket#prefix=models/"


def item(**fields: Any) -> dict[str, Any]:
    typed: dict[str, Any] = {"pk": {"S": f"archive#{fields.pop('archive', ARCHIVE)}"}}
    for name, value in fields.items():
        if isinstance(value, dict):
            typed[name] = {"S": json.dumps(value)}
        elif isinstance(value, int | float):
            typed[name] = {"N": str(value)}
        else:
            typed[name] = {"S": value}
    return typed


def activity(path: str = "single", continuation: int = 0) -> dict[str, Any]:
    return {"job": "ft-abc123", "step": None, "checkpoint": "merged", "key": "models/m.tar.zst",
            "size": 100 * MIB, "parts": 10, "part_size": 10 * MIB, "path": path,
            "continuation": continuation}  # fmt: skip


def test_a_running_archive_shows_bytes_rate_and_lease() -> None:
    status = archive_status(
        item(status="running", owner="0123456789abcdef", lease_until=NOW + 600,
             started_at=NOW - 40, seen_at=NOW - 2, activity=activity(continuation=2),
             progress={"done": 4, "key": "models/m.tar.zst"}),
        NOW,
    )  # fmt: skip
    assert (status.job, status.step, status.checkpoint, status.state) == (
        "ft-abc123",
        None,
        "merged",
        "running",
    )
    assert (status.bytes_done, status.fraction) == (40 * MIB, 0.4)
    assert status.rate_bps == 40 * MIB / 38
    lines = block(status, NOW)
    assert lines[0] == "ft-abc123 (merged) -> models/m.tar.zst"
    assert "lease 01234567 until" in lines[1]
    assert "last seen 2s ago" in lines[1]
    assert "40.0 MiB of 100.0 MiB, 4/10 parts" in lines[2]
    assert lines[4] == "  path      single function, continuation 2"


def test_a_lease_that_expired_while_running_is_stale() -> None:
    status = archive_status(
        item(status="running", owner="o", lease_until=NOW - 5, activity=activity()), NOW
    )
    assert status.state == "stale"
    assert "stale: the lease of o expired 5s ago" in block(status, NOW)[1]


def test_a_paused_archive_whose_continuation_never_came_is_stale() -> None:
    waiting = item(status="paused", owner="o", lease_until=NOW - 60, activity=activity())
    assert archive_status(waiting, NOW).state == "paused"  # its continuation is on its way
    lost = item(status="paused", owner="o", lease_until=NOW - 901, activity=activity())
    assert archive_status(lost, NOW).state == "stale"


def test_a_distributed_archive_counts_recorded_parts_and_batches() -> None:
    batches = [{"first": 1, "last": 4}, {"first": 5, "last": 8}, {"first": 9, "last": 10}]
    plan = {"key": "models/m.tar.zst", "size": 100 * MIB, "parts": 10, "part_size": 10 * MIB,
            "batches": batches}  # fmt: skip
    status = archive_status(
        item(status="running", lease_until=NOW + 9e5, activity=activity("distributed"), plan=plan),
        NOW,
    )
    moved = with_recorded_parts(status, {1, 2, 3, 4, 5, 9, 10})
    assert (moved.parts_done, moved.batches_done, moved.batches) == (7, 2, 3)
    assert moved.bytes_done == 70 * MIB
    assert "distributed, 2 of 3 batches done" in block(moved, NOW)[4]
    assert with_execution(moved, "RUNNING").state == "running"
    assert with_execution(moved, "ABORTED").state == "stale"  # ended, lease still held


def test_done_and_failed_archives() -> None:
    detail = {"key": "models/m.tar.zst", "size": 100 * MIB, "parts": 10, "sha256": "ab" * 32,
              "manifest_key": "models/m.tar.zst.manifest.json"}  # fmt: skip
    done = archive_status(item(status="done", detail=detail, seen_at=NOW - 60), NOW)
    assert (done.state, done.bytes_done, done.fraction, done.error) == (
        "done",
        100 * MIB,
        1.0,
        None,
    )
    assert f"  sha256    {'ab' * 32}" in block(done, NOW)
    failed = archive_status(
        item(status="failed", error="IntegrityError: part 3 differs", seen_at=NOW - 1,
             activity=activity(), archive="ft-abc123#100#adapter#bucket#prefix=models/"),
        NOW,
    )  # fmt: skip
    assert (failed.step, failed.checkpoint, failed.label) == (100, "adapter", "ft-abc123:100")
    rows = table([failed, done], NOW)
    assert rows[0].split() == ["STATE", "JOB", "TYPE", "PROGRESS", "BYTES", "RATE", "PARTS",
                               "PATH", "SEEN", "KEY"]  # fmt: skip
    assert rows[1].startswith("failed  ft-abc123:100  adapter")
    assert rows[2] == "  error: IntegrityError: part 3 differs"
    assert rows[3].startswith("done    ft-abc123      merged")


def test_an_item_from_before_status_existed_still_reads() -> None:
    status = archive_status(item(status="paused", progress={"done": 3}), NOW)
    assert (status.state, status.bytes_done, status.key) == ("paused", None, None)
    assert bar(None).startswith("[????")
    assert block(status, NOW)[0] == "ft-abc123 (merged) -> (key not known yet)"


def test_bar() -> None:
    assert bar(0.5, width=10) == "[#####-----]  50%"
    assert bar(1.0, width=4) == "[####] 100%"


def test_a_failure_is_stored_as_the_failure_event_names_it() -> None:
    from ft_archiver.errors import IntegrityError
    from ft_archiver.service.resume import failure_of

    assert failure_of(IntegrityError("part 3\ndiffers")) == "IntegrityError: part 3 differs"
    leaky = ConnectionError("https://blob.example/x?X-Amz-Signature=secret")
    assert failure_of(leaky) == "ConnectionError"  # not ours: its message may hold anything
    assert len(failure_of(IntegrityError("x" * 2000))) == 500
