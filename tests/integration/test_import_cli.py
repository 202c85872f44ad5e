"""``ft-archiver import KEY`` and ``archive --unpack --import`` as a user runs them: the
command against moto (S3, EventBridge) and the fake Bedrock, which enforces botocore's
own service model on every request and reads the folder from moto's S3."""

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from ft_archiver.domain.imports.record import record_key
from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.bedrock.server import FakeBedrock
from ft_archiver_tools.local.model_archive import ModelSpec

from .harness import PREFIX, Harness, cli_env, run

KIB = 1024
ROLE = "arn:aws:iam::123456789012:role/ft-archiver-bedrock-import"


@pytest.fixture(scope="module")
def bedrock(aws: MotoServer) -> Iterator[FakeBedrock]:
    with FakeBedrock(s3_client=aws.client("s3"), max_models=100) as fake:
        yield fake


def importing(
    harness: Harness, bedrock: FakeBedrock, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    variables = {"AWS_ENDPOINT_URL_BEDROCK": bedrock.endpoint_url, "IMPORT_ROLE_ARN": ROLE,
                 "FT_ARCHIVER_IMPORT_POLL_EVERY": "1", **env}  # fmt: skip
    return run(harness, *args, **variables)


def unpacked(harness: Harness, bedrock: FakeBedrock, name: str, seed: int) -> str:
    """A merged model archived and unpacked by the command; the archive's key."""
    job = harness.together.add_job("Lora", model=ModelSpec(size=256 * KIB, seed=seed),
                                   model_output_name=f"acme/{name}")  # fmt: skip
    done = importing(harness, bedrock, "archive", job.id, "--unpack", "--json")
    assert done.returncode == 0, done.stderr
    harness.events.read()  # the archive's and the unpack's events
    return f"{PREFIX}acme--{name}.tar.zst"


def settle(bedrock: FakeBedrock) -> None:
    """Every job the fake runs taken to its end, as Bedrock would in time."""
    client = boto3.client("bedrock", endpoint_url=bedrock.endpoint_url, region_name=bedrock.region)
    for arn, job in bedrock.jobs.items():
        while job.status == "InProgress":
            client.get_model_import_job(jobIdentifier=arn)
            job = bedrock.jobs[arn]


def creates(bedrock: FakeBedrock, folder_url: str) -> list[dict[str, object]]:
    source = {"s3DataSource": {"s3Uri": folder_url}}
    return [call.params for call in bedrock.requests
            if call.operation == "CreateModelImportJob"
            and call.params["modelDataSource"] == source]  # fmt: skip


def test_archive_unpack_import_chains_all_three(harness: Harness, bedrock: FakeBedrock) -> None:
    job = harness.together.add_job("Lora", model=ModelSpec(size=256 * KIB, seed=61),
                                   model_output_name="acme/chained")  # fmt: skip
    done = importing(harness, bedrock, "archive", job.id, "--unpack", "--import")
    assert done.returncode == 0, done.stderr
    folder = f"s3://{harness.bucket}/{PREFIX}acme--chained/"
    lines = done.stdout.splitlines()
    assert lines[0].startswith("archived ")
    assert any(line.startswith(f"imported {folder} as acme-chained-") for line in lines)
    [invoke] = [line for line in lines if line.startswith("invoke with modelId=")]
    assert "InProgress" in done.stderr  # a progress line while Bedrock works
    events = {e["detail-type"]: e["detail"] for e in harness.events.read()}
    assert set(events) == {"Fine-tune Archived", "Fine-tune Unpacked", "Fine-tune Imported"}
    imported = events["Fine-tune Imported"]
    assert invoke == f"invoke with modelId={imported['model_id']}"
    assert imported["id"] == job.id
    assert imported["imported_model_arn"] in bedrock.models
    record = harness.stored.manifest(record_key(f"{PREFIX}acme--chained.files.json"))
    assert (record["status"], record["announced"]) == ("Completed", True)


def test_import_starts_then_wait_follows_the_same_job(
    harness: Harness, bedrock: FakeBedrock
) -> None:
    key = unpacked(harness, bedrock, "later", seed=62)
    folder = f"s3://{harness.bucket}/{PREFIX}acme--later/"
    started = importing(harness, bedrock, "import", key, "--json")
    assert started.returncode == 0, started.stderr
    state = json.loads(started.stdout)
    assert (state["status"], state["folder_url"]) == ("InProgress", folder)
    assert harness.events.read(wait_s=1) == []  # nothing announced before the end
    waited = importing(harness, bedrock, "import", folder.removeprefix(f"s3://{harness.bucket}/"),
                       "--wait", "--json")  # fmt: skip  # the folder, this time
    assert waited.returncode == 0, waited.stderr
    result = json.loads(waited.stdout)
    assert result["status"] == "Completed"
    assert result["job_arn"] == state["job_arn"]  # the token: the same job, not a second
    assert len({call["jobName"] for call in creates(bedrock, folder)}) == 1
    [event] = harness.events.read()
    assert event["detail-type"] == "Fine-tune Imported"
    again = importing(harness, bedrock, "import", key, "--json")  # the record answers
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["job_arn"] == state["job_arn"]
    assert harness.events.read(wait_s=1) == []


def test_a_dry_run_prints_the_exact_request_and_calls_nothing(
    harness: Harness, bedrock: FakeBedrock
) -> None:
    key = unpacked(harness, bedrock, "dry", seed=63)
    before = len(bedrock.requests)
    done = importing(harness, bedrock, "import", key, "--dry-run")
    assert done.returncode == 0, done.stderr
    request = json.loads(done.stdout)["CreateModelImportJob"]
    assert request["roleArn"] == ROLE
    assert request["jobName"] == request["importedModelName"]
    assert request["modelDataSource"]["s3DataSource"]["s3Uri"].endswith("/acme--dry/")
    assert len(request["clientRequestToken"]) == 64
    assert len(bedrock.requests) == before


def test_a_failed_job_exits_1_with_bedrocks_message(harness: Harness, bedrock: FakeBedrock) -> None:
    key = unpacked(harness, bedrock, "broken", seed=64)
    bedrock.fail_next_job("The model's config.json could not be read (the fake's message)")
    done = importing(harness, bedrock, "import", key, "--wait")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"ft-archiver: error: import of s3://{harness.bucket}/{PREFIX}acme--broken/ failed: "
        "The model's config.json could not be read (the fake's message)"
    )
    [event] = harness.events.read()
    assert event["detail-type"] == "Fine-tune Import Failed"
    assert event["detail"]["job_arn"] is not None


def test_an_adapter_is_refused_before_any_call(harness: Harness, bedrock: FakeBedrock) -> None:
    job = harness.together.add_job("Lora", model=ModelSpec(size=256 * KIB, seed=65),
                                   model_output_name="acme/adapter")  # fmt: skip
    archived = importing(harness, bedrock, "archive", job.id, "--checkpoint-type", "adapter",
                         "--unpack", "--json")  # fmt: skip
    assert archived.returncode == 0, archived.stderr
    harness.events.read()
    key = json.loads(archived.stdout)["key"]
    before = len(bedrock.requests)
    done = importing(harness, bedrock, "import", key, "--wait")
    assert done.returncode == 2
    assert "is a LoRA adapter" in done.stderr
    assert "--checkpoint-type merged" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(bedrock.requests) == before


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (["models/missing/"], {}, 2, "no folder index at s3://"),
        (["models/x.bin"], {}, 2, "is neither an archive"),
        (["models/x/"], {"IMPORT_ROLE_ARN": ""}, 2, "no import role"),
    ],
)
def test_bad_input_is_one_line_and_the_right_exit_code(
    harness: Harness,
    bedrock: FakeBedrock,
    args: list[str],
    env: dict[str, str],
    code: int,
    says: str,
) -> None:
    done = importing(harness, bedrock, "import", *args, **env)
    assert done.returncode == code
    [line] = done.stderr.splitlines()
    assert line.startswith("ft-archiver: error: ")
    assert says in line


def test_a_bedrock_that_is_down_is_one_line_and_exit_1(
    harness: Harness, bedrock: FakeBedrock
) -> None:
    key = unpacked(harness, bedrock, "down", seed=66)
    done = importing(harness, bedrock, "import", key, AWS_ENDPOINT_URL_BEDROCK="http://127.0.0.1:1",
                     FT_ARCHIVER_MAX_ATTEMPTS="1")  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("ft-archiver: error: Bedrock ")
    assert harness.events.read(wait_s=1) == []
    assert harness.stored.versions_under(f"{PREFIX}acme--down.import.json") == []


def test_status_shows_the_archive_and_its_import_job(
    harness: Harness, bedrock: FakeBedrock
) -> None:
    job = harness.together.add_job("Lora", model=ModelSpec(size=256 * KIB, seed=67),
                                   model_output_name="acme/shown")  # fmt: skip
    table = {"STATE_TABLE_NAME": harness.stack.table_name}
    done = importing(harness, bedrock, "archive", job.id, "--unpack", "--import", **table)
    assert done.returncode == 0, done.stderr
    key = f"{PREFIX}acme--shown.tar.zst"
    shown = importing(harness, bedrock, "status", key, "--json", **table)
    assert shown.returncode == 0, shown.stderr
    archive, imported = [json.loads(line) for line in shown.stdout.splitlines()]
    assert (archive["key"], archive["state"]) == (key, "done")
    assert imported["kind"] == "import_job"
    assert imported["job_name"].startswith("acme-shown-")
    assert imported["status"] == "Completed"
    assert imported["imported_model_arn"] in bedrock.models
    text = importing(harness, bedrock, "status", key, **table)
    assert text.returncode == 0, text.stderr
    [row] = [line for line in text.stdout.splitlines() if line.startswith("Completed ")]
    assert imported["job_name"] in row
    without_role = importing(harness, bedrock, "status", key, IMPORT_ROLE_ARN="", **table)
    assert "IMPORT" not in without_role.stdout  # no role: Bedrock is not asked
    down = importing(harness, bedrock, "status", key, AWS_ENDPOINT_URL_BEDROCK="http://127.0.0.1:1",
                     FT_ARCHIVER_MAX_ATTEMPTS="1", **table)  # fmt: skip
    assert down.returncode == 1
    [line] = down.stderr.splitlines()
    assert line.startswith("ft-archiver: error: Bedrock ListModelImportJobs failed: ")


@pytest.mark.parametrize(
    ("sent", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_a_stopped_wait_leaves_the_job_running_and_says_so(
    harness: Harness, bedrock: FakeBedrock, sent: signal.Signals, code: int, word: str
) -> None:
    key = unpacked(harness, bedrock, f"stopped-{code}", seed=68 + code)
    settle(bedrock)  # the region's one job slot free (an earlier case left its job running)
    variables = {"AWS_ENDPOINT_URL_BEDROCK": bedrock.endpoint_url, "IMPORT_ROLE_ARN": ROLE,
                 "FT_ARCHIVER_IMPORT_POLL_EVERY": "30"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "import", key, "--wait"],
        env=cli_env(harness, **variables), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    progress = process.stderr.readline()  # the first look: the job started, InProgress
    assert " InProgress [" in progress
    process.send_signal(sent)
    _, rest = process.communicate(timeout=30)
    assert process.returncode == code
    [line] = rest.splitlines()
    assert line == (f"ft-archiver: error: {word}; an import job already started runs on in "
                    "Bedrock: the same command with --wait follows it")  # fmt: skip
    folder = f"s3://{harness.bucket}/{PREFIX}acme--stopped-{code}/"
    [job] = [j for j in bedrock.jobs.values()
             if j.model_data_source["s3DataSource"]["s3Uri"] == folder]  # fmt: skip
    assert job.status == "InProgress"  # left to Bedrock, not cancelled
    assert harness.events.read(wait_s=1) == []
