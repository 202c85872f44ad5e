"""``ft-archiver plan`` as a user runs it: a separate process, with no settings at all."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ft_archiver.domain import sizing
from ft_archiver.domain.parts import S3_MAX_OBJECT_SIZE
from ft_archiver.domain.sizing import size_archive
from ft_archiver_tools.cli_plan import as_json, duration, human_size, usd
from tests.support.interpreter import run_fresh

GB = 1000**3
TB = 1000**4
# What a machine without any set-up has: no AWS, no Together, no ft-archiver variables.
BARE = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}


def plan(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", "plan", *args],
        env={**BARE, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def planned_json(*args: str, **env: str) -> dict[str, Any]:
    done = plan(*args, "--json", **env)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.count("\n") == 1  # one JSON object, one line
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_the_table_for_150_gb() -> None:
    done = plan("--size", "150GB")
    assert (done.returncode, done.stderr) == (0, "")
    rows = dict(line.split("  ", 1) for line in done.stdout.splitlines())
    rows = {name: value.strip() for name, value in rows.items()}
    assert rows["archive"] == "150 GB (139.7 GiB, 150,000,000,000 bytes)"
    assert rows["path"] == (
        "distributed: Plan, 18 batches on 20 workers (1 round), Complete, SHA-256 read-back"
    )
    assert (rows["part size"], rows["parts"], rows["batches"]) == (
        "15 MiB", "9,537", "18 of up to 8 GiB",
    )  # fmt: skip
    assert rows["estimated wall time"] == "13 min 53 s (of which the SHA-256 read-back 12 min 32 s)"
    assert (rows["Lambda invocations"], rows["Lambda GB-seconds"]) == ("21", "1,600")
    assert (rows["state transitions"], rows["S3 PUT requests"]) == ("41", "9,539")
    assert rows["cost: total"] == "$0.0754"
    assert rows["prices"].startswith("us-east-1 on-demand of 2026-11-26")


def test_a_small_archive_takes_the_single_function() -> None:
    done = plan("--size", "10GB")
    assert done.returncode == 0
    assert "single: the archiver function, 1 invocation\n" in done.stdout
    assert "batches                none\n" in done.stdout
    assert "note:" not in done.stdout


def test_what_does_not_fit_is_noted_under_the_table() -> None:
    done = plan("--size", "10TB")
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1] == (
        "note: a part of 954 MiB does not fit the 768 MiB of part buffers a 1024 MB function "
        "has: an archive this large needs ArchiverMemorySize 1210 or more"
    )
    # In 1210 MB the part fits, alone: one part at a time is what is noted then.
    assert plan("--size", "10TB", "--memory", "1210").stdout.splitlines()[-1] == (
        "note: 1 part buffer(s) of 954 MiB fit in 1210 MB: 1 GET(s) and 1 UploadPart(s) at "
        "once, fewer than the rate assumes, so slower than estimated"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [("10GB", 10 * GB), ("150GB", 150 * GB), ("1TB", TB), ("10TB", 10 * TB),
     ("48.8TiB", 53_656_167_435_468), ("500MiB", 500 * 2**20),
     (str(S3_MAX_OBJECT_SIZE), S3_MAX_OBJECT_SIZE)],
)  # fmt: skip
def test_json_is_the_sizing_of_that_many_bytes(text: str, size: int) -> None:
    found = planned_json("--size", text)
    assert found == json.loads(json.dumps(as_json(size_archive(size))))
    assert found["size"] == size


def test_json_with_workers_and_memory() -> None:
    found = planned_json("--size", "1TB", "--workers", "117", "--memory", "2048")
    assert (found["workers"], found["memory_mb"], found["batches"]) == (117, 2048, 117)
    assert found["lanes"] == {"downloads": 18, "uploads": 8, "buffers": 18}
    # One round: Plan 5 s, a batch of 85 x 96 MiB at PER_WORKER_BPS and 2 s, Complete 30 s;
    # no read-back above 200 GiB.
    rate = sizing.PER_WORKER_BPS
    assert found["wall_seconds"] == round(5 + 85 * 96 * 2**20 / rate + 2 + 30, 1)
    assert found["state_transitions"] == 3 + 117 * 2
    assert found["assumptions"]["per_worker_bps"] == rate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "plan needs --size, e.g. --size 150GB"),
        (("--size", "0"), "--size: '0' is not an archive: give at least 1 byte"),
        (("--size=-5GB",), "--size: '-5GB' is not an archive: give at least 1 byte"),
        (("--size", "-5GB"), "argument --size: expected one argument"),
        (("--size", "12XB"), "--size: cannot read '12XB' as a size; write e.g. 16MiB or 8388608"),
        (("--size", "60TB"), "an archive of 60,000,000,000,000 bytes is over S3's maximum "
                             "object size of 48.8 TiB (53,687,091,200,000 bytes: 10,000 parts "
                             "of 5 GiB)"),
        ((f"--size={S3_MAX_OBJECT_SIZE + 1}",), "an archive of 53,687,091,200,001 bytes is "
                                                 "over S3's maximum object size of 48.8 TiB"),
        (("--size", "1TB", "--workers", "0"), "--workers: '0' is not a whole number from 1 to"),
        (("--size", "1TB", "--workers", "many"), "--workers: 'many' is not a whole number"),
        (("--size", "1TB", "--workers", "10001"), "--workers: '10001' is not a whole number "
                                                  "from 1 to 10000"),
        (("--size", "1TB", "--memory", "128"), "--memory: '128' is not a whole number from 256 "
                                               "to 10240"),
        (("--size", "1TB", "--memory", "1.5GB"), "--memory: '1.5GB' is not a whole number"),
        (("--size", "1e999999999"), "--size: '1e999999999' is far larger than any size"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    for extra in ((), ("--json",)):
        done = plan(*args, *extra)
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith(f"ft-archiver: error: {message}")
        assert "Traceback" not in done.stderr


def test_it_reads_no_settings() -> None:
    """Variables every other command would refuse change nothing: plan reads none."""
    broken = {"ARCHIVE_BUCKET": "Not A Bucket!", "FT_ARCHIVER_PART_SIZE": "huge",
              "FT_ARCHIVER_CONCURRENCY": "0", "AWS_REGION": "nowhere-1",
              "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "TOGETHER_BASE_URL": "ftp://x"}  # fmt: skip
    assert planned_json("--size", "1TB", **broken) == planned_json("--size", "1TB")


def test_it_loads_no_aws_or_http_client() -> None:
    """It cannot contact anything: neither boto3 nor requests is even imported."""
    probe = (
        "import json, sys\n"
        "from ft_archiver_tools.cli import main\n"
        "assert main(['plan', '--size', '1TB', '--json']) == 0\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = set(json.loads(run_fresh(probe).splitlines()[-1]))
    assert "ft_archiver.domain.sizing" in loaded
    assert loaded & {"boto3", "botocore", "requests", "urllib3", "pydantic_settings"} == set()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (59.6, "1 min 0 s"), (874.9, "14 min 35 s"), (5572.4, "1 h 32 min"),
     (296_954.0, "3 d 10 h")],
)  # fmt: skip
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_sizes_and_amounts() -> None:
    assert human_size(S3_MAX_OBJECT_SIZE) == "53.7 TB"
    assert human_size(10 * GB) == "10 GB"
    assert human_size(999) == "999 bytes"
    assert (usd(0), usd(0.00002), usd(0.08744), usd(1150)) == (
        "$0.0000", "< $0.0001", "$0.0874", "$1,150.00",
    )  # fmt: skip


SIZING_PAGE = Path(__file__).resolve().parents[2] / "docs" / "serverless.md"


@pytest.mark.parametrize(
    ("label", "size"),
    [("10 GB", 10 * GB), ("150 GB", 150 * GB), ("1 TB", TB), ("10 TB", 10 * TB),
     ("48.8 TiB", S3_MAX_OBJECT_SIZE)],
)  # fmt: skip
def test_the_documented_sizing_table_is_the_commands(label: str, size: int) -> None:
    """docs/serverless.md, Sizing: the estimates as `plan` prints them (rerun it if this fails)."""
    plan = size_archive(size)
    wall = duration(plan.wall_s) + (f" ({duration(plan.verify_s)})" if plan.verify_s else "")
    costs = plan.costs
    cells = [
        label, wall, f"{plan.invocations:,}", f"{plan.gb_seconds:,.0f}",
        f"{plan.state_transitions:,}", f"{plan.s3_put_requests:,}",
        usd(costs.lambda_compute + costs.lambda_requests),
        usd(costs.step_functions) if costs.step_functions else "$0",
        usd(costs.s3_requests), f"**{usd(costs.total)}**",
    ]  # fmt: skip
    assert f"| {' | '.join(cells)} |\n" in SIZING_PAGE.read_text()
