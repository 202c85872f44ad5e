"""``ft-archiver status [ID|KEY]``: what the deployed stack is archiving, from its state
table; ``--watch`` follows until the archives shown end."""

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ft_archiver.errors import ConfigurationError, RuleError

if TYPE_CHECKING:  # the settings and boto3 load only when it runs
    from ft_archiver.settings import CliSettings
    from ft_archiver_tools.status.imports import ImportJobRow, ImportJobs
    from ft_archiver_tools.status.model import ArchiveStatus
    from ft_archiver_tools.status.sources import Executions, StateTable

EXIT_FAILED = 1
CLEAR = "\x1b[H\x1b[J"  # cursor home, clear the screen: a terminal's redraw


def add_status_parser(commands: Any) -> None:
    status = commands.add_parser(
        "status",
        help="archives in flight and recently finished, from a deployed stack's state table",
        description="Reads STATE_TABLE_NAME (and ARCHIVE_STATE_MACHINE_ARN for distributed "
        "archives), or the stack's outputs with --stack. Needs only read access: "
        "dynamodb:Scan and BatchGetItem on the table, states:DescribeExecution, and "
        "cloudformation:DescribeStacks for --stack. Exit 0 shown (with --watch: ended "
        "archived), 1 an archive followed with --watch failed or went stale, or AWS "
        "failed, 2 a bad ID, nothing found or no table.",
    )
    status.add_argument(
        "target", nargs="?",
        help="follow one archive: a fine-tune ID (ft-... or ft-...:STEP), a key or s3:// URL",
    )  # fmt: skip
    status.add_argument("--stack", help="read the table and state machine from this stack")
    status.add_argument(
        "--watch",
        action="store_true",
        help="redraw: with TARGET until it is done, failed or stale; the list until Ctrl-C",
    )
    status.add_argument(
        "--interval", type=float, default=2.0, help="seconds between redraws (default 2)"
    )
    status.add_argument(
        "--hours", type=float, default=24.0,
        help="also list archives that finished or failed this recently (default 24)",
    )  # fmt: skip
    status.add_argument("--json", action="store_true", help="one JSON object per archive")
    status.set_defaults(bucket=None, prefix=None)


@dataclass(frozen=True)
class Target:
    """What ``status TARGET`` follows: a job (and step), or an object."""

    job: str | None = None
    step: int | None = None
    bucket: str | None = None
    key: str | None = None

    def matches(self, status: "ArchiveStatus") -> bool:
        if self.job is not None:
            return status.job == self.job and (self.step is None or status.step == self.step)
        bucket = status.archive.split("#")[3] if status.archive.count("#") >= 3 else None
        return status.key == self.key and (self.bucket is None or bucket == self.bucket)


def parse_target(text: str) -> Target:
    from ft_archiver.domain.checkpoints import parse_job_ref

    if text.startswith("ft-"):
        ref = parse_job_ref(text)
        return Target(job=ref.id, step=ref.checkpoint_step)
    if text.startswith("s3://"):
        bucket, _, key = text.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise RuleError(f"{text!r} is not an s3://bucket/key URL of an archive")
        return Target(bucket=bucket, key=key)
    if not text.strip():
        raise RuleError("give a fine-tune ID (ft-...), an archive's key or its s3:// URL")
    return Target(key=text)


class StatusReader:
    def __init__(
        self,
        table: "StateTable",
        executions: "Executions | None",
        imports: "ImportJobs | None" = None,
    ) -> None:
        self._table = table
        self._executions = executions
        self.imports = imports  # with an import role: Bedrock's import jobs too

    def read(self, now: float, keep: Callable[["ArchiveStatus"], bool]) -> list["ArchiveStatus"]:
        from ft_archiver.domain.activity import DISTRIBUTED
        from ft_archiver_tools.status.model import (
            archive_status,
            with_execution,
            with_recorded_parts,
        )

        found = []
        for item in self._table.archive_items():
            status = archive_status(item, now)
            if not keep(status):
                continue
            if status.path == DISTRIBUTED and not status.finished:
                status = with_recorded_parts(status, self._table.recorded_parts(status))
                if self._executions is not None:
                    status = with_execution(status, self._executions.status(status))
            found.append(status)
        return sorted(found, key=_order)


def _progress(status: "ArchiveStatus") -> tuple[Any, ...]:
    return (status.archive, status.state, status.parts_done, status.batches_done,
            status.execution, status.error)  # fmt: skip


def _order(status: "ArchiveStatus") -> tuple[bool, float]:
    """In flight first, then the most recently seen."""
    return (status.finished, -(status.seen_at or status.started_at or 0.0))


def run_status(args: argparse.Namespace, settings: "CliSettings") -> int:
    target = parse_target(args.target) if args.target is not None else None
    if args.interval <= 0 or args.hours < 0:
        raise RuleError("--interval must be above 0 and --hours at least 0")
    reader = _reader(settings, args.stack)
    horizon_s = args.hours * 3600

    def keep(status: "ArchiveStatus") -> bool:
        if target is not None:
            return target.matches(status)
        recent = status.seen_at is not None and time.time() - status.seen_at <= horizon_s
        return not status.finished or recent

    shown: tuple[tuple[Any, ...], ...] | None = None
    while True:
        now = time.time()
        statuses = reader.read(now, keep)
        jobs = (
            reader.imports.since(now - horizon_s, _job_name_part(target))
            if reader.imports is not None
            else []
        )
        if target is not None and not statuses:
            raise RuleError(
                f"no archive of {args.target} in the state table (it keeps each for 30 "
                "days; an archive appears once its invocation has claimed it)"
            )
        # a terminal is redrawn each time; a log or a pipe gets a new view only on change
        progress = tuple(_progress(s) for s in statuses) + tuple((j.arn, j.status) for j in jobs)
        if sys.stdout.isatty() or progress != shown:
            _show(statuses, now, args, sys.stdout, jobs if reader.imports is not None else None)
            shown = progress
        if not args.watch:
            return 0
        # one archive followed ends with it; the list is a live view until Ctrl-C
        if target is not None and all(s.finished or s.state == "stale" for s in statuses):
            return 0 if all(s.state == "done" for s in statuses) else EXIT_FAILED
        time.sleep(args.interval)


def _job_name_part(target: Target | None) -> str | None:
    """What an archive's import job name contains (domain/imports/names.py: the folder's
    name, slugged), for ``status KEY``; None for a job ID or the whole list."""
    if target is None or target.key is None:
        return None
    from ft_archiver.domain.imports.names import name_stem
    from ft_archiver.domain.unpack.layout import archive_stem, is_archive_name

    if not is_archive_name(target.key):  # never unpacked, so never imported
        return None
    return name_stem(archive_stem(target.key) + "/")


def _show(
    statuses: list["ArchiveStatus"],
    now: float,
    args: argparse.Namespace,
    out: Any,
    jobs: "list[ImportJobRow] | None" = None,
) -> None:
    from ft_archiver_tools.status.imports import import_lines
    from ft_archiver_tools.status.render import block, table

    if args.json:
        for status in statuses:
            out.write(json.dumps(status.to_document(now)) + "\n")
        for job in jobs or []:
            out.write(json.dumps(job.to_document()) + "\n")
        out.flush()
        return
    if args.target is not None:
        lines = [line for status in statuses for line in [*block(status, now), ""]][:-1]
    elif statuses:
        lines = table(statuses, now)
    else:
        lines = [f"no archive in flight, and none finished in the last {args.hours:g} h"]
    if jobs is not None:
        lines += ["", *import_lines(jobs, now, args.hours)]
    redraw = CLEAR if args.watch and out.isatty() else ""
    out.write(redraw + "\n".join(lines) + "\n")
    out.flush()


def _reader(settings: "CliSettings", stack: str | None) -> StatusReader:
    from ft_archiver.wiring.aws import aws_client
    from ft_archiver_tools.status.sources import Executions, StateTable

    table_name, machine = settings.state_table_name, settings.state_machine_arn
    role = settings.import_role_arn
    if stack:
        from ft_archiver_tools.doctor.stack import read_stack

        check, found = read_stack(aws_client("cloudformation", settings), stack)
        if found is None:
            raise ConfigurationError(f"{check.detail}: {check.fix}")
        table_name = found.get("state_table_name") or table_name
        machine = found.get("state_machine_arn") or machine
        role = found.get("import_role_arn") or role
    if not table_name:
        raise ConfigurationError(
            "status reads the stack's state table: set STATE_TABLE_NAME (the stack's "
            "StateTableName output) or pass --stack NAME"
        )
    from ft_archiver_tools.status.imports import ImportJobs

    executions = Executions(aws_client("stepfunctions", settings), machine) if machine else None
    imports = ImportJobs(aws_client("bedrock", settings)) if role else None
    table = StateTable(aws_client("dynamodb", settings), table_name)
    return StatusReader(table, executions, imports)
