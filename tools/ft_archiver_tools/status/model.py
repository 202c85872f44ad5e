"""An archive's state as the state table has it, read into one record. Pure: the items
come from ``table.py``, the distributed part counts and execution from ``sources.py``.

An item is ``archive#{job}#{step}#{type}#{bucket}#{place}`` (the archive's idempotency
key) with its lease (``status``, ``owner``, ``lease_until``), what the invocation
described (``activity``: key, size, parts, path, continuation; ``started_at``,
``seen_at``), the saved progress of a single-function archive (``progress.done``:
parts), the plan of a distributed one (``plan``, with its batches), the result once done
(``detail``) and the last failure (``error``).
"""

import json
from dataclasses import dataclass, field, replace
from typing import Any

from ft_archiver.domain.activity import DISTRIBUTED

ITEM_PREFIX = "archive#"
RUNNING, PAUSED, DONE, FAILED = "running", "paused", "done", "failed"
# A running archive whose lease expired: its invocation died (killed, timed out) and
# nothing has taken it on yet; a redelivery or the next request will.
STALE = "stale"
IN_FLIGHT = (RUNNING, PAUSED, STALE)
# A paused archive's next invocation claims it within seconds of its message (SQS delays
# one 900 s at most): paused this long past its last lease, its continuation was lost.
PAUSED_GRACE_S = 900.0
# A distributed archive's execution in these states holds its lease no longer.
EXECUTION_ENDED = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class Batch:
    first: int
    last: int


@dataclass(frozen=True)
class ArchiveStatus:
    archive: str  # the idempotency key, the item's name without its prefix
    job: str
    step: int | None
    checkpoint: str
    state: str
    key: str | None = None
    size: int | None = None
    part_size: int | None = None
    parts: int | None = None
    parts_done: int | None = None
    bytes_done: int | None = None
    path: str | None = None
    owner: str | None = None
    lease_until: float | None = None
    started_at: float | None = None
    seen_at: float | None = None
    continuation: int | None = None
    error: str | None = None
    batches: int | None = None
    batches_done: int | None = None
    execution: str | None = None  # the distributed archive's execution status
    result: dict[str, Any] | None = None
    batch_plan: tuple[Batch, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        return self.job if self.step is None else f"{self.job}:{self.step}"

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED)

    @property
    def fraction(self) -> float | None:
        if self.size is None or self.bytes_done is None:
            return None
        return 1.0 if self.size == 0 else min(1.0, self.bytes_done / self.size)

    @property
    def rate_bps(self) -> float | None:
        """Bytes a second since the archive started (across its continuations)."""
        if self.bytes_done is None or self.started_at is None or self.seen_at is None:
            return None
        elapsed = self.seen_at - self.started_at
        return self.bytes_done / elapsed if elapsed > 0 else None

    def to_document(self, now: float) -> dict[str, Any]:
        """For ``--json``: every field, and the derived ones."""
        fields = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "batch_plan"
        }
        seen_ago = None if self.seen_at is None else round(max(0.0, now - self.seen_at), 3)
        return {**fields, "fraction": self.fraction, "rate_bps": self.rate_bps,
                "seen_s_ago": seen_ago}  # fmt: skip


def archive_status(item: dict[str, Any], now: float) -> ArchiveStatus:
    """One archive item of the state table (DynamoDB's typed JSON) as a record."""
    archive = _s(item, "pk").removeprefix(ITEM_PREFIX)
    job, step, checkpoint = [*archive.split("#"), "", "", ""][:3]
    activity = _json(item, "activity")
    plan = _json(item, "plan")
    detail = _json(item, "detail")
    state = _s(item, "status") or RUNNING
    lease_until = _n(item, "lease_until")
    if state == RUNNING and lease_until is not None and lease_until < now:
        state = STALE
    if state == PAUSED and lease_until is not None and lease_until < now - PAUSED_GRACE_S:
        state = STALE
    size = _int(activity.get("size") or plan.get("size"))
    part_size = _int(plan.get("part_size") or activity.get("part_size"))
    parts = _int(plan.get("parts") or activity.get("parts"))
    parts_done = _int(_json(item, "progress").get("done"))
    if state == DONE:
        size = _int(detail.get("size")) if detail else size
        parts_done, parts = _int(detail.get("parts")) or parts, _int(detail.get("parts")) or parts
    bytes_done = _bytes_done(state, size, part_size, parts_done)
    batches = tuple(Batch(int(b["first"]), int(b["last"])) for b in plan.get("batches", []))
    return ArchiveStatus(
        archive=archive,
        job=job,
        step=None if step in ("final", "") else int(step),
        checkpoint=checkpoint,
        state=state,
        key=detail.get("key") or plan.get("key") or activity.get("key"),
        size=size,
        part_size=part_size,
        parts=parts,
        parts_done=parts_done,
        bytes_done=bytes_done,
        path=DISTRIBUTED if plan else activity.get("path"),
        owner=_s(item, "owner") or None,
        lease_until=lease_until,
        started_at=_n(item, "started_at"),
        seen_at=_n(item, "seen_at"),
        continuation=_int(activity.get("continuation")),
        error=_s(item, "error") or None if state != DONE else None,
        batches=len(batches) or None,
        result=detail or None,
        batch_plan=batches,
    )


def with_recorded_parts(status: ArchiveStatus, recorded: set[int]) -> ArchiveStatus:
    """A distributed archive's progress: the parts whose digests its batches recorded."""
    if status.finished or not status.batch_plan:
        return status
    done = sum(
        1
        for batch in status.batch_plan
        if all(n in recorded for n in range(batch.first, batch.last + 1))
    )
    parts_done = len(recorded)
    bytes_done = _bytes_done(RUNNING, status.size, status.part_size, parts_done)
    return replace(status, parts_done=parts_done, batches_done=done, bytes_done=bytes_done)


def with_execution(status: ArchiveStatus, execution: str | None) -> ArchiveStatus:
    """A distributed archive's execution status; one that ended without releasing its
    lease (an execution stopped by hand, say) leaves the archive stale."""
    state = status.state
    if execution in EXECUTION_ENDED and state == RUNNING:
        state = STALE
    return replace(status, execution=execution, state=state)


def _bytes_done(
    state: str, size: int | None, part_size: int | None, parts: int | None
) -> int | None:
    if state == DONE:
        return size
    if size is None or part_size is None or parts is None:
        return None
    return min(size, parts * part_size)


def _s(item: dict[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _n(item: dict[str, Any], name: str) -> float | None:
    value = item.get(name, {}).get("N")
    return float(value) if value is not None else None


def _json(item: dict[str, Any], name: str) -> dict[str, Any]:
    text = _s(item, name)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else None
