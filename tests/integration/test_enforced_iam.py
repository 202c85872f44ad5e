"""Each function's real handler, end to end, under its own template role in a moto server
that enforces IAM (tests/support/enforced.py says what moto evaluates). A call the role
does not allow fails the test with the action and the resource named. Then the mutation
check: each statement removed in turn must make one of its runs hear a denial, or be
one of TEXT_ONLY, which says why moto cannot see it (and whose text test proves it)."""

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ft_archiver.adapters.aws_errors import error_code
from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.handlers import dependencies
from ft_archiver_tools.local.model_archive import ModelSpec
from ft_archiver_tools.local.serve import LocalDeployment, run_step
from ft_archiver_tools.local.simulator import TogetherSimulator
from ft_archiver_tools.local.webhook_sender import send_webhook
from tests.support.aws import set_all
from tests.support.enforced import DENIED, Denial, EnforcedIam, operations_of
from tests.support.events import EventCapture
from tests.support.iam import Statement, actions
from tests.support.sandbox import local_deployment
from tests.support.settings import archiver_variables
from tests.support.steps_walk import walk_archive_steps

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]  # the repository
ENFORCED = ["WebhookFunction", "ArchiverFunction", "PollerFunction", "UnpackFunction",
            "ImportFunction", "ArchiveStepsFunction"]  # fmt: skip
# Each role mutated, and the runs that must notice: the function's own; the archiver's,
# the huge archive's too (its StartExecution); Bedrock's service role, the import's (the
# fake reads the folder with it).
MUTATED: dict[str, tuple[str, ...]] = {
    **{function: (function,) for function in ENFORCED},
    "ArchiverFunction": ("ArchiverFunction", "ArchiveStepsFunction"),
    "BedrockImportRole": ("ImportFunction",),
}
# An archive of 2 MiB is huge here: the archiver hands it to the state machine, whose
# batches are two 256 KiB parts each.
DISTRIBUTED = {"FT_ARCHIVER_FAN_OUT_THRESHOLD_GIB": str(1 / 1024),
               "FT_ARCHIVER_DISTRIBUTED_BATCH_SIZE": "512KiB"}  # fmt: skip
# Statements moto cannot see removed, by their role and their sorted actions: why, and
# where the text proves them instead.
LOGS = "Lambda writes the logs; locally they go to stdout (test_permissions: own group)"
XRAY = "Lambda's X-Ray daemon sends them; tracing is off locally (test_permissions)"
MISSING_KEY = (
    "moto answers a missing key 404 with or without it; AWS answers 403 (S3's "
    "HeadObject page; test_permissions: platform_actions)"
)
BEDROCK = "no emulator has Bedrock; the fake enforces its service model, not IAM"
FUNCTION_ROLE_TEXT_ONLY: dict[tuple[str, ...], str] = {
    ("logs:CreateLogStream", "logs:PutLogEvents"): LOGS,
    ("xray:PutTelemetryRecords", "xray:PutTraceSegments"): XRAY,
}
TEXT_ONLY: dict[tuple[str, tuple[str, ...]], str] = {
    **{(f, k): why for f in ENFORCED for k, why in FUNCTION_ROLE_TEXT_ONLY.items()},
    ("ArchiverFunction", ("s3:ListBucket",)): MISSING_KEY,
    ("UnpackFunction", ("s3:ListBucket",)): MISSING_KEY,
    ("ImportFunction", ("s3:ListBucket",)): MISSING_KEY,
    ("ImportFunction", ("bedrock:CreateModelImportJob", "bedrock:ListImportedModels")): BEDROCK,
    ("ImportFunction", ("bedrock:GetImportedModel", "bedrock:GetModelImportJob",
                        "bedrock:TagResource")): BEDROCK,
    ("ImportFunction", ("iam:PassRole",)):
        "PassRole is checked by the service the role is passed to: Bedrock",
}  # fmt: skip


@pytest.fixture(scope="module")
def deployment(together: TogetherSimulator) -> Iterator[LocalDeployment]:
    environment = archiver_variables(FT_ARCHIVER_LEASE_WAIT=0)
    name = f"iam-{uuid.uuid4().hex[:6]}"
    # A prefix of its own for the folders, so that the unpacker's statement for the
    # manifest's pointer (under ArchivePrefix) is not covered by the folders' one.
    parameters = {"Unpack": "true", "Import": "bedrock", "UnpackPrefix": "unpacked/"}
    with local_deployment(together, name, environment, parameters=parameters) as local:
        yield local


class Enforced:
    """The deployment with IAM enforced, and one end-to-end run per function."""

    def __init__(self, local: LocalDeployment, together: TogetherSimulator) -> None:
        assert local.stack is not None
        self.local = local
        self.stack = local.stack
        self.together = together
        self.events = EventCapture(local.aws, self.stack.bus_name, f"cap-{time.time_ns()}", 2.0)
        self.iam = EnforcedIam(local.aws, self.stack.values).start()
        for function in ENFORCED:
            self.iam.grant(function)
        # Bedrock reads the folder as the stack's service role: the fake does too
        self.iam.grant("BedrockImportRole")
        assert local.bedrock is not None
        local.bedrock.state.s3_client = self.iam.client_as("BedrockImportRole", "s3")
        self.runs: dict[str, Callable[[], bool]] = {
            "WebhookFunction": self.webhook, "ArchiverFunction": self.archiver,
            "PollerFunction": self.poller, "UnpackFunction": self.unpacker,
            "ImportFunction": self.importer, "ArchiveStepsFunction": self.archive_steps,
        }  # fmt: skip
        self.machine_arn = self._state_machine()
        with self.iam.as_function("PollerFunction"):
            dependencies.reset()
            self.local.tick_poller()  # the poller's first tick: its baseline

    def run(self, function: str) -> tuple[bool, list[Denial]]:
        """The function's run under its role: whether it did its job, the denials heard."""
        self.last_denials: list[Denial] = []
        try:
            ok = self.runs[function]()
        except ClientError as exc:  # refused to the event source mapping itself
            if error_code(exc) not in DENIED:
                raise
            return False, [*self.last_denials, *self.iam.denials[-1:]]
        return ok, self.last_denials

    # -- the runs -------------------------------------------------------------------------

    def _as(self, function: str) -> Any:
        dependencies.reset()  # clients rebuilt with the credentials of the role
        return self.iam.as_function(function)

    def webhook(self) -> bool:
        job = self.together.add_job("Lora", size=256 * 1024, model_output_name=f"w/{uuid.uuid4()}")
        payload = {
            "type": "fine_tuning.job.completed",
            "data": {"id": job.id, "status": "completed"},
        }
        with self._as("WebhookFunction") as heard:
            answer = send_webhook(self.local.webhook_url, self.stack.webhook_secret, payload)
        self.last_denials = heard
        self._drain_all()
        return answer.status_code == 202

    def archive_message(self, spec: ModelSpec) -> str:
        job = self.together.add_job(
            "Lora", model=spec, model_output_name=f"acme/e-{time.time_ns()}"
        )
        message = ArchiveMessage(id=job.id, checkpoint_type="default", origin="backfill",
                                 received_at=time.time())  # fmt: skip
        self.local.aws.client("sqs").send_message(
            QueueUrl=self.stack.queue_url, MessageBody=message.model_dump_json()
        )
        return job.id

    def archiver(self) -> bool:
        job_id = self.archive_message(ModelSpec(size=1 * MIB, seed=int(time.time_ns() % 1000)))
        with self._as("ArchiverFunction") as heard:
            made = self.local.deliver(wait_s=1)
        self.last_denials = heard
        done = self.events.read(detail_type="Fine-tune Archived", job_id=job_id)
        self._drain_all()
        return bool(made) and not made[0].failed and len(done) == 1

    def poller(self) -> bool:
        job = self.together.add_job("Lora", size=256 * 1024, status="running",
                                    model_output_name=f"p/{uuid.uuid4()}")  # fmt: skip
        with self._as("PollerFunction") as heard:
            first = self.local.tick_poller()
            job.status = "completed"
            second = self.local.tick_poller()
        self.last_denials = heard
        self._drain_all()
        return bool(first.get("ok")) and second.get("archives_enqueued") == 1

    def _state_machine(self) -> str:
        """ArchiveStateMachine in moto, at the ARN the archiver's environment names: moto
        records its executions and runs none (the test walks the tasks)."""
        arn = str(self.local.environment["ARCHIVE_STATE_MACHINE_ARN"])
        definition = (ROOT / "infra" / "archive.asl.json").read_text()
        self.local.aws.client("stepfunctions").create_state_machine(
            name=arn.rpartition(":")[2], definition=definition,
            roleArn="arn:aws:iam::123456789012:role/ArchiveStateMachineRole",
        )  # fmt: skip
        return arn

    def archive_steps(self) -> bool:
        """A huge archive: the archiver, under its role as granted now, hands it to the
        state machine; each of the machine's tasks then runs as ArchiveStepsFunction
        under its role."""
        job_id = self.archive_message(ModelSpec(size=2 * MIB, seed=int(time.time_ns() % 1000)))
        with pytest.MonkeyPatch.context() as patch:
            set_all(patch.setenv, DISTRIBUTED)
            with self._as("ArchiverFunction") as handed:
                self.local.deliver(wait_s=1)
            self.last_denials = list(handed)
            execution = self._execution_of(job_id)
            finished = False
            if execution is not None:
                with self._as("ArchiveStepsFunction") as stepped:
                    finished = walk_archive_steps(
                        run_step, execution["input"], execution["startDate"].isoformat()
                    )
                self.last_denials += stepped
        done = self.events.read(detail_type="Fine-tune Archived", job_id=job_id)
        self._drain_all()
        return finished and len(done) == 1

    def _execution_of(self, job_id: str) -> dict[str, Any] | None:
        """The execution the archiver started for the job, if it did (read as the test)."""
        sfn = self.local.aws.client("stepfunctions")
        for listed in sfn.list_executions(stateMachineArn=self.machine_arn)["executions"]:
            execution = sfn.describe_execution(executionArn=listed["executionArn"])
            if json.loads(execution["input"])["fine_tune_id"] == job_id:
                return dict(execution)
        return None

    def _archived_for_unpack(self) -> str:
        """A new archive, made with the archiver's full role; its job ID."""
        self.iam.grant("ArchiverFunction")
        job_id = self.archive_message(ModelSpec(size=1 * MIB, seed=int(time.time_ns() % 1000)))
        with self._as("ArchiverFunction"):
            self.local.deliver(wait_s=1)
        self.events.read(detail_type="Fine-tune Archived", job_id=job_id)
        return job_id

    def unpacker(self) -> bool:
        job_id = self._archived_for_unpack()
        with self._as("UnpackFunction") as heard:
            made = self.local.deliver_unpack(wait_s=2)
        self.last_denials = heard
        done = self.events.read(detail_type="Fine-tune Unpacked", job_id=job_id)
        self._drain_all()
        return bool(made) and not made[0].failed and len(done) == 1

    @property
    def _imports_url(self) -> str:
        assert self.stack.imports is not None
        return self.stack.imports.queue_url

    def importer(self) -> bool:
        job_id = self._archived_for_unpack()
        self.iam.grant("UnpackFunction")
        with self._as("UnpackFunction"):
            self.local.deliver_unpack(wait_s=2)
        self.events.read(detail_type="Fine-tune Unpacked", job_id=job_id)
        done: list[dict[str, Any]] = []
        heard: list[Denial] = []
        for _ in range(10):  # one look a delivery, each under the role
            with self._as("ImportFunction") as looked:
                made = self.local.deliver_import(wait_s=3)
            heard += looked
            done += self.events.read(wait_s=0.1, detail_type="Fine-tune Imported", job_id=job_id)
            if done or not made:
                break
        self.last_denials = heard
        self._drain_all()
        self._idle_bedrock()
        return len(done) == 1

    def _idle_bedrock(self) -> None:
        """Each run alone: every job the fake runs taken to its end (a mutated run may
        leave one that would hold the region's one job slot), and every model deleted
        (the model quota of 3)."""
        fake = self.local.bedrock
        assert fake is not None
        client = boto3.client("bedrock", endpoint_url=fake.endpoint_url, region_name=fake.region,
                              aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip
        for arn, job in fake.jobs.items():
            while job.status == "InProgress":
                client.get_model_import_job(jobIdentifier=arn)
                job = fake.jobs[arn]
        for arn in fake.models:
            client.delete_imported_model(modelIdentifier=arn)

    def _drain_all(self) -> None:
        """Every queue of the stack emptied, of the messages a failed delivery left to
        its retry delay too (they would otherwise come back in a later run)."""
        assert self.stack.unpack is not None
        sqs = self.local.aws.client("sqs")
        for delivery in self.local.deliveries:
            if delivery.failed:
                with contextlib.suppress(ClientError):  # deleted since
                    self.local.skip_delay(delivery)
        self.local.deliveries.clear()
        for url in (self.stack.queue_url, self.stack.unpack.queue_url, self._imports_url):
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def enforced_world(deployment: LocalDeployment, together: TogetherSimulator) -> Iterator[Enforced]:
    patch = pytest.MonkeyPatch()
    set_all(patch.setenv, deployment.environment)
    world = Enforced(deployment, together)
    try:
        yield world
    finally:
        world.iam.stop()
        patch.undo()
        dependencies.reset()


@pytest.fixture
def enforced(
    enforced_world: Enforced, deployment: LocalDeployment, monkeypatch: pytest.MonkeyPatch
) -> Enforced:
    """The deployment's environment over the isolated one every integration test gets."""
    set_all(monkeypatch.setenv, deployment.environment)
    return enforced_world


@pytest.mark.parametrize("function", ENFORCED)
def test_the_handler_runs_end_to_end_under_its_template_role(
    enforced: Enforced, function: str
) -> None:
    enforced.iam.grant(function)
    ok, denied = enforced.run(function)
    assert denied == [], f"{function}'s role does not allow: {', '.join(map(str, denied))}"
    assert ok, f"{function} did not do its job under its role"


def _key(statement: Statement) -> tuple[str, ...]:
    return tuple(sorted(actions(statement)))


def test_removing_any_statement_moto_can_see_makes_a_denial(enforced: Enforced) -> None:
    """Each statement of each enforced role removed in turn: one of its runs must hear a
    denial of one of its actions (or fail), unless the statement is TEXT_ONLY, and a TEXT_ONLY
    statement must indeed go unseen (so that the list stays true)."""
    proven: dict[str, list[tuple[str, ...]]] = {}
    unseen: dict[str, list[tuple[str, ...]]] = {}
    for function, runs in MUTATED.items():
        statements = enforced.iam.grant(function)
        for number, statement in enumerate(statements):
            enforced.iam.grant(function, without=number)
            operations = {op for action in actions(statement) for op in operations_of(action)}
            seen = False
            for run in runs:
                ok, denied = enforced.run(run)
                seen = seen or not ok or any(denial.action in operations for denial in denied)
            (proven if seen else unseen).setdefault(function, []).append(_key(statement))
        enforced.iam.grant(function)
    report = {"proven by enforcement": sum(map(len, proven.values())),
              "text only": sum(map(len, unseen.values()))}  # fmt: skip
    print(json.dumps({"statements": report, "proven": proven, "unseen": unseen}, indent=1))
    wrongly_unseen = [(f, k) for f, keys in unseen.items() for k in keys if (f, k) not in TEXT_ONLY]
    assert wrongly_unseen == [], "removed, and no run noticed"
    wrongly_listed = [(f, k) for f, keys in proven.items() for k in keys if (f, k) in TEXT_ONLY]
    assert wrongly_listed == [], "TEXT_ONLY, but enforcement saw it: take it off the list"
