"""``ft-archiver unpack`` as a user runs it: a process of its own against moto, its exit
status, its one line of error, its JSON, and what a signal leaves behind."""

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import boto3
import pytest

from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver_tools.local.model_archive import ModelSpec
from ft_archiver_tools.local.s3_fault_proxy import S3Fault, S3FaultProxy

from .harness import PREFIX, Harness, cli_env, run

KIB = 1024
MIB = 1024 * KIB


def archived(harness: Harness, spec: ModelSpec) -> str:
    job = harness.together.add_job("Lora", model=spec, model_output_name=f"cli-{spec.seed}")
    key = harness.archive(ArchiveRequest(job.id)).key
    harness.events.read()
    return key


def index_of(harness: Harness, key: str) -> dict[str, object]:
    return harness.stored.manifest(key.removesuffix(".tar.zst") + ".files.json")


def test_unpack_prints_one_json_result(harness: Harness) -> None:
    key = archived(harness, ModelSpec(size=512 * KIB, seed=11))
    done = run(harness, "unpack", key, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    folder = key.removesuffix(".tar.zst") + "/"
    assert result["folder"] == folder
    assert result["index_key"] == folder.rstrip("/") + ".files.json"
    assert result["archive"] == f"s3://{harness.bucket}/{key}"
    assert result["status"] == "complete"
    assert result["uploaded"] == result["files"] > 0
    assert result["readiness"]["vllm_runai_streamer"]["ready"] is True
    assert index_of(harness, key)["file_count"] == result["files"]
    assert done.stderr == ""  # no bar when stderr is not a terminal


def test_unpack_takes_an_s3_url_and_a_prefix(harness: Harness) -> None:
    key = archived(harness, ModelSpec(size=256 * KIB, seed=12))
    name = key.removeprefix(PREFIX).removesuffix(".tar.zst")
    done = run(harness, "unpack", f"s3://{harness.bucket}/{key}", "--prefix", "unpacked/")
    assert done.returncode == 0, done.stderr
    assert f"into s3://{harness.bucket}/unpacked/{name}/" in done.stdout
    assert f"index s3://{harness.bucket}/unpacked/{name}.files.json" in done.stdout
    assert "ready     vllm_runai_streamer" in done.stdout
    again = run(harness, "unpack", key, "--prefix", "unpacked/")
    assert again.returncode == 0
    assert again.stdout.startswith(f"already unpacked into s3://{harness.bucket}/unpacked/")


def test_a_hostile_archive_exits_2_with_one_line_and_leaves_nothing(harness: Harness) -> None:
    key = archived(harness, ModelSpec(size=256 * KIB, seed=13, variant="symlink"))
    done = run(harness, "unpack", key)
    assert done.returncode == 2
    assert done.stderr.startswith("ft-archiver: error: member ")
    assert "is a symbolic link" in done.stderr
    assert done.stderr.count("\n") == 1
    assert harness.stored.versions_under(key.removesuffix(".tar.zst") + "/") == []


def test_a_missing_archive_exits_2(harness: Harness) -> None:
    done = run(harness, "unpack", f"{PREFIX}nothing-here.tar.zst")
    assert done.returncode == 2
    assert done.stderr == (
        f"ft-archiver: error: no archive at s3://{harness.bucket}/{PREFIX}nothing-here.tar.zst\n"
    )
    assert harness.events.read(wait_s=1) == []  # nothing began: the one line says it all


def test_the_folder_goes_beside_an_archive_outside_the_prefix(harness: Harness) -> None:
    key = archived(harness, ModelSpec(size=256 * KIB, seed=17))
    elsewhere = "team/imports/model.tar.zst"
    s3 = boto3.client("s3")
    s3.copy_object(Bucket=harness.bucket, Key=elsewhere, TaggingDirective="COPY",
                   CopySource={"Bucket": harness.bucket, "Key": key})  # fmt: skip
    done = run(harness, "unpack", elsewhere, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["folder"], result["index_key"]) == (
        "team/imports/model/", "team/imports/model.files.json")  # fmt: skip
    assert harness.stored.versions_under(f"{PREFIX}model/") == []


def test_unpack_publishes_the_stacks_event_once(harness: Harness) -> None:
    key = archived(harness, ModelSpec(size=256 * KIB, seed=14))
    done = run(harness, "unpack", key, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [event] = harness.events.read()  # validated against events/schemas
    assert event["detail-type"] == "Fine-tune Unpacked"
    detail = event["detail"]
    assert (detail["archive_key"], detail["folder"]) == (key, result["folder"])
    assert detail["folder_url"] == f"s3://{harness.bucket}/{result['folder']}"
    assert (detail["index_key"], detail["files"]) == (result["index_key"], result["files"])
    assert detail["id"] == index_of(harness, key)["archive"]["fine_tune_id"]  # type: ignore[index]
    assert detail["readiness"] == result["readiness"]
    again = run(harness, "unpack", key)
    assert again.returncode == 0, again.stderr
    assert harness.events.read(wait_s=1) == []  # found complete: announced once


def test_unpack_with_no_event_publishes_none(harness: Harness) -> None:
    key = archived(harness, ModelSpec(size=256 * KIB, seed=15))
    done = run(harness, "unpack", key, "--no-event")
    assert done.returncode == 0, done.stderr
    assert harness.events.read(wait_s=1) == []


def test_a_refused_archive_publishes_a_failure_that_is_not_retried(harness: Harness) -> None:
    key = archived(harness, ModelSpec(size=256 * KIB, seed=16, variant="symlink"))
    done = run(harness, "unpack", key)
    assert done.returncode == 2
    [event] = harness.events.read()
    assert event["detail-type"] == "Fine-tune Unpack Failed"
    detail = event["detail"]
    assert (detail["archive_key"], detail["retryable"]) == (key, False)
    assert detail["error"] == done.stderr.removeprefix("ft-archiver: error: ").rstrip("\n")
    assert detail["id"] is None  # the command line names the archive, not the fine-tune


def test_a_name_that_is_no_archive_exits_2(harness: Harness) -> None:
    done = run(harness, "unpack", f"{PREFIX}model.zip")
    assert done.returncode == 2
    assert "does not end with .tar.zst or .tar.gz" in done.stderr
    assert harness.events.read(wait_s=1) == []  # refused before anything is contacted


class SlowParts(S3FaultProxy):
    """UploadPart answered after a pause, so that a signal lands while a file uploads;
    each part's request path is kept (``parts``)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.parts: list[str] = []

    def take(self, method: str, path: str) -> S3Fault | None:
        if method == "PUT" and "partNumber=" in path:
            self.parts.append(path)
            time.sleep(1.0)
        return super().take(method, path)


@pytest.fixture
def slow_parts(harness: Harness) -> Iterator[SlowParts]:
    proxy = SlowParts(harness.aws.endpoint_url)
    with proxy:
        yield proxy


@pytest.mark.parametrize(
    ("sent", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_a_signal_aborts_the_upload_and_leaves_an_incomplete_index(
    harness: Harness, slow_parts: SlowParts, sent: signal.Signals, code: int, word: str
) -> None:
    key = archived(harness, ModelSpec(size=4 * MIB, seed=14, shards=2))
    process = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "unpack", key],
        env=cli_env(harness, AWS_ENDPOINT_URL=slow_parts.endpoint_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    harness.stored.wait_for_upload(key.removesuffix(".tar.zst") + "/")
    assert harness.stored.open_uploads(), "no upload was under way"
    # past CreateMultipartUpload's answer (as the archive's own signal test waits): a
    # signal inside that call interrupts it before the upload is the engine's to abort
    time.sleep(0.5)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert f"{word}; the upload was aborted and the folder's index says incomplete" in stderr
    assert "Traceback" not in stderr
    assert harness.stored.open_uploads() == [], stderr
    index = index_of(harness, key)
    assert index["status"] == "incomplete"
    assert index["error"] == "KeyboardInterrupt"
    # and a re-run finishes it
    done = run(harness, "unpack", key)
    assert done.returncode == 0, done.stderr
    assert index_of(harness, key)["status"] == "complete"


def test_a_killed_run_leaves_its_progress_and_the_next_resumes_mid_file(
    harness: Harness, slow_parts: SlowParts
) -> None:
    """SIGKILL: nothing can be aborted or written at the end. The progress the run
    recorded (every file and part here: FT_ARCHIVER_UNPACK_CHECKPOINT_EVERY=0) is what
    the next run goes on from: no finished file is uploaded again, and the file the kill
    landed in resumes at its next part, in the upload the first run opened."""
    key = archived(harness, ModelSpec(size=4 * MIB, seed=15, shards=2))
    environment = cli_env(
        harness,
        AWS_ENDPOINT_URL=slow_parts.endpoint_url,
        FT_ARCHIVER_UNPACK_CHECKPOINT_EVERY="0",
        FT_ARCHIVER_UPLOAD_CONCURRENCY="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "unpack", key],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    index_key = key.removesuffix(".tar.zst") + ".files.json"
    deadline = time.monotonic() + 60
    recorded: dict[str, object] | None = None
    while time.monotonic() < deadline:
        if index_key in set(harness.stored.keys()):
            recorded = index_of(harness, key)
            upload = recorded.get("open_upload")
            if isinstance(upload, dict) and upload["parts_done"] >= 1 and recorded["files"]:
                break
        time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"no progress with an open upload was recorded: {recorded}")
    process.kill()
    process.communicate(timeout=30)
    assert recorded is not None
    upload = recorded["open_upload"]
    assert isinstance(upload, dict)
    files = recorded["files"]
    assert isinstance(files, list)
    finished = {entry["key"]: entry["version_id"] for entry in files}
    assert [u["UploadId"] for u in harness.stored.open_uploads()] == [upload["upload_id"]]

    slow_parts.parts.clear()
    done = run(harness, "unpack", key, "--json", AWS_ENDPOINT_URL=slow_parts.endpoint_url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "complete"
    assert result["kept"] >= len(finished)
    # the resumed file's parts went into the first run's upload, from its next part on
    resent = [p for p in slow_parts.parts if p.split("?")[0].endswith(str(upload["key"]))]
    assert resent
    assert all(f"uploadId={upload['upload_id']}" in p for p in resent)
    numbers = [int(p.split("partNumber=")[1].split("&")[0]) for p in resent]
    assert min(numbers) == int(str(upload["parts_done"])) + 1
    index = index_of(harness, key)
    by_key = {entry["key"]: entry for entry in index["files"]}  # type: ignore[attr-defined]
    for finished_key, version in finished.items():  # the same objects, not new versions
        assert by_key[finished_key]["version_id"] == version
        assert len(harness.stored.versions_of(finished_key)) == 1
    resumed = by_key[upload["key"]]
    assert len(harness.stored.versions_of(upload["key"])) == 1
    assert harness.stored.open_uploads() == []
    assert harness.stored.sha256_of(upload["key"]) == resumed["sha256"]
