"""``ft-archiver doctor`` as a user runs it: a separate process against the Together
simulator and moto's server, each test with a simulator of its own (so that "the newest
completed job" is the test's) and the template's resources deployed in moto."""

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ft_archiver_tools.doctor.aws import put_and_delete
from ft_archiver_tools.local.aws import MotoServer, free_port
from ft_archiver_tools.local.bedrock.server import FakeBedrock
from ft_archiver_tools.local.s3_fault_proxy import S3FaultProxy
from ft_archiver_tools.local.simulator import Faults, Shapes, SimJob, TogetherSimulator

from .harness import PREFIX, Harness, run

NEWEST = "2030-01-01T00:00:00Z"  # after every job the simulator dates itself
CHECK_FIELDS = {"name", "ok", "detail", "fix"}


@pytest.fixture
def world(aws: MotoServer) -> Iterator[Harness]:
    with TogetherSimulator() as together:
        yield Harness.deploy(aws, together, f"d-{uuid.uuid4().hex[:12]}")


def doctor(world: Harness, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = run(world, "doctor", *args, **env)
    assert "Traceback" not in done.stderr, done.stderr
    for secret in (world.together.api_key, env.get("TOGETHER_API_KEY")):
        if secret:
            assert secret not in done.stdout + done.stderr
    return done


def failures(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith("✗")]


def newest_lora(world: Harness, download: str = "redirect") -> SimJob:
    job: SimJob = world.together.add_job(
        "Lora", size=300 * 1024, model_output_name="acme/Doctor_Run", created_at=NEWEST,
        download=download,  # type: ignore[arg-type]
    )  # fmt: skip
    return job


def test_a_working_set_up_passes_every_check(world: Harness) -> None:
    world.together.add_job("Full", size=10 * 1024)  # older: not the one probed
    job = newest_lora(world, download="redirect")
    done = doctor(world, STATE_TABLE_NAME=world.stack.table_name,
                  ARCHIVE_QUEUE_URL=world.stack.queue_url)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    # the local stack leaves out the TLS-only bucket policy on purpose (loopback is http)
    advice = [line for line in lines if line.startswith("⚠ ")]
    assert advice == [f"⚠ the policy of bucket {world.bucket} does not deny requests not made "
                      "over TLS: add the DenyInsecureTransport statement (docs/deploy.md: an "
                      "existing bucket)"]  # fmt: skip
    assert all(line.startswith("✓ ") for line in lines if line not in advice), done.stdout
    assert f"bucket {world.bucket} blocks every kind of public access" in done.stdout
    out = done.stdout
    assert "Together accepted the API key (from TOGETHER_API_KEY)" in out
    assert "GET /fine-tunes: 2 jobs, 2 completed; entries carry no training_type" in out
    assert f"newest completed job {job.id} (created {NEWEST}): training type Lora" in out
    assert f"GET /fine-tunes/{job.id}/checkpoints: 0 intermediate; finals: Final" in out
    assert f"download of {job.id} (merged): 300.0 KiB, application/zstd, " in out
    assert "redirected to localhost, Range honoured (206)" in out
    assert f"it would be archived as s3://{world.bucket}/{PREFIX}acme--doctor-run.tar.zst" in out
    assert "X-Amz-Signature" not in out  # the storage URL's query is never shown
    assert "AWS credentials of arn:aws:" in out
    assert f"bucket {world.bucket} exists" in out
    assert f"versioning of bucket {world.bucket}: Enabled" in out
    assert f"aborts incomplete multipart uploads under '{PREFIX}'" in out
    assert f"event bus {world.stack.bus_name} exists" in out
    assert f"state table {world.stack.table_name} is ACTIVE" in out
    assert f"archive queue {world.stack.queue_url.rsplit('/', 1)[1]}: 0 waiting, 0 in flight" in out
    assert "wrote, read back" not in out  # read-only unless --write-test
    world.stored.assert_nothing_written()
    assert world.together.blob_requests(world.together.archive_for(job.id, "merged"))[0].range == (
        "bytes=0-1"
    )


TLS_ONLY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::B", "arn:aws:s3:::B/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}]}  # fmt: skip


def test_an_existing_bucket_without_the_stacks_hardening_is_advised_not_failed(
    world: Harness,
) -> None:
    """An existing bucket gets none of the stack's bucket policy: archiving works
    (exit 0), and the doctor says what to add, each with its command or statement."""
    newest_lora(world)
    s3 = world.aws.client("s3")
    s3.delete_public_access_block(Bucket=world.bucket)
    done = doctor(world)
    assert done.returncode == 0, done.stdout
    [public] = [line for line in done.stdout.splitlines() if "public" in line]
    assert public.startswith(f"⚠ bucket {world.bucket} does not set BlockPublicAcls, ")
    assert f"aws s3api put-public-access-block --bucket {world.bucket} " in public
    policy = json.dumps(TLS_ONLY).replace("arn:aws:s3:::B", f"arn:aws:s3:::{world.bucket}")
    s3.put_bucket_policy(Bucket=world.bucket, Policy=policy)
    done = doctor(world)
    assert f"✓ bucket {world.bucket} refuses requests not made over TLS" in done.stdout
    as_json = {c["name"]: c for c in json.loads(doctor(world, "--json").stdout)}
    assert as_json["s3.public_access"]["ok"] is True
    assert as_json["s3.public_access"]["fix"].startswith("aws s3api put-public-access-block")


def test_a_download_answered_by_the_api_host(world: Harness) -> None:
    job = newest_lora(world, download="direct")
    done = doctor(world)
    assert done.returncode == 0, done.stdout
    assert f"download of {job.id} (merged): 300.0 KiB, application/zstd, answered by the API " \
        "host, Range honoured (206)" in done.stdout  # fmt: skip


SHAPES = {
    "documented": (Shapes(), "entries carry no training_type", "Final Merged, Final Adapter"),
    "list with training_type": (Shapes(list_entries="with-training-type"),
                                "entries carry training_type (not relied on", "Final Merged"),
    "one LoRA Final": (Shapes(lora_finals="final"), "entries carry no training_type",
                       "finals: Final\n"),
}  # fmt: skip


@pytest.mark.parametrize(("shapes", "listed", "finals"), list(SHAPES.values()), ids=list(SHAPES))
def test_every_shape_of_the_simulator_passes(
    aws: MotoServer, shapes: Shapes, listed: str, finals: str
) -> None:
    with TogetherSimulator(shapes=shapes) as together:
        world = Harness.deploy(aws, together, f"d-{uuid.uuid4().hex[:12]}")
        together.add_job("Full", size=10 * 1024, legacy_training_type=True)
        newest_lora(world, download="direct")
        done = doctor(world)
    assert done.returncode == 0, done.stdout
    assert listed in done.stdout
    assert finals in done.stdout + "\n"


def test_a_storage_that_ignores_range_fails_for_an_archive_of_several_parts(
    world: Harness,
) -> None:
    job = newest_lora(world)  # 300 KiB: two parts of the tests' 256 KiB
    world.together.set_faults(Faults(ignore_range=True))
    done = doctor(world)
    assert done.returncode == 1
    assert failures(done) == [
        f"✗ download of {job.id} (merged): 300.0 KiB, application/zstd, redirected to "
        "localhost, Range ignored (200): its parts cannot be read by range: the archive's "
        "storage must honour Range requests; tell Together support"
    ]
    assert "it would be archived as" not in done.stdout


def test_a_storage_that_ignores_range_is_fine_for_one_part(world: Harness) -> None:
    world.together.add_job("Full", size=100 * 1024, created_at=NEWEST)
    world.together.set_faults(Faults(ignore_range=True))
    done = doctor(world)
    assert done.returncode == 0, done.stdout
    assert "100.0 KiB, application/zstd, " in done.stdout
    assert "Range ignored (200): one part, read whole" in done.stdout


def test_no_completed_job_is_not_a_failure(world: Harness) -> None:
    world.together.add_job("Lora", status="running")
    done = doctor(world)
    assert done.returncode == 0, done.stdout
    assert "GET /fine-tunes: 1 job, 0 completed" in done.stdout
    assert "✓ no completed fine-tune yet" in done.stdout
    assert "download of" not in done.stdout


def test_a_rejected_key_fails_and_is_never_printed(world: Harness) -> None:
    newest_lora(world)
    done = doctor(world, TOGETHER_API_KEY="wrong-key-4b1d")
    assert done.returncode == 1
    [line] = failures(done)
    assert line.startswith("✗ Together refused the API key (from TOGETHER_API_KEY): ")
    assert f"HTTP 401 from {world.together.base_url}/fine-tunes" in line
    assert line.endswith(
        ": set TOGETHER_API_KEY (or its secret) to a key from api.together.ai/settings/api-keys"
    )
    assert f"bucket {world.bucket} exists" in done.stdout  # AWS is still checked


def test_a_down_together_is_one_line_and_exit_1(world: Harness) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    done = doctor(world, TOGETHER_BASE_URL=down)
    assert done.returncode == 1
    together_lines = [line for line in done.stdout.splitlines() if "Together" in line]
    assert len(together_lines) == 1
    assert together_lines == failures(done)
    line = together_lines[0]
    assert line.startswith(f"✗ Together's API did not answer: {down}/fine-tunes unreachable")
    assert ": check TOGETHER_BASE_URL, this machine's network and status.together.ai" in line
    assert done.stderr == ""


def test_missing_key_exits_2_with_one_line_before_anything_is_asked(world: Harness) -> None:
    done = doctor(world, TOGETHER_API_KEY="")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "ft-archiver: error: TOGETHER_API_KEY is not set (nor TOGETHER_API_KEY_SECRET_NAME)\n"
    )
    assert world.together.log == []


def test_missing_key_and_bucket_are_named_in_one_line(world: Harness) -> None:
    done = doctor(world, TOGETHER_API_KEY="", ARCHIVE_BUCKET="")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "TOGETHER_API_KEY is not set" in done.stderr
    assert "no bucket: pass --bucket or --stack NAME, or set ARCHIVE_BUCKET" in done.stderr


def test_a_missing_bucket_fails_with_its_fix(world: Harness) -> None:
    done = doctor(world, "--bucket", "no-such-bucket-doctor")
    assert done.returncode == 1
    assert failures(done) == [
        "✗ bucket no-such-bucket-doctor does not exist: create it, or set ARCHIVE_BUCKET (or "
        "--bucket) to the stack's ArchiveBucketName output (or pass --stack NAME)"
    ]
    assert "versioning of" not in done.stdout  # nothing more is asked of a missing bucket


def test_a_bucket_that_keeps_abandoned_uploads_fails(world: Harness) -> None:
    bare = f"bare-{uuid.uuid4().hex[:12]}"
    world.aws.client("s3").create_bucket(Bucket=bare)
    done = doctor(world, "--bucket", bare)
    assert done.returncode == 1
    assert failures(done) == [
        f"✗ no enabled lifecycle rule of bucket {bare} aborts incomplete multipart uploads "
        f"under '{PREFIX}': an archive suspended and never resumed stays billed: add a "
        "lifecycle rule with AbortIncompleteMultipartUpload for the prefix (docs/deploy.md: an "
        "existing bucket)"
    ]
    assert f"versioning of bucket {bare}: never enabled" in done.stdout


def test_missing_bus_table_and_queue_each_fail(world: Harness) -> None:
    queue = f"{world.aws.endpoint_url}/123456789012/no-such-queue"
    done = doctor(world, EVENT_BUS_NAME="no-such-bus", STATE_TABLE_NAME="no-such-table",
                  ARCHIVE_QUEUE_URL=queue)  # fmt: skip
    assert done.returncode == 1
    assert [line.split(":")[0] for line in failures(done)] == [
        "✗ event bus no-such-bus does not exist",
        "✗ state table no-such-table does not exist",
        "✗ archive queue no-such-queue does not exist",
    ]


def assert_only_moto_fails(done: subprocess.CompletedProcess[str]) -> None:
    """Every check holds but the checksum modes: moto checks no checksum."""
    assert done.returncode == 1, done.stdout
    assert [line.split(":")[0] for line in failures(done)] == [
        "✗ the store does not keep the configured checksum mode full-object"
    ]


def test_write_test_puts_checks_and_deletes(world: Harness) -> None:
    newest_lora(world)
    done = doctor(world, "--write-test")
    assert_only_moto_fails(done)
    [line] = [line for line in done.stdout.splitlines() if "wrote, read back" in line]
    assert line.startswith(f"✓ wrote, read back and deleted s3://{world.bucket}/{PREFIX}"
                           "ft-archiver-doctor/")  # fmt: skip
    assert "S3 kept its CRC64NVME " in line
    world.stored.assert_nothing_written()  # no object, no version, no delete marker


def test_write_test_with_another_checksum_algorithm(world: Harness) -> None:
    done = doctor(world, "--write-test", FT_ARCHIVER_CHECKSUM_ALGORITHM="CRC32C")
    assert_only_moto_fails(done)
    assert "S3 kept its CRC32C " in done.stdout
    world.stored.assert_nothing_written()


class _ForgetfulStore:
    """A real S3 client whose HeadObject does not echo the checksum that was sent."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        head = dict(self._client.head_object(**kwargs))
        head.pop("ChecksumCRC64NVME", None)
        return head


def test_a_store_that_drops_the_checksum_fails_and_leaves_nothing(world: Harness) -> None:
    s3 = _ForgetfulStore(world.aws.client("s3"))
    check = put_and_delete(s3, world.bucket, PREFIX, "CRC64NVME")
    assert not check.ok
    assert "S3 answered CRC64NVME None for" in check.detail
    assert "FT_ARCHIVER_CHECKSUM_ALGORITHM" in str(check.fix)
    world.stored.assert_nothing_written()


def checksum_modes_line(done: subprocess.CompletedProcess[str]) -> str:
    [line] = [line for line in done.stdout.splitlines() if "none works with any store" in line]
    return line


def test_write_test_finds_that_moto_checks_no_checksum(world: Harness) -> None:
    """moto echoes whatever checksum it is sent and refuses none (the conformance suite
    shows LocalStack and SeaweedFS keeping both modes): on it only mode none proves
    anything, and the doctor says so."""
    done = doctor(world, "--write-test")
    assert done.returncode == 1, done.stdout
    assert checksum_modes_line(done).startswith(
        "✗ the store does not keep the configured checksum mode full-object: full-object "
        "CRC64NVME took a part whose checksum was wrong: not checked; composite CRC32C took "
        "a part whose checksum was wrong: not checked"
    )
    assert "set FT_ARCHIVER_CHECKSUM_MODE=none" in done.stdout
    world.stored.assert_nothing_written()


def test_a_store_that_ignores_checksums_is_told_to_use_mode_none(world: Harness) -> None:
    with S3FaultProxy(world.aws.endpoint_url) as store:
        store.ignores_checksums = True
        done = doctor(world, "--write-test", AWS_ENDPOINT_URL_S3=store.endpoint_url)
        assert done.returncode == 1, done.stdout
        line = checksum_modes_line(done)
        assert line.startswith("✗ the store does not keep the configured checksum mode "
                               "full-object: full-object CRC64NVME taken but not echoed: "
                               "not kept; composite CRC32C taken but not echoed")  # fmt: skip
        assert "set FT_ARCHIVER_CHECKSUM_MODE=none" in done.stdout
        world.stored.assert_nothing_written()

        done = doctor(world, "--write-test", AWS_ENDPOINT_URL_S3=store.endpoint_url,
                      FT_ARCHIVER_CHECKSUM_MODE="none")  # fmt: skip
        assert done.returncode == 0, done.stdout
        assert "the bytes read back match" in done.stdout
        assert checksum_modes_line(done).startswith("✓ the store keeps none (configured: none)")
        world.stored.assert_nothing_written()


def test_json_carries_every_check(world: Harness) -> None:
    newest_lora(world)
    done = doctor(world, "--json", "--write-test", TOGETHER_API_KEY="wrong-key-77aa")
    assert done.returncode == 1
    checks: list[dict[str, Any]] = json.loads(done.stdout)
    assert all(set(check) == CHECK_FIELDS for check in checks)
    by_name = {check["name"]: check for check in checks}
    assert list(by_name) == ["together.key", "aws.identity", "s3.bucket", "s3.versioning",
                             "s3.lifecycle", "s3.public_access", "s3.tls_only",
                             "s3.write_test", "s3.checksum_modes", "events.bus"]  # fmt: skip
    assert by_name["together.key"]["ok"] is False
    assert "api.together.ai/settings/api-keys" in by_name["together.key"]["fix"]
    # moto checks no checksum (test_write_test_finds_that_moto_checks_no_checksum)
    assert [check["name"] for check in checks[1:] if not check["ok"]] == ["s3.checksum_modes"]
    # advice holds (ok) and says what to do; the local stack has no TLS-only policy
    advised = [check["name"] for check in checks[1:] if check["ok"] and check["fix"]]
    assert advised == ["s3.tls_only"]


def test_json_of_a_working_set_up(world: Harness) -> None:
    newest_lora(world)
    done = doctor(world, "--json")
    assert done.returncode == 0
    names = [check["name"] for check in json.loads(done.stdout)]
    assert names[:6] == ["together.key", "together.list", "together.retrieve",
                         "together.checkpoints", "together.download", "archive.key"]  # fmt: skip
    assert "together.answers" not in names  # only when Together said something undocumented


def test_a_job_of_an_unknown_training_type_fails(world: Harness) -> None:
    job = world.together.add_job("Dpo", created_at=NEWEST)
    done = doctor(world)
    assert done.returncode == 1
    refused, undocumented = failures(done)
    assert refused.startswith(f"✗ fine-tune {job.id} has training type 'Dpo'")
    # what the deployed functions count as UnexpectedTogetherAnswer, and alarm on
    assert undocumented.startswith(
        "✗ 1 answer(s) Together does not document: Together's retrieve answer for "
        f"fine-tune {job.id} has training_type {{'type': 'Dpo'}}"
    )
    assert "UnexpectedTogetherAnswerAlarm" in undocumented


# -- --stack: the deployed stack's names, from CloudFormation ----------------------------


def key_secret(world: Harness) -> str:
    """The secret in moto that holds the simulator's key, as the deployed functions read it."""
    return world.stack.environments["ArchiverFunction"]["TOGETHER_API_KEY_SECRET_NAME"]


def deploy_stack(world: Harness, prefix: str = "stacked/") -> str:
    """A CloudFormation stack in moto whose outputs and parameters name the world's
    resources, as the template's do."""
    name = f"ft-archiver-{uuid.uuid4().hex[:8]}"
    parameters = {"ArchivePrefix": prefix, "TogetherApiKeySecretName": key_secret(world)}
    outputs = {"ArchiveBucketName": world.bucket, "EventBusName": world.stack.bus_name,
               "StateTableName": world.stack.table_name,
               "ArchiveQueueUrl": world.stack.queue_url}  # fmt: skip
    template = {
        "Parameters": {key: {"Type": "String"} for key in parameters},
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    world.aws.client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    return name


def test_stack_names_replace_the_environment(world: Harness) -> None:
    newest_lora(world)
    stack = deploy_stack(world)
    # Nothing in the environment but where Together is: the key from the stack's secret.
    done = doctor(world, "--stack", stack, TOGETHER_API_KEY="", ARCHIVE_BUCKET="",
                  ARCHIVE_PREFIX="", EVENT_BUS_NAME="")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith(f"✓ stack {stack} is CREATE_COMPLETE: ArchiveBucketName {world.bucket}")
    assert f"Together accepted the API key (from secret {key_secret(world)})" in out
    assert f"it would be archived as s3://{world.bucket}/stacked/acme--doctor-run.tar.zst" in out
    assert f"event bus {world.stack.bus_name} exists" in out
    assert f"state table {world.stack.table_name} is ACTIVE" in out
    assert f"archive queue {world.stack.queue_url.rsplit('/', 1)[1]}: " in out


def test_flags_win_over_the_stack(world: Harness) -> None:
    newest_lora(world)
    stack = deploy_stack(world)
    done = doctor(world, "--stack", stack, "--prefix", "flagged/")
    assert done.returncode == 0, done.stdout
    assert f"s3://{world.bucket}/flagged/acme--doctor-run.tar.zst" in done.stdout


def test_a_stack_that_cannot_be_read_fails_and_names_nothing_else(world: Harness) -> None:
    newest_lora(world)
    done = doctor(world, "--stack", "no-such-stack", ARCHIVE_BUCKET="")
    assert done.returncode == 1
    [line] = failures(done)
    assert line.startswith("✗ stack no-such-stack could not be read: ValidationError: ")
    assert line.endswith(": check the stack's name and AWS_REGION (the region it was deployed to)")
    assert "Together accepted the API key" in done.stdout  # the key came from the environment
    assert "AWS credentials of" in done.stdout
    assert "bucket" not in done.stdout.replace(line, "")


def test_an_unreadable_key_secret_fails_with_its_fix(world: Harness) -> None:
    done = doctor(world, TOGETHER_API_KEY="", TOGETHER_API_KEY_SECRET_NAME="no-such-secret")
    assert done.returncode == 1
    [line] = failures(done)
    assert line.startswith("✗ secret 'no-such-secret' could not be read (")
    assert line.endswith(": grant secretsmanager:GetSecretValue on it, or set TOGETHER_API_KEY")
    assert world.together.log == []  # no key: Together is not asked


# -- the import checks (IMPORT_ROLE_ARN set) ------------------------------------------------

BEDROCK_TRUST: dict[str, Any] = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
}]}  # fmt: skip
LAMBDA_TRUST: dict[str, Any] = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole",
}]}  # fmt: skip


@pytest.fixture(scope="module")
def bedrock(aws: MotoServer) -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        yield fake


def _role(aws: MotoServer, trust: dict[str, Any]) -> str:
    name = f"import-{uuid.uuid4().hex[:8]}"
    role = aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def _import_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if "Custom Model Import" in line
            or "import role" in line or "ListImportedModels" in line]  # fmt: skip


@pytest.mark.parametrize(
    ("trust", "mark", "says"),
    [
        (BEDROCK_TRUST, "✓", "trusts bedrock.amazonaws.com for this account"),
        ({**BEDROCK_TRUST, "Statement": [{**BEDROCK_TRUST["Statement"][0], "Condition": {}}]},
         "⚠", "trusts bedrock.amazonaws.com from any account"),
        (LAMBDA_TRUST, "✗", "does not trust bedrock.amazonaws.com"),
        (None, "✗", "does not exist"),
    ],
)  # fmt: skip
def test_the_import_role_and_region_are_checked(
    world: Harness, aws: MotoServer, bedrock: FakeBedrock,
    trust: dict[str, Any] | None, mark: str, says: str,
) -> None:  # fmt: skip
    role = _role(aws, trust) if trust else "arn:aws:iam::123456789012:role/no-such-role"
    done = doctor(world, IMPORT_ROLE_ARN=role, AWS_ENDPOINT_URL_BEDROCK=bedrock.endpoint_url)
    region, role_line = _import_lines(done)
    assert region.startswith("✓ Custom Model Import answers in us-east-1: ")
    assert role_line.startswith(f"{mark} import role {role} ")
    assert says in role_line
    assert done.returncode == (1 if mark == "✗" else 0), done.stdout


def test_a_region_without_custom_model_import_fails(world: Harness, aws: MotoServer) -> None:
    role = _role(aws, BEDROCK_TRUST)
    done = doctor(world, IMPORT_ROLE_ARN=role, AWS_ENDPOINT_URL_BEDROCK="http://127.0.0.1:1",
                  AWS_DEFAULT_REGION="eu-north-1", FT_ARCHIVER_MAX_ATTEMPTS="1")  # fmt: skip
    assert done.returncode == 1
    [region] = [line for line in failures(done) if "ListImportedModels" in line]
    assert "in eu-north-1" in region
    assert "AWS lists Custom Model Import in us-east-1, us-west-2 only" in region


def test_without_an_import_role_nothing_of_bedrock_is_asked(
    world: Harness, bedrock: FakeBedrock
) -> None:
    before = len(bedrock.requests)
    done = doctor(world, AWS_ENDPOINT_URL_BEDROCK=bedrock.endpoint_url)
    assert _import_lines(done) == []
    assert len(bedrock.requests) == before
