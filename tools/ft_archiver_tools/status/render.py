"""``status`` for people: one line per archive (the list), or a block per archive (one
followed by ``status TARGET``). Pure: text from records and the time."""

import time

from ft_archiver.domain.activity import DISTRIBUTED
from ft_archiver.domain.catalog import human_size
from ft_archiver_tools.status.model import DONE, FAILED, STALE, ArchiveStatus

BAR_WIDTH = 20
HEADER = ("STATE", "JOB", "TYPE", "PROGRESS", "BYTES", "RATE", "PARTS", "PATH", "SEEN", "KEY")


def bar(fraction: float | None, width: int = BAR_WIDTH) -> str:
    if fraction is None:
        return "[" + "?" * width + "]    "
    filled = int(fraction * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {fraction:4.0%}"


def ago(seconds: float | None, now: float) -> str:
    if seconds is None:
        return "-"
    elapsed = max(0.0, now - seconds)
    if elapsed < 120:
        return f"{elapsed:.0f}s ago"
    if elapsed < 7200:
        return f"{elapsed / 60:.0f}m ago"
    return f"{elapsed / 3600:.0f}h ago"


def rate(status: ArchiveStatus) -> str:
    value = status.rate_bps
    return f"{human_size(int(value))}/s" if value else "-"


def amount(status: ArchiveStatus) -> str:
    if status.size is None:
        return "-"
    done = "?" if status.bytes_done is None else human_size(status.bytes_done)
    return f"{done} of {human_size(status.size)}"


def parts(status: ArchiveStatus) -> str:
    if status.parts is None:
        return "-"
    done = "?" if status.parts_done is None else f"{status.parts_done:,}"
    return f"{done}/{status.parts:,}"


def path(status: ArchiveStatus) -> str:
    if status.path == DISTRIBUTED:
        batches = f" {status.batches_done or 0}/{status.batches} batches" if status.batches else ""
        return f"distributed{batches}"
    if status.path is None:
        return "-"
    return f"single +{status.continuation}" if status.continuation else "single"


def table(statuses: list[ArchiveStatus], now: float) -> list[str]:
    rows = [HEADER] + [
        (
            s.state, s.label, s.checkpoint, bar(s.fraction), amount(s), rate(s), parts(s),
            path(s), ago(s.seen_at, now), s.key or "-",
        )
        for s in statuses
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER) - 1)]
    lines = []
    for row, status in zip(rows, [None, *statuses], strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
        if status is not None and status.error and status.state == FAILED:
            lines.append(f"  error: {status.error}")
    return lines


def block(status: ArchiveStatus, now: float) -> list[str]:
    """One archive, line by line, as ``status TARGET`` follows it."""
    lines = [f"{status.label} ({status.checkpoint}) -> {status.key or '(key not known yet)'}"]
    lines.append(f"  state     {_state(status, now)}")
    lines.append(f"  progress  {bar(status.fraction)}  {amount(status)}, {parts(status)} parts")
    lines.append(f"  rate      {rate(status)}")
    lines.append(f"  path      {_path_detail(status)}")
    if status.state == DONE and status.result:
        result = status.result
        lines.append(f"  sha256    {result.get('sha256') or result.get('sha256_tree') or '-'}")
        lines.append(f"  manifest  {result.get('manifest_key') or '-'}")
    if status.error and status.state != DONE:
        lines.append(f"  error     {status.error}")
    return lines


def _state(status: ArchiveStatus, now: float) -> str:
    seen = ago(status.seen_at, now)
    owner = (status.owner or "?")[:8]
    if status.state == STALE:
        return (
            f"stale: the lease of {owner} expired {ago(status.lease_until, now)}, last seen "
            f"{seen}; its invocation died, a redelivery or the next request takes it on"
        )
    if status.state in (DONE, FAILED):
        return f"{status.state} {seen}"
    until = (
        ""
        if status.lease_until is None
        else time.strftime(" until %H:%M:%S UTC", time.gmtime(status.lease_until))
    )
    return f"{status.state} (lease {owner}{until}, last seen {seen})"


def _path_detail(status: ArchiveStatus) -> str:
    if status.path == DISTRIBUTED:
        execution = f", execution {status.execution}" if status.execution else ""
        batches = f"{status.batches_done or 0} of {status.batches or '?'} batches done"
        return f"distributed, {batches}{execution}"
    if status.path is None:
        return "-"
    return f"single function, continuation {status.continuation or 0}"
