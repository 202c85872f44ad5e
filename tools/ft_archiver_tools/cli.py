"""``ft-archiver``: archive a fine-tune from any machine, list what is archived, size an
archive before it exists (``plan``), check a set-up (``doctor``), unpack an archive into a
model folder (``unpack``), follow a deployed stack's archives (``status``), or run the
local demo.

Exit status: 0 done, 2 usage, configuration or rule error, 1 any other failure (AWS,
Together), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM): either aborts the upload
first, and a repeated signal does not cut that short.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

from ft_archiver import __version__
from ft_archiver.domain.checksums import CHECKSUM_MODES
from ft_archiver.domain.parts import parse_size
from ft_archiver.errors import ArchiverError, ConfigurationError, RuleError
from ft_archiver_tools.cli_import import add_import_parser
from ft_archiver_tools.cli_plan import add_plan_parser
from ft_archiver_tools.cli_unpack import add_unpack_parser
from ft_archiver_tools.interrupts import graceful_interrupts
from ft_archiver_tools.status.command import add_status_parser

if TYPE_CHECKING:  # pydantic and the settings load after the signal handlers are in place
    from ft_archiver.settings import CliSettings

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # as a process ended by SIGPIPE


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least 1")
    return int(text)


def _gib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text!r}: give GiB as a number, 0 for no limit")
    return value


CHECKSUM_MODE_HELP = (
    "what the store is asked to check (FT_ARCHIVER_CHECKSUM_MODE): full-object (default; "
    "AWS S3, R2, MinIO, SeaweedFS), composite (per-part checksums), none (the object is "
    "read back and its SHA-256 compared: stores that keep no checksum)"
)
MAX_ARCHIVE_HELP = (
    "refuse archives larger than this many GiB before any byte moves "
    "(FT_ARCHIVER_MAX_ARCHIVE_GIB, default 1024; 0: no limit)"
)


class CommandParser(argparse.ArgumentParser):
    """A command's parser. With ``one_line_errors`` a usage error is one line, like every
    other error, rather than the usage text and the error."""

    def __init__(self, *args: Any, one_line_errors: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.one_line_errors = one_line_errors

    def error(self, message: str) -> NoReturn:
        if not self.one_line_errors:
            super().error(message)
        self.exit(EXIT_USAGE, f"ft-archiver: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ft-archiver",
        description="Stream Together AI fine-tuned models into S3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)

    archive = commands.add_parser(
        "archive",
        help="archive one fine-tune into S3",
        description="Configuration comes from the environment (TOGETHER_API_KEY, "
        "TOGETHER_BASE_URL, ARCHIVE_BUCKET, ARCHIVE_PREFIX, EVENT_BUS_NAME, and boto3's "
        "own AWS_* variables); flags override it.",
    )
    archive.add_argument("id", help="fine-tune ID, ft-... or ft-...:STEP")
    archive.add_argument("--checkpoint-step", type=int, help="intermediate checkpoint step")
    archive.add_argument(
        "--checkpoint-type",
        default="default",
        help="default, merged, adapter, or all that apply (any case)",
    )
    archive.add_argument(
        "--checkpoints",
        help="several archives: final, all (final + every intermediate step) or steps 100,200",
    )
    archive.add_argument("--bucket", help="archive bucket (ARCHIVE_BUCKET)")
    archive.add_argument("--prefix", help="key prefix (ARCHIVE_PREFIX)")
    archive.add_argument("--key", help="exact object key, instead of prefix + Together's name")
    archive.add_argument("--part-size", type=_size, help="e.g. 16MiB (grown for huge archives)")
    archive.add_argument(
        "--concurrency", type=_positive, help="ranged GETs at once, 1 to 64 (default 20)"
    )
    archive.add_argument("--max-archive-gib", type=_gib, help=MAX_ARCHIVE_HELP)
    archive.add_argument("--checksum-mode", choices=CHECKSUM_MODES, help=CHECKSUM_MODE_HELP)
    archive.add_argument(
        "--no-event", action="store_true", help="publish no EventBridge event (no bus at hand)"
    )
    archive.add_argument(
        "--json", action="store_true", help="print the event detail as one JSON object"
    )
    archive.add_argument(
        "--force",
        action="store_true",
        help="transfer and announce again an archive found verified at its key or recorded "
        "finished in the state table (the bytes must be the same: another object is never "
        "replaced)",
    )
    archive.add_argument(
        "--unpack",
        action="store_true",
        help="then unpack each .tar.zst/.tar.gz archive as `unpack KEY` does",
    )
    archive.add_argument(
        "--unpack-prefix",
        dest="unpack_prefix",
        help="with --unpack: where the folder and its index go (UNPACK_PREFIX; default: "
        "beside the archive)",
    )
    archive.add_argument(
        "--import",
        dest="then_import",
        action="store_true",
        help="with --unpack: then import the folder into Bedrock and wait for the job, as "
        "`import KEY --wait` does (IMPORT_ROLE_ARN names the service role)",
    )

    backfill = commands.add_parser(
        "backfill",
        help="archive every completed job (history), skipping what is already archived",
        description="Lists Together's jobs and archives each completed one's selection. "
        "An archive already in the bucket (object with its sha256 tag) is skipped, so "
        "running it again (from cron, say) uploads nothing and emits no event.",
    )
    backfill.add_argument(
        "--since", type=_date, help="only jobs created on or after this date (YYYY-MM-DD, UTC)"
    )
    backfill.add_argument(
        "--checkpoints", default="final", help="final (default), all, or steps 100,200"
    )
    backfill.add_argument(
        "--checkpoint-type", default="default", help="default, merged, adapter or all"
    )
    mode = backfill.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing: ask Together, and read the bucket for what is archived already",
    )
    mode.add_argument(
        "--enqueue",
        action="store_true",
        help="send the requests to ARCHIVE_QUEUE_URL (a deployed stack) instead",
    )
    backfill.add_argument(
        "--parallel", type=_positive, default=2, help="archives at once in this process (2)"
    )
    backfill.add_argument("--bucket", help="archive bucket (ARCHIVE_BUCKET)")
    backfill.add_argument("--prefix", help="key prefix (ARCHIVE_PREFIX)")
    backfill.add_argument("--max-archive-gib", type=_gib, help=MAX_ARCHIVE_HELP)
    backfill.add_argument("--checksum-mode", choices=CHECKSUM_MODES, help=CHECKSUM_MODE_HELP)
    backfill.add_argument("--json", action="store_true", help="one JSON object per archive")
    backfill.add_argument("--no-event", action="store_true", help="publish no EventBridge events")

    listing = commands.add_parser(
        "list",
        help="the catalog of what is archived under the bucket and prefix, newest first",
        description="Reads every manifest under ARCHIVE_BUCKET/ARCHIVE_PREFIX (flags "
        "override them; boto3 reads its own AWS_* variables). An archive without a "
        "manifest is listed from its object's metadata and tags, marked '(no manifest)'.",
    )
    listing.add_argument("--bucket", help="archive bucket (ARCHIVE_BUCKET)")
    listing.add_argument("--prefix", help="key prefix (ARCHIVE_PREFIX)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    doctor = commands.add_parser(
        "doctor",
        help="check in seconds that archiving will work with this Together account and AWS",
        description="Checks the Together key, the API's answers and the newest completed "
        "job's download, then the AWS credentials, the bucket, bus, table and queue the "
        "archiver would use. Read-only unless --write-test. Exit 0 all hold, 1 one fails.",
    )
    doctor.add_argument(
        "--stack", help="read the bucket, bus, table and queue from this deployed stack"
    )
    doctor.add_argument(
        "--write-test",
        action="store_true",
        help="also put a small object under the prefix with the checksum, then delete it",
    )
    doctor.add_argument("--bucket", help="archive bucket (ARCHIVE_BUCKET)")
    doctor.add_argument("--prefix", help="key prefix (ARCHIVE_PREFIX)")
    doctor.add_argument("--json", action="store_true", help="one JSON document: the checks")

    add_plan_parser(commands)
    add_unpack_parser(commands)
    add_import_parser(commands)
    add_status_parser(commands)

    demo = commands.add_parser(
        "demo", help="archive a simulated fine-tune into a local S3 emulator, end to end"
    )
    demo.add_argument(
        "--size", type=_size, default=None, help="archive size (300MiB; 256MiB with --huge)"
    )
    demo.add_argument(
        "--huge", action="store_true",
        help="the distributed path, on LocalStack's Step Functions (make localstack)",
    )  # fmt: skip

    serve = commands.add_parser(
        "serve",
        help="run the webhook endpoint and the queue-fed archiver locally (moto + simulator)",
    )
    serve.add_argument(
        "--sample-size", type=_size, default=parse_size("64MiB"), help="sample job's size"
    )
    serve.add_argument(
        "--unpack", action="store_true",
        help="deploy with Unpack=true: each archived model is also unpacked into a folder",
    )  # fmt: skip
    serve.add_argument(
        "--import", dest="then_import", action="store_true",
        help="deploy with Import=bedrock (and Unpack=true): each folder is also imported "
        "into a fake Bedrock",
    )  # fmt: skip

    send = commands.add_parser("send-webhook", help="POST a signed job-completion webhook")
    send.add_argument("url", help="the webhook endpoint")
    send.add_argument("id", help="fine-tune ID, ft-... or ft-...:STEP")
    send.add_argument("--secret", required=True, help="whsec_... (Standard Webhooks secret)")
    send.add_argument("--checkpoint-step", type=int)
    send.add_argument("--checkpoint-type")
    send.add_argument(
        "--key",
        help="exact object key, in a folder under the stack's ArchivePrefix "
        "(e.g. models/chosen/x.tar.zst); anything else is refused 400",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        if args.verbose
        else "ft-archiver: %(message)s",
        stream=sys.stderr,
    )
    with graceful_interrupts() as interrupts:
        try:
            return _run(args)
        except (RuleError, ConfigurationError) as exc:
            return _fail(EXIT_USAGE, str(exc))
        except ArchiverError as exc:
            return _fail(EXIT_FAILURE, str(exc))
        except KeyboardInterrupt:
            # Only the commands that upload have an upload to abort; the demo and serve
            # stop their emulators on the way out.
            uploads = args.command in ("archive", "backfill", "unpack")
            aborted = "; the upload was aborted" if uploads else ""
            if args.command == "unpack":
                aborted += " and the folder's index says incomplete"
            if args.command == "import":
                aborted = (
                    "; an import job already started runs on in Bedrock: the same command "
                    "with --wait follows it"
                )
            return _fail(interrupts.exit_code, f"{interrupts.word}{aborted}")
        except BrokenPipeError:  # `ft-archiver list | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_BROKEN_PIPE


def _run(args: argparse.Namespace) -> int:
    if args.command == "plan":  # contacts nothing, reads no settings
        from ft_archiver_tools.cli_plan import run_plan

        return run_plan(args)
    if args.command == "demo":
        if args.huge:
            from ft_archiver_tools.local.demo_huge import run_demo_huge

            return run_demo_huge(args.size or parse_size("256MiB"))
        from ft_archiver_tools.local.demo import run_demo

        return run_demo(args.size or parse_size("300MiB"))
    if args.command == "serve":
        from ft_archiver_tools.local.serve_command import run_serve

        return run_serve(args.sample_size, unpack=args.unpack, imports=args.then_import)
    if args.command == "send-webhook":
        from ft_archiver_tools.local.serve_command import run_send_webhook

        extra = {
            name: getattr(args, name)
            for name in ("checkpoint_step", "checkpoint_type", "key")
            if getattr(args, name) is not None
        }
        return run_send_webhook(args.url, args.secret, args.id, extra)
    if args.command == "doctor":
        from ft_archiver_tools.cli_doctor import run_doctor

        return run_doctor(args, _settings(args))
    if args.command == "list":
        from ft_archiver_tools.cli_list import run_list

        return run_list(args, _settings(args))
    if args.command == "status":
        from ft_archiver_tools.status.command import run_status

        return run_status(args, _settings(args))
    if args.command == "unpack":
        from ft_archiver_tools.cli_unpack import run_unpack

        return run_unpack(args, _settings(args))
    if args.command == "import":
        from ft_archiver_tools.cli_import import run_import

        return run_import(args, _settings(args))
    from ft_archiver_tools.cli_archive import run_archive, run_backfill

    if args.command == "backfill":
        return run_backfill(args, _settings(args))
    return run_archive(args, _settings(args))


def _fail(code: int, message: str) -> int:
    print(f"ft-archiver: error: {message}", file=sys.stderr)
    return code


FLAGS = {"archive_bucket": "--bucket", "archive_prefix": "--prefix",
         "unpack_prefix_setting": "--prefix",
         "part_size": "--part-size", "concurrency": "--concurrency",
         "max_archive_gib": "--max-archive-gib", "checksum_mode": "--checksum-mode"}  # fmt: skip


def _problem(error: Any) -> str:
    """One pydantic error as the user wrote it: the flag or the variable, and the rule."""
    where = ".".join(str(part) for part in error["loc"])
    return f"{FLAGS.get(where, where)}: {str(error['msg']).removeprefix('Value error, ')}"


def _settings(args: argparse.Namespace) -> "CliSettings":
    from pydantic import ValidationError

    from ft_archiver.settings import CliSettings

    overrides = {
        "archive_bucket": args.bucket,
        "archive_prefix": args.prefix,
        "part_size": getattr(args, "part_size", None),
        "concurrency": getattr(args, "concurrency", None),
        "max_archive_gib": getattr(args, "max_archive_gib", None),
        "checksum_mode": getattr(args, "checksum_mode", None),
        "event_bus_name": "" if getattr(args, "no_event", False) else None,
        "unpack_prefix_setting": getattr(args, "unpack_prefix", None),
    }
    try:
        base = CliSettings()
        settings = CliSettings.model_validate(
            # what the environment set, then the flags (a default is derived anew: the
            # algorithm of --checksum-mode composite)
            {
                **base.model_dump(exclude_unset=True),
                **{k: v for k, v in overrides.items() if v is not None},
            }
        )
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    if settings.archive_prefix and not settings.archive_prefix.endswith("/"):
        print(
            f"ft-archiver: warning: prefix {settings.archive_prefix!r} does not end with '/': "
            f"keys will read {settings.archive_prefix}<name>",
            file=sys.stderr,
        )
    return settings
