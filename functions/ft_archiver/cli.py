"""``ft-archiver``: archive a fine-tune from any machine, or run the local demo.

Exit status: 0 archived, 2 usage or rule error, 1 any other failure, 130 interrupted.
"""

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from ft_archiver import __version__
from ft_archiver.domain.parts import parse_size
from ft_archiver.errors import ArchiverError, ConfigurationError, RuleError
from ft_archiver.progress import ProgressBar
from ft_archiver.service.archive import ArchiveRequest, Destination
from ft_archiver.settings import Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ft-archiver",
        description="Stream Together AI fine-tuned models into S3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

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
        "--checkpoint-type", default="default", help="default, merged or adapter (any case)"
    )
    archive.add_argument("--bucket", help="archive bucket (ARCHIVE_BUCKET)")
    archive.add_argument("--prefix", help="key prefix (ARCHIVE_PREFIX)")
    archive.add_argument("--key", help="exact object key, instead of prefix + Together's name")
    archive.add_argument("--part-size", type=_size, help="e.g. 16MiB (grown for huge archives)")
    archive.add_argument("--concurrency", type=int, help="parts in flight (default 8)")
    archive.add_argument(
        "--json", action="store_true", help="print the event detail as one JSON object"
    )

    demo = commands.add_parser(
        "demo", help="archive a simulated fine-tune into a local S3 emulator, end to end"
    )
    demo.add_argument("--size", type=_size, default=parse_size("300MiB"), help="archive size")

    serve = commands.add_parser(
        "serve",
        help="run the webhook endpoint and the queue-fed archiver locally (moto + simulator)",
    )
    serve.add_argument(
        "--sample-size", type=_size, default=parse_size("64MiB"), help="sample job's size"
    )

    send = commands.add_parser("send-webhook", help="POST a signed job-completion webhook")
    send.add_argument("url", help="the webhook endpoint")
    send.add_argument("id", help="fine-tune ID, ft-... or ft-...:STEP")
    send.add_argument("--secret", required=True, help="whsec_... (Standard Webhooks secret)")
    send.add_argument("--checkpoint-step", type=int)
    send.add_argument("--checkpoint-type")
    send.add_argument("--key")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "demo":
            from ft_archiver.local.demo import run_demo

            return run_demo(args.size)
        if args.command == "serve":
            from ft_archiver.local.serve_command import run_serve

            return run_serve(args.sample_size)
        if args.command == "send-webhook":
            from ft_archiver.local.serve_command import run_send_webhook

            extra = {
                name: getattr(args, name)
                for name in ("checkpoint_step", "checkpoint_type", "key")
                if getattr(args, name) is not None
            }
            return run_send_webhook(args.url, args.secret, args.id, extra)
        return _archive(args)
    except (RuleError, ConfigurationError) as exc:
        return _fail(EXIT_USAGE, str(exc))
    except ArchiverError as exc:
        return _fail(EXIT_FAILURE, str(exc))
    except KeyboardInterrupt:
        return _fail(EXIT_INTERRUPTED, "interrupted; the upload was aborted")


def _fail(code: int, message: str) -> int:
    print(f"ft-archiver: error: {message}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "archive_bucket": args.bucket,
        "archive_prefix": args.prefix,
        "part_size": args.part_size,
        "concurrency": args.concurrency,
    }
    try:
        base = Settings()
        return Settings.model_validate(
            {**base.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


def _archive(args: argparse.Namespace) -> int:
    from ft_archiver.wiring import build_archiver

    settings = _settings(args)
    if not settings.archive_bucket:
        raise ConfigurationError("no bucket: pass --bucket or set ARCHIVE_BUCKET")
    archiver = build_archiver(settings)
    request = ArchiveRequest(args.id, args.checkpoint_step, args.checkpoint_type, args.key)
    progress: ProgressBar | None = None

    def on_size(total: int) -> None:
        nonlocal progress
        if sys.stderr.isatty():
            progress = ProgressBar(total)

    def on_progress(delta: int) -> None:
        if progress is not None:
            progress(delta)

    detail = archiver.archive(
        request,
        Destination(settings.archive_bucket, settings.archive_prefix),
        on_progress=on_progress,
        on_size=on_size,
    )
    if progress is not None:
        progress.finish()
    if args.json:
        print(detail.model_dump_json())
    else:
        rate = detail.size / detail.duration_s / 2**20 if detail.duration_s else 0.0
        print(
            f"archived {detail.filename}: {detail.size:,} bytes in {detail.parts} part(s), "
            f"{detail.duration_s:.1f} s ({rate:,.1f} MiB/s), sha256 {detail.sha256}"
        )
    return 0
