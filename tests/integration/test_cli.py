"""The ft-archiver command as a user runs it: a separate process, configured by environment."""

import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from ft_archiver_tools.local.simulator import Faults, SimJob

from .harness import PREFIX, Harness, cli_env, run


def lora_job(harness: Harness, size: int = 700 * 1024) -> SimJob:
    return harness.together.add_job("Lora", size=size, model_output_name="acme/cli")


def test_archive_json_prints_the_event_detail(harness: Harness) -> None:
    job = lora_job(harness)
    done = run(harness, "archive", job.id, "--checkpoint-type", "ADAPTER", "--json")
    assert done.returncode == 0, done.stderr
    detail: dict[str, Any] = json.loads(done.stdout)
    assert detail["key"] == f"{PREFIX}acme--cli-adapter.tar.zst"
    archive = harness.together.archive_for(job.id, "adapter")
    assert detail["sha256"] == harness.together.sha256(archive)
    assert harness.events.read()[0]["detail"] == detail
    assert done.stderr == ""  # no progress bar when stderr is not a terminal


def test_flags_override_the_environment(harness: Harness) -> None:
    job = lora_job(harness)
    done = run(harness, "archive", job.id, "--prefix", "other/", "--part-size", "64KiB",
               "--concurrency", "2", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    detail = json.loads(done.stdout)
    assert detail["key"] == "other/acme--cli.tar.zst"
    assert detail["part_size"] == 64 * 1024
    assert detail["parts"] == 11


def test_human_output(harness: Harness) -> None:
    job = lora_job(harness)
    done = run(harness, "archive", job.id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"archived s3://{harness.bucket}/{PREFIX}acme--cli.tar.zst: ")


def test_rule_error_exits_2_with_one_line(harness: Harness) -> None:
    job = lora_job(harness)
    done = run(harness, "archive", f"{job.id}:10", "--checkpoint-step", "10")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("ft-archiver: error: fine-tune ID")
    harness.stored.assert_nothing_written()


def test_usage_error_exits_2(harness: Harness) -> None:
    done = run(harness, "archive", "ft-abc", "--part-size", "huge")
    assert done.returncode == 2
    assert "cannot read 'huge' as a size" in done.stderr


def test_missing_bucket_exits_2(harness: Harness) -> None:
    done = run(harness, "archive", "ft-abc", ARCHIVE_BUCKET="")
    assert done.returncode == 2
    assert "pass --bucket or set ARCHIVE_BUCKET" in done.stderr


def test_missing_api_key_exits_2(harness: Harness) -> None:
    done = run(harness, "archive", "ft-abc", TOGETHER_API_KEY="")
    assert done.returncode == 2
    assert "TOGETHER_API_KEY is not set" in done.stderr


def test_unknown_job_exits_1_with_one_line(harness: Harness) -> None:
    done = run(harness, "archive", "ft-0000")
    assert done.returncode == 1
    assert done.stderr == (
        "ft-archiver: error: fine-tune ft-0000 not found "
        f"(HTTP 404 from {harness.together.base_url}/fine-tunes/ft-0000: "
        "fine-tune job not found)\n"  # Together's own message, from its error body
    )
    harness.stored.assert_nothing_written()


def test_failing_source_exits_1_and_leaves_nothing(harness: Harness) -> None:
    job = lora_job(harness, size=2 * 1024 * 1024)
    harness.together.set_faults(Faults(fail_first=1000, fail_status=500))
    done = run(harness, "archive", job.id)
    assert done.returncode == 1
    assert "answered HTTP 500" in done.stderr
    harness.stored.assert_nothing_written()
    assert harness.failure_event()["error_type"] == "TogetherUnavailableError"


@pytest.mark.parametrize(
    ("signals", "code", "word"),
    [
        ([signal.SIGINT], 130, "interrupted"),
        ([signal.SIGINT] * 3, 130, "interrupted"),  # an impatient user: three within 100 ms
        ([signal.SIGTERM], 143, "terminated"),  # timeout, docker stop, Kubernetes
        ([signal.SIGTERM, signal.SIGINT, signal.SIGTERM], 143, "terminated"),
    ],
)
def test_a_signal_aborts_the_upload(
    harness: Harness, signals: list[signal.Signals], code: int, word: str
) -> None:
    job = lora_job(harness, size=8 * 1024 * 1024)
    harness.together.set_faults(Faults(rate_limit_bps=256 * 1024))
    process = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "archive", job.id],
        env=cli_env(harness),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    harness.stored.wait_for_upload()
    assert harness.stored.open_uploads(), "the upload never started"
    time.sleep(0.5)
    for number in signals:
        process.send_signal(number)
        time.sleep(0.03)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert f"{word}; the upload was aborted" in stderr
    assert "Traceback" not in stderr
    harness.stored.assert_nothing_written()
    assert harness.failure_event()["error_type"] == "KeyboardInterrupt"


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", "--version"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert done.stdout.startswith("ft-archiver ")


def test_a_killed_archiver_is_resumed_without_downloading_finished_parts(
    harness: Harness,
) -> None:
    job = lora_job(harness, size=4 * 1024 * 1024)  # 16 parts of 256 KiB
    archive = harness.together.archive_for(job.id, "merged")
    harness.together.set_faults(Faults(rate_limit_bps=512 * 1024))
    env = {
        "STATE_TABLE_NAME": harness.stack.table_name,
        "FT_ARCHIVER_LEASE": "1",
        "FT_ARCHIVER_CONCURRENCY": "2",
        "FT_ARCHIVER_UPLOAD_CONCURRENCY": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "archive", job.id],
        env=cli_env(harness, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    table = harness.aws.client("dynamodb")
    done = 0
    deadline = time.monotonic() + 30
    while done < 4 and time.monotonic() < deadline:
        items = table.scan(TableName=harness.stack.table_name)["Items"]
        saved = [json.loads(i["progress"]["S"]) for i in items if "progress" in i]
        done = max((p["done"] for p in saved), default=0)
        time.sleep(0.05)
    process.kill()  # SIGKILL: no clean-up, no abort, no failure event
    process.wait()
    assert 4 <= done < 16
    assert harness.stored.open_uploads()  # left for the next run to resume
    time.sleep(1.2)  # the dead run's lease expires
    again = run(harness, "archive", job.id, "--json", **env)
    assert again.returncode == 0, again.stderr
    detail = json.loads(again.stdout)
    assert detail["sha256"] == harness.together.sha256(archive)
    assert harness.stored.open_uploads() == []
    assert [e["detail-type"] for e in harness.events.read()] == ["Fine-tune Archived"]
    part = 256 * 1024
    fetched = [r.range for r in harness.together.blob_requests(archive) if r.range != "bytes=0-1"]
    for number in range(1, done + 1):  # parts saved before the kill: downloaded once only
        first = (number - 1) * part
        assert fetched.count(f"bytes={first}-{first + part - 1}") == 1


# -- a careless user: each mistake one line, the right exit code, nothing contacted ------


def api_calls(harness: Harness) -> int:
    return len(harness.together.requests_to("api"))


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--bucket", "s3://models"], "--bucket: bucket 's3://models': give the bare name"),
        (["--bucket", "models/"], "a bucket name has no '/'"),
        (
            ["--part-size", "1KiB"],
            "part size 1 KiB is outside 64 KiB (ft-archiver's smallest part)",
        ),
    ],
)
def test_a_bad_option_is_refused_before_anything_is_contacted(
    harness: Harness, flags: list[str], says: str
) -> None:
    job = lora_job(harness)
    before = api_calls(harness)
    done = run(harness, "archive", job.id, *flags)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert says in done.stderr
    assert api_calls(harness) == before
    harness.stored.assert_nothing_written()
    assert harness.events.read(wait_s=1) == []  # a local typo is not a failed archive


def test_concurrency_zero_is_refused_in_plain_words(harness: Harness) -> None:
    done = run(harness, "archive", "ft-abc", "--concurrency", "0")
    assert done.returncode == 2
    assert "--concurrency: '0': give a whole number of at least 1" in done.stderr


def test_a_prefix_without_a_slash_is_warned_about(harness: Harness) -> None:
    job = lora_job(harness)
    done = run(harness, "archive", job.id, "--prefix", "noslash", "--json")
    assert done.returncode == 0, done.stderr
    assert "prefix 'noslash' does not end with '/'" in done.stderr
    assert json.loads(done.stdout)["key"] == "noslashacme--cli.tar.zst"


def test_no_event_archives_without_eventbridge(harness: Harness) -> None:
    job = lora_job(harness)
    done = run(harness, "archive", job.id, "--no-event", "--json")
    assert done.returncode == 0, done.stderr
    assert harness.stored.keys()
    assert harness.events.read(wait_s=1) == []


def test_an_unpublished_event_still_says_where_the_archive_is(harness: Harness) -> None:
    job = lora_job(harness)
    done = run(harness, "archive", job.id, EVENT_BUS_NAME="no-such-bus")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()[-1:]
    assert f"stored and verified at s3://{harness.bucket}/{PREFIX}acme--cli.tar.zst" in line
    assert "Traceback" not in done.stderr


def test_aws_region_alone_is_enough(harness: Harness) -> None:
    job = lora_job(harness)
    env = cli_env(harness)
    env.pop("AWS_DEFAULT_REGION", None)
    env["AWS_REGION"] = "us-east-1"
    env["HOME"] = "/nonexistent"  # no ~/.aws/config to fall back on
    done = subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", "archive", job.id, "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def run_without_region(harness: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    """The command with no region anywhere: neither variable, no ~/.aws/config."""
    env = {k: v for k, v in cli_env(harness).items()
           if k not in ("AWS_DEFAULT_REGION", "AWS_REGION")}  # fmt: skip
    env["HOME"] = "/nonexistent"
    return subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_no_region_at_all_is_one_line(harness: Harness) -> None:
    done = run_without_region(harness, "archive", "ft-abc")
    assert done.returncode == 2
    assert (
        done.stderr == "ft-archiver: error: no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)\n"
    )


@pytest.mark.parametrize(
    ("url", "secret", "code", "says"),
    [
        ("http://127.0.0.1:9/", "whsec_YWJjZA==", 1, "could not POST to http://127.0.0.1:9/"),
        ("localhost:8080", "whsec_YWJjZA==", 2, "is not an http(s) URL"),
        ("http://127.0.0.1:9/", "hunter2!", 2, "--secret: the webhook secret is not whsec_"),
    ],
)
def test_send_webhook_mistakes_are_one_line(url: str, secret: str, code: int, says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", "send-webhook", url, "ft-abc",
         "--secret", secret],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == code
    assert says in done.stderr
    assert done.stderr.count("\n") == 1
    assert "hunter2" not in done.stderr


def test_a_rerun_that_finds_the_archive_done_claims_no_throughput(harness: Harness) -> None:
    job = lora_job(harness)
    table = {"STATE_TABLE_NAME": harness.stack.table_name}
    first = run(harness, "archive", job.id, **table)
    assert first.returncode == 0, first.stderr
    assert "MiB/s" in first.stdout
    again = run(harness, "archive", job.id, **table)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"already archived s3://{harness.bucket}/{PREFIX}acme--cli")
    assert "MiB/s" not in again.stdout


def test_a_bad_id_is_the_first_thing_said_even_without_aws(harness: Harness) -> None:
    done = run_without_region(harness, "archive", "not an id")
    assert done.returncode == 2
    assert "'not an id' is not a fine-tune ID" in done.stderr
