"""``ft-archiver status`` against the state table in a moto server, while the command
archives in another process: the figures move, a killed archive shows its stale lease, a
failed one its error, a finished one its result."""

import json
import subprocess
import sys
import time
from typing import Any

from ft_archiver_tools.local.simulator import Faults, SimJob

from .harness import Harness, cli_env, json_lines, run

SIZE = 4 * 1024 * 1024  # 16 parts of 256 KiB


def new_job(harness: Harness) -> SimJob:
    return harness.together.add_job("Lora", size=SIZE, model_output_name=f"s-{time.time_ns()}")


def ledger_env(harness: Harness, **extra: str) -> dict[str, str]:
    return {"STATE_TABLE_NAME": harness.stack.table_name, "FT_ARCHIVER_CONCURRENCY": "2",
            "FT_ARCHIVER_UPLOAD_CONCURRENCY": "2", **extra}  # fmt: skip


def start_archive(harness: Harness, job: SimJob, **extra: str) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "archive", job.id],
        env=cli_env(harness, **ledger_env(harness, **extra)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def status_of(harness: Harness, *args: str, claimed: bool = True) -> list[dict[str, Any]]:
    """``status ... --json``; with ``claimed`` False, an archive its command has not
    claimed yet is no archive (exit 2, its one line)."""
    done = run(harness, "status", *args, "--json", STATE_TABLE_NAME=harness.stack.table_name)
    if not claimed and done.returncode == 2 and "no archive of" in done.stderr:
        return []
    assert done.returncode == 0, done.stderr
    return json_lines(done.stdout)


def test_status_follows_a_running_archive_to_its_result(harness: Harness) -> None:
    job = new_job(harness)
    harness.together.set_faults(Faults(rate_limit_bps=512 * 1024))
    process = start_archive(harness, job)
    seen: list[dict[str, Any]] = []
    while process.poll() is None:
        found = status_of(harness, job.id, claimed=False)
        seen += [s for s in found if s["state"] == "running"]
        time.sleep(0.3)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    moving = [s for s in seen if s["bytes_done"] is not None]
    assert len({s["bytes_done"] for s in moving}) >= 2, seen  # the figures moved
    assert [s["bytes_done"] for s in moving] == sorted(s["bytes_done"] for s in moving)
    running = moving[-1]
    assert (running["job"], running["checkpoint"], running["path"]) == (job.id, "merged", "single")
    assert (running["size"], running["parts"], running["part_size"]) == (SIZE, 16, 256 * 1024)
    assert running["key"].startswith(harness.prefix)
    assert running["owner"]
    # the last sample may fall after the last part, while Complete runs: every part done
    assert 0 < running["fraction"] <= 1
    assert any(0 < s["fraction"] < 1 for s in moving), moving  # and some while parts moved
    assert running["rate_bps"] > 0
    assert running["seen_s_ago"] < 30
    [finished] = status_of(harness, job.id)
    archive = harness.together.archive_for(job.id, "merged")
    assert (finished["state"], finished["bytes_done"], finished["fraction"]) == ("done", SIZE, 1.0)
    assert finished["result"]["sha256"] == harness.together.sha256(archive)
    followed = run(harness, "status", job.id, "--watch", STATE_TABLE_NAME=harness.stack.table_name)
    assert followed.returncode == 0, followed.stderr
    assert "done" in followed.stdout
    assert finished["result"]["sha256"] in followed.stdout
    listed = run(harness, "status", STATE_TABLE_NAME=harness.stack.table_name)
    assert listed.returncode == 0
    assert job.id in listed.stdout
    assert "STATE" in listed.stdout


def test_a_killed_archive_shows_its_stale_lease(harness: Harness) -> None:
    job = new_job(harness)
    harness.together.set_faults(Faults(rate_limit_bps=512 * 1024))
    process = start_archive(harness, job, FT_ARCHIVER_LEASE="1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = status_of(harness, job.id, claimed=False)
        if found and (found[0]["parts_done"] or 0) >= 3:
            break
        time.sleep(0.1)
    process.kill()  # as a Lambda that dies: no release, no abort
    process.wait()
    time.sleep(1.2)  # its lease expires
    [stale] = status_of(harness, job.id)
    assert stale["state"] == "stale"
    assert 3 <= stale["parts_done"] < 16
    shown = run(harness, "status", job.id, STATE_TABLE_NAME=harness.stack.table_name)
    assert shown.returncode == 0
    assert "stale: the lease of" in shown.stdout
    followed = run(harness, "status", job.id, "--watch", STATE_TABLE_NAME=harness.stack.table_name)
    assert followed.returncode == 1  # nothing moves it: following ends


def test_a_failed_archive_shows_its_error(harness: Harness) -> None:
    job = new_job(harness)
    harness.together.set_faults(Faults(ignore_range=True))  # every part gets the whole archive
    process = start_archive(harness, job)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    [failed] = status_of(harness, job.id)
    assert failed["state"] == "failed"
    assert failed["error"]
    assert "\n" not in failed["error"]
    assert len(failed["error"]) <= 500
    followed = run(harness, "status", job.id, "--watch", STATE_TABLE_NAME=harness.stack.table_name)
    assert followed.returncode == 1
    assert f"error     {failed['error']}" in followed.stdout


def test_status_finds_the_table_from_the_stack(harness: Harness) -> None:
    job = new_job(harness)
    done = run(harness, "archive", job.id, **ledger_env(harness))
    assert done.returncode == 0, done.stderr
    cloudformation = harness.aws.client("cloudformation")
    stack = f"status-{time.time_ns()}"
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"StateTableName": {"Value": harness.stack.table_name}},
    }
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    shown = run(harness, "status", job.id, "--stack", stack, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json_lines(shown.stdout)[0]["state"] == "done"


def test_bad_input_gets_one_line_and_exit_2(harness: Harness) -> None:
    table = {"STATE_TABLE_NAME": harness.stack.table_name}
    cases = [
        (("status",), {"STATE_TABLE_NAME": ""}, "set STATE_TABLE_NAME"),
        (("status", "ft-x:y:z"), table, "is not"),
        (("status", "ft-0000-no-such-job"), table, "no archive of ft-0000-no-such-job"),
        (("status", "s3://bucket-only"), table, "is not an s3://bucket/key URL"),
        (("status", "--stack", "no-such-stack"), {"STATE_TABLE_NAME": ""}, "could not be read"),
    ]
    for args, env, message in cases:
        done = run(harness, *args, **env)
        assert done.returncode == 2, (args, done.stderr)
        [line] = done.stderr.splitlines()
        assert line.startswith("ft-archiver: error: "), line
        assert message in line, line
