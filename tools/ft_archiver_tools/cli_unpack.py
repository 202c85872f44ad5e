"""``ft-archiver unpack KEY``: an archive in the bucket as a folder of the model's files,
with its index beside it; a progress bar of the archive read, on a terminal; the
stack's unpack events on EVENT_BUS_NAME, as the UnpackFunction publishes them."""

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ft_archiver.errors import ConfigurationError, RuleError

if TYPE_CHECKING:  # pydantic, the settings and the engine load only when it runs
    from ft_archiver.domain.unpack.readiness import Readiness
    from ft_archiver.domain.unpack.request import UnpackMessage
    from ft_archiver.service.control import TransferControl
    from ft_archiver.service.unpack.unpacker import Unpacked, Unpacker
    from ft_archiver.settings import CliSettings

TARGETS = ("bedrock_custom_model_import", "sagemaker_uncompressed", "vllm_runai_streamer",
           "vllm_lora")  # fmt: skip


def add_unpack_parser(commands: Any) -> None:
    unpack = commands.add_parser(
        "unpack",
        help="unpack an archive in the bucket into a folder of the model's files",
        description="Reads the verified archive back from S3 (never from Together), "
        "decompresses and untars it as a stream, and writes each file as its own verified "
        "object under PREFIX + the archive's name without extension + '/', with the "
        "folder's index (NAME.files.json) beside it. A re-run after a failure finishes "
        "the folder without uploading a verified file again. Publishes Fine-tune "
        "Unpacked (or Fine-tune Unpack Failed) on EVENT_BUS_NAME, as the stack's unpack "
        "stage does. Exit 0 done, 1 failure, 2 a refused archive (links, '..', a limit) "
        "or a usage error.",
    )
    unpack.add_argument("key", help="the archive: a key in the bucket, or s3://bucket/key")
    unpack.add_argument("--bucket", help="the archive's bucket (ARCHIVE_BUCKET)")
    unpack.add_argument(
        "--prefix",
        dest="unpack_prefix",
        help="where the folder and its index go (UNPACK_PREFIX; default: beside the archive)",
    )
    unpack.add_argument("--json", action="store_true", help="print the result as one JSON object")
    unpack.add_argument(
        "--no-event", action="store_true", help="publish no EventBridge event (no bus at hand)"
    )
    unpack.set_defaults(prefix=None)  # the archive prefix: from the environment only


def archive_location(key: str, bucket: str | None) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``, or of a key in ``bucket``."""
    if key.startswith("s3://"):
        found, _, rest = key.removeprefix("s3://").partition("/")
        if not found or not rest:
            raise RuleError(f"{key!r} is not an s3://bucket/key URL of an archive")
        if bucket and bucket != found:
            raise RuleError(f"{key!r} is in bucket {found!r}, not --bucket {bucket!r}")
        return found, rest
    if not bucket:
        raise ConfigurationError("no bucket: pass --bucket, set ARCHIVE_BUCKET, or give s3://")
    return bucket, key


def progress_control() -> "tuple[TransferControl, Callable[[], None], Callable[[], bool]]":
    """A control that draws a progress bar of the archive read, on a terminal; the call
    that ends the bar's line; and one that says whether the run got as far as reading
    the archive (its size heard)."""
    from ft_archiver.service.control import TransferControl
    from ft_archiver_tools.progress import ProgressBar

    bars: list[ProgressBar] = []
    sizes: list[int] = []

    class ProgressControl(TransferControl):
        def on_size(self, size: int) -> None:
            sizes.append(size)
            if sys.stderr.isatty():
                bars.append(ProgressBar(size))

        def on_progress(self, nbytes: int) -> None:
            for bar in bars:
                bar(nbytes)

    def finish() -> None:
        for bar in bars:
            bar.finish()

    return ProgressControl(), finish, lambda: bool(sizes)


def run_unpack(args: argparse.Namespace, settings: "CliSettings") -> int:
    from ft_archiver.domain.unpack.layout import unpack_layout
    from ft_archiver.domain.unpack.request import UnpackMessage

    bucket, key = archive_location(args.key, settings.archive_bucket)
    unpack_layout(settings.unpack_prefix_for(key), key)  # no folder in the name: no call
    print_unpacked(unpack_archive(UnpackMessage(bucket=bucket, key=key), settings), args.json)
    return 0


def not_unpackable(key: str) -> str | None:
    """Why the archive at ``key`` is not one the unpacker reads (its name), or None."""
    from ft_archiver.domain.unpack.layout import is_archive_name

    return None if is_archive_name(key) else f"{key} is neither .tar.zst nor .tar.gz: not unpacked"


def unpack_archive(
    archive: "UnpackMessage", settings: "CliSettings", unpacker: "Unpacker | None" = None
) -> "Unpacked":
    """The archive unpacked into its folder (``unpack_prefix_for``), with a progress bar
    on a terminal (what ``unpack KEY`` and ``archive --unpack`` do); ``unpacker`` to
    reuse one. As the
    UnpackFunction: ``Fine-tune Unpacked`` once a run completes the folder (a folder
    found complete is not announced again, as an archive found done is not), ``Fine-tune
    Unpack Failed`` when a run that got as far as reading the archive fails (``archive``
    names the fine-tune there); before that nothing was written (the archive missing or
    unverified, S3 unreachable) and the one error line says all there is."""
    from ft_archiver.service.unpack.announce import UnpackAnnouncer
    from ft_archiver.service.unpack.unpacker import UnpackRequest, without_deadline
    from ft_archiver.wiring.options import event_publisher
    from ft_archiver.wiring.unpacker import build_unpacker

    engine = unpacker or build_unpacker(settings)  # a refused setting: no event
    announcer = UnpackAnnouncer(event_publisher(settings))
    prefix = settings.unpack_prefix_for(archive.key)
    request = UnpackRequest(archive.bucket, archive.key, prefix)
    control, finish_bar, began = progress_control()
    try:
        unpacked = without_deadline(engine.unpack(request, control))
    except BaseException as exc:
        finish_bar()
        if began():
            announcer.failed(archive, prefix, exc)
        raise
    finish_bar()
    if unpacked.transferred:
        announcer.unpacked(unpacked)
    return unpacked


def unpacked_json(unpacked: "Unpacked") -> dict[str, Any]:
    index = unpacked.index
    pointer = unpacked.manifest
    return {
        "archive": f"s3://{index.archive.bucket}/{index.archive.key}",
        "bucket": index.bucket,
        "folder": index.folder,
        "index_key": unpacked.index_key,
        "status": index.status,
        "files": index.file_count,
        "bytes": index.total_bytes,
        "uploaded": unpacked.uploaded,
        "kept": unpacked.kept,
        "transferred": unpacked.transferred,
        "duration_s": round(unpacked.duration_s, 3),
        "readiness": index.readiness.model_dump(mode="json") if index.readiness else None,
        # the archive's manifest, and whether it points at the index now
        "manifest_key": pointer.key if pointer else None,
        "manifest_pointer": pointer.status if pointer else None,
    }


def print_unpacked(unpacked: "Unpacked", as_json: bool) -> None:
    if as_json:
        print(json.dumps(unpacked_json(unpacked)), flush=True)
        return
    index = unpacked.index
    where = f"s3://{index.bucket}/{index.folder}"
    if not unpacked.transferred:
        print(f"already unpacked into {where}: {index.file_count} files, "
              f"{index.total_bytes:,} bytes", flush=True)  # fmt: skip
    else:
        kept = f", {unpacked.kept} already there" if unpacked.kept else ""
        print(
            f"unpacked s3://{index.archive.bucket}/{index.archive.key} into {where}: "
            f"{index.file_count} files, {index.total_bytes:,} bytes ({unpacked.uploaded} "
            f"uploaded{kept}) in {unpacked.duration_s:.1f} s",
            flush=True,
        )
    print(f"index s3://{index.bucket}/{unpacked.index_key}", flush=True)
    if unpacked.manifest is not None:
        print(unpacked.manifest.note, flush=True)
    if index.readiness is not None:
        print_readiness(index.readiness)


def print_readiness(readiness: "Readiness") -> None:
    for target in TARGETS:
        verdict = getattr(readiness, target)
        why = f": {'; '.join(verdict.reasons)}" if verdict.reasons else ""
        print(f"  {'ready    ' if verdict.ready else 'not ready'} {target}{why}", flush=True)
