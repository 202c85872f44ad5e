"""``ft-archiver import KEY``: an unpacked folder imported into Bedrock Custom Model Import
from a laptop, as the stack's import stage does it (the same names, token, record and
events): start the job, and with ``--wait`` follow it to its end."""

import argparse
import json
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

from ft_archiver.errors import ImportRefusedError, RuleError

if TYPE_CHECKING:  # the settings and the service load only when it runs
    from ft_archiver.domain.events import ImportedDetail, ImportFailedDetail
    from ft_archiver.domain.imports.request import ImportSource
    from ft_archiver.service.imports.importer import Deferred, Waiting
    from ft_archiver.settings import CliSettings

EXIT_IMPORTED = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2


def add_import_parser(commands: Any) -> None:
    command = commands.add_parser(
        "import",
        help="import an unpacked model into Amazon Bedrock (Custom Model Import)",
        description="KEY is an archive (its folder is found as `unpack` puts it), an "
        "unpacked folder (ending with '/') or its index (NAME.files.json), in the bucket "
        "or as s3://bucket/key. Reads the folder's index, refuses before any call what "
        "Bedrock would not take (an adapter, an architecture it does not serve, an "
        "incomplete folder), then calls CreateModelImportJob with the stack's names and "
        "token, so that running it again, or beside the stack, starts no second job. "
        "Publishes Fine-tune Imported (or Fine-tune Import Failed) on EVENT_BUS_NAME when "
        "the job ends. Exit 0 started or imported, 1 the job failed (Bedrock's message), "
        "2 refused before the call or a usage error.",
    )
    command.add_argument("key", help="an archive, its folder or its index: a key or s3://...")
    command.add_argument("--bucket", help="the folder's bucket (ARCHIVE_BUCKET)")
    command.add_argument(
        "--prefix",
        dest="unpack_prefix",
        help="for an archive's KEY: where its folder is (UNPACK_PREFIX; default: beside it)",
    )
    command.add_argument(
        "--role", help="the service role Bedrock reads the folder with (IMPORT_ROLE_ARN)"
    )
    command.add_argument(
        "--wait", action="store_true", help="follow the job to Completed or Failed"
    )
    command.add_argument(
        "--dry-run", action="store_true", help="print the exact request; call nothing"
    )
    command.add_argument("--json", action="store_true", help="print the result as one JSON object")
    command.add_argument(
        "--no-event", action="store_true", help="publish no EventBridge event (no bus at hand)"
    )
    command.set_defaults(prefix=None)


def index_location(key: str, bucket: str | None, settings: "CliSettings") -> tuple[str, str]:
    """(bucket, index key) of an archive, folder or index given as KEY."""
    from ft_archiver.domain.unpack.layout import INDEX_SUFFIX, is_archive_name, unpack_layout
    from ft_archiver_tools.cli_unpack import archive_location

    bucket, key = archive_location(key, bucket)
    if key.endswith(INDEX_SUFFIX):
        return bucket, key
    if key.endswith("/"):
        return bucket, key.removesuffix("/") + INDEX_SUFFIX
    if is_archive_name(key):
        return bucket, unpack_layout(settings.unpack_prefix_for(key), key).index_key
    raise RuleError(
        f"{key!r} is neither an archive (.tar.zst, .tar.gz), a folder (ending with '/') "
        f"nor a folder's index (*{INDEX_SUFFIX})"
    )


def import_source(bucket: str, index_key: str, settings: "CliSettings") -> "ImportSource":
    """The folder its index describes; a missing index is a usage error."""
    from ft_archiver.adapters.s3_unpack import S3UnpackObjects
    from ft_archiver.domain.imports.request import ImportSource
    from ft_archiver.domain.unpack.index import UnpackIndex
    from ft_archiver.wiring.aws import aws_client

    body = S3UnpackObjects(aws_client("s3", settings)).read(bucket, index_key)
    if body is None:
        raise RuleError(
            f"no folder index at s3://{bucket}/{index_key}: unpack the archive first "
            "(ft-archiver unpack KEY)"
        )
    return ImportSource.of_index(UnpackIndex.model_validate_json(body), index_key)


def run_import(args: argparse.Namespace, settings: "CliSettings") -> int:
    from ft_archiver.wiring.importer import import_options

    import_options(_role(settings, args.role))  # no role: said before anything is read
    bucket, index_key = index_location(args.key, settings.archive_bucket, settings)
    source = import_source(bucket, index_key, settings)
    if args.dry_run:
        return print_request(source, settings, args.role)
    return import_folder(source, settings, args.role, wait=args.wait, as_json=args.json)


def _role(settings: "CliSettings", role: str | None) -> "CliSettings":
    return settings.model_copy(update={"import_role_arn": role}) if role else settings


def print_request(source: "ImportSource", settings: "CliSettings", role: str | None) -> int:
    from ft_archiver.service.imports.importer import plan_import
    from ft_archiver.wiring.importer import import_options

    try:
        _, request = plan_import(source, import_options(_role(settings, role)))
    except ImportRefusedError as exc:
        print(f"refused before any call: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(json.dumps({"CreateModelImportJob": request}, indent=2))
    return EXIT_IMPORTED


def import_folder(
    source: "ImportSource",
    settings: "CliSettings",
    role: str | None = None,
    *,
    wait: bool,
    as_json: bool,
) -> int:
    """One import, followed to its end when ``wait`` (a progress line on stderr between
    looks); the exit status: 0 started or Completed, 1 Failed, 2 refused."""
    from ft_archiver.domain.imports.message import ImportMessage
    from ft_archiver.service.imports.importer import Finished
    from ft_archiver.wiring.importer import build_importer

    importer = build_importer(_role(settings, role), announce=bool(settings.event_bus_name))
    message = ImportMessage(source=source, run_id=f"cli-{uuid.uuid4()}", first_seen_s=time.time())
    began = time.monotonic()
    while True:
        outcome = importer.advance(message)
        if isinstance(outcome, Finished):
            return print_finished(outcome.result, as_json)
        if not wait:
            return print_started(outcome, as_json)
        _progress(outcome, time.monotonic() - began)
        message = outcome.message
        time.sleep(outcome.delay_s)


def _progress(outcome: "Waiting | Deferred", elapsed_s: float) -> None:
    from ft_archiver.service.imports.importer import Deferred

    minutes = f"{elapsed_s / 60:.0f} min"
    if isinstance(outcome, Deferred):
        line = (
            f"waiting for a Bedrock quota ({outcome.reason}); asking again in {outcome.delay_s} s"
        )
    else:
        line = f"import job {outcome.message.job_arn} InProgress"
    print(f"{line} [{minutes}]", file=sys.stderr, flush=True)


def print_started(outcome: "Waiting | Deferred", as_json: bool) -> int:
    from ft_archiver.service.imports.importer import Deferred

    if isinstance(outcome, Deferred):
        state = {"status": "Deferred", "reason": outcome.reason, "job_arn": None}
        line = f"not started: {outcome.reason}; run it again later, or with --wait"
    else:
        job_arn = outcome.message.job_arn
        state = {"status": "InProgress", "job_arn": job_arn}
        line = f"import job {job_arn} started; follow it with --wait (10 to 60 minutes)"
    folder = outcome.message.source.folder_url
    print(json.dumps({**state, "folder_url": folder}) if as_json else line, flush=True)
    return EXIT_IMPORTED


def print_finished(result: "ImportedDetail | ImportFailedDetail", as_json: bool) -> int:
    from ft_archiver.domain.events import ImportedDetail

    imported = isinstance(result, ImportedDetail)
    if as_json:
        document = {
            "status": "Completed" if imported else "Failed",
            **result.model_dump(mode="json"),
        }
        print(json.dumps(document), flush=True)
    elif isinstance(result, ImportedDetail):
        print(f"imported {result.folder_url} as {result.imported_model_name}", flush=True)
        print(f"model {result.imported_model_arn}", flush=True)
        print(f"invoke with modelId={result.model_id}", flush=True)
    else:
        print(f"ft-archiver: error: import of {result.folder_url} failed: {result.error}",
              file=sys.stderr, flush=True)  # fmt: skip
    if imported:
        return EXIT_IMPORTED
    return EXIT_FAILED if result.job_arn is not None else EXIT_REFUSED
