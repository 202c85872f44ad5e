"""The command line's archive and backfill commands: a selection turned into archives,
one progress bar (or JSON line) each."""

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ft_archiver.domain.checkpoints import parse_job_ref
from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.job import FineTuneJob
from ft_archiver.domain.requests import ArchiveRequest, Destination, validate_request
from ft_archiver.domain.selection import ArchiveTarget, Selection, expand_selection, parse_selection
from ft_archiver.errors import ArchiverError, ConfigurationError, RuleError
from ft_archiver.service.archive import Archiver
from ft_archiver.service.backfill import Backfill, Outcome
from ft_archiver.service.control import TransferControl, without_deadline
from ft_archiver.settings import CliSettings
from ft_archiver_tools.progress import ProgressBar

if TYPE_CHECKING:
    from ft_archiver.service.unpack.unpacker import Unpacked, Unpacker

EXIT_FAILURE = 1


def destination(settings: CliSettings) -> Destination:
    if not settings.archive_bucket:
        raise ConfigurationError("no bucket: pass --bucket or set ARCHIVE_BUCKET")
    return Destination(settings.archive_bucket, settings.archive_prefix)


def wants_selection(args: argparse.Namespace) -> bool:
    return args.checkpoints is not None or (args.checkpoint_type or "").lower() == "all"


class _ProgressControl(TransferControl):
    """A progress bar on a terminal, once the archive's size is known."""

    def __init__(self) -> None:
        super().__init__()
        self.bar: ProgressBar | None = None

    def on_size(self, size: int) -> None:
        if sys.stderr.isatty():
            self.bar = ProgressBar(size)

    def on_progress(self, nbytes: int) -> None:
        if self.bar is not None:
            self.bar(nbytes)


class ThenUnpack:
    """``archive --unpack``: each archive, once verified, unpacked as ``ft-archiver
    unpack KEY`` does it (cli_unpack's code), one unpacker for all of them; with
    ``then_import`` (``--import``), the folder then imported into Bedrock and followed to
    its end, as ``ft-archiver import KEY --wait`` does it."""

    def __init__(self, settings: CliSettings, then_import: bool = False) -> None:
        self._settings = settings
        self._unpacker: Unpacker | None = None
        self.then_import = then_import

    def __call__(self, detail: ArchivedDetail) -> "Unpacked":
        from ft_archiver.domain.unpack.request import UnpackMessage
        from ft_archiver.wiring.unpacker import build_unpacker
        from ft_archiver_tools.cli_unpack import unpack_archive

        if self._unpacker is None:
            self._unpacker = build_unpacker(self._settings)
        archive = UnpackMessage(
            bucket=detail.bucket,
            key=detail.key,
            id=detail.id,
            checkpoint_step=detail.checkpoint_step,
            checkpoint_type=detail.checkpoint_type,
        )
        return unpack_archive(archive, self._settings, self._unpacker)

    def imported(self, unpacked: "Unpacked", as_json: bool) -> int:
        """The folder imported; the import command's exit status."""
        from ft_archiver.domain.imports.request import ImportSource
        from ft_archiver_tools.cli_import import import_folder

        source = ImportSource.of_index(unpacked.index, unpacked.index_key)
        return import_folder(source, self._settings, wait=True, as_json=as_json)


def archive_one(
    archiver: Archiver,
    request: ArchiveRequest,
    where: Destination,
    as_json: bool,
    then_unpack: ThenUnpack | None = None,
    force: bool = False,
) -> int:
    """Archive with a progress bar on a terminal, and print the result; with
    ``then_unpack``, unpack it and print that too (with ``as_json``, one object), and
    import the folder if it says so (with ``as_json``, the import's object on a line of
    its own). The exit status: the import's, else 0."""
    control = _ProgressControl()
    try:
        archived = without_deadline(archiver.archive(request, where, control, force=force))
    finally:
        if control.bar is not None:
            control.bar.finish()
    if then_unpack is None:
        print_archived(archived.detail, as_json, archived.transferred)
        return 0
    unpacked = unpack_after(archived.detail, archived.transferred, as_json, then_unpack)
    if unpacked is None or not then_unpack.then_import:
        return 0
    return then_unpack.imported(unpacked, as_json)


def unpack_after(
    detail: ArchivedDetail, transferred: bool, as_json: bool, then_unpack: ThenUnpack
) -> "Unpacked | None":
    """The archive's result, then its unpack's: printed one after the other, or one JSON
    object (the event detail with ``unpack``, the unpack's result or null, and
    ``unpack_note``, why not), printed even when the unpack fails, which then raises."""
    from ft_archiver_tools.cli_unpack import not_unpackable, print_unpacked, unpacked_json

    if not as_json:
        print_archived(detail, False, transferred)
    skipped = not_unpackable(detail.key)
    if skipped is not None:
        if as_json:
            print_with_unpack(detail, None, skipped)
        else:
            print(skipped, flush=True)
        return None
    try:
        unpacked = then_unpack(detail)
    except Exception as exc:
        if as_json:
            print_with_unpack(detail, None, f"not unpacked: {exc}")
        raise
    if as_json:
        print_with_unpack(detail, unpacked_json(unpacked), None)
    else:
        print_unpacked(unpacked, False)
    return unpacked


def print_with_unpack(
    detail: ArchivedDetail, unpack: dict[str, Any] | None, note: str | None
) -> None:
    document = {**detail.model_dump(mode="json"), "unpack": unpack, "unpack_note": note}
    print(json.dumps(document), flush=True)


def print_archived(detail: ArchivedDetail, as_json: bool, transferred: bool = True) -> None:
    if as_json:
        print(detail.model_dump_json(), flush=True)
    elif not transferred:  # found archived (state table, or key and manifest): no rate
        print(f"already archived {detail.filename}: {detail.size:,} bytes, "
              f"sha256 {detail.sha256} (nothing sent, no event)", flush=True)  # fmt: skip
    else:
        rate = detail.size / detail.duration_s / 2**20 if detail.duration_s else 0.0
        print(
            f"archived {detail.filename}: {detail.size:,} bytes in {detail.parts} part(s), "
            f"{detail.duration_s:.1f} s ({rate:,.1f} MiB/s), sha256 {detail.sha256}",
            flush=True,
        )


def selected_targets(args: argparse.Namespace, settings: CliSettings) -> list[ArchiveTarget]:
    """``archive ID --checkpoints ... --checkpoint-type ...``: the job's archives."""
    from ft_archiver.wiring.together import together_client

    if args.checkpoint_step is not None:
        raise RuleError("--checkpoint-step and --checkpoints name steps twice: keep one")
    ref = parse_job_ref(args.id)
    if ref.checkpoint_step is not None:
        raise RuleError(f"{args.id!r} names a step; with --checkpoints pass the plain job ID")
    selection = parse_selection(args.checkpoints, args.checkpoint_type)
    together = together_client(settings)
    job: FineTuneJob = together.retrieve(ref.id)
    checkpoints = together.list_checkpoints(ref.id) if selection.checkpoints != "final" else []
    expansion = expand_selection(job, checkpoints, selection)
    for skipped in expansion.skipped:
        step = "final" if skipped.checkpoint_step is None else f"step {skipped.checkpoint_step}"
        print(f"skipped {skipped.checkpoint_type} at {step}: {skipped.reason}", file=sys.stderr)
    return list(expansion.targets)


def run_archive(args: argparse.Namespace, settings: CliSettings) -> int:
    """One archive, or every archive of a selection (a failing one does not stop the rest)."""
    from ft_archiver.wiring.archiver import build_archiver

    if getattr(args, "unpack_prefix", None) is not None and not args.unpack:
        raise RuleError("--unpack-prefix says where --unpack puts the folder: add --unpack")
    if getattr(args, "then_import", False) and not args.unpack:
        raise RuleError("--import imports the unpacked folder: add --unpack")
    where = destination(settings)
    then_unpack = (
        ThenUnpack(settings, getattr(args, "then_import", False))
        if getattr(args, "unpack", False)
        else None
    )
    if not wants_selection(args):
        request = ArchiveRequest(args.id, args.checkpoint_step, args.checkpoint_type, args.key)
        validate_request(request)  # a bad ID or type is the first thing said, before AWS
        return archive_one(
            build_archiver(settings), request, where, args.json, then_unpack, args.force
        )
    if args.key is not None:
        raise RuleError("--key names one object; a selection makes several: drop --key")
    targets = selected_targets(args, settings)
    archiver = build_archiver(settings)
    failed = 0
    worst = 0  # an import's status (1 failed, 2 refused)
    for target in targets:
        request = ArchiveRequest(target.id, target.checkpoint_step, target.checkpoint_type)
        try:
            outcome = archive_one(archiver, request, where, args.json, then_unpack, args.force)
            worst = max(worst, outcome)
        except ArchiverError as exc:
            failed += 1
            print(f"ft-archiver: error: {exc}", file=sys.stderr)
    return EXIT_FAILURE if failed else worst


def run_backfill(args: argparse.Namespace, settings: CliSettings) -> int:
    from ft_archiver.adapters.archive_check import S3ArchiveCheck
    from ft_archiver.wiring.archiver import build_archiver
    from ft_archiver.wiring.aws import archive_queue, aws_client, state_store
    from ft_archiver.wiring.together import together_client

    selection: Selection = parse_selection(args.checkpoints, args.checkpoint_type)
    where = destination(settings)
    ledger = state_store(settings)
    backfill = Backfill(
        together_client(settings),
        S3ArchiveCheck(aws_client("s3", settings)),
        where,
        ledger.archive_finished if ledger is not None else None,
    )
    outcomes: Iterator[Outcome]
    if args.dry_run:
        outcomes = backfill.dry_run(selection, args.since)
    elif args.enqueue:
        outcomes = backfill.enqueue(selection, args.since, archive_queue(settings), time.time())
    else:
        outcomes = backfill.archive(selection, args.since, build_archiver(settings), args.parallel)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
        print_outcome(outcome, args.json)
    if not args.json:
        summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
        print(f"backfill: {summary or 'nothing to do'}", file=sys.stderr)
    return EXIT_FAILURE if counts.get("failed") else 0


def print_outcome(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print(json.dumps(outcome.as_json()), flush=True)
        return
    step = "final" if outcome.checkpoint_step is None else f"step {outcome.checkpoint_step}"
    where = f" -> {outcome.key}" if outcome.key else ""
    note = outcome.error or outcome.reason or ""
    print(
        f"{outcome.action:9} {outcome.id} {step} {outcome.checkpoint_type}{where}"
        + (f" ({note})" if note else ""),
        flush=True,
    )
