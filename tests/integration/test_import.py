"""The import stage's service over the wire: boto3 to the fake Bedrock (botocore's own
model enforced on every request), the record in moto's S3, the events on moto's
EventBridge, read back and checked against the published schemas."""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ft_archiver.adapters.bedrock import BedrockModelImports
from ft_archiver.adapters.events import EventBridgePublisher
from ft_archiver.adapters.s3_import_record import S3ImportRecords
from ft_archiver.domain.events import IMPORT_FAILED, IMPORTED, UnpackedDetail
from ft_archiver.domain.imports.message import ImportMessage
from ft_archiver.domain.imports.record import record_key
from ft_archiver.domain.imports.request import ImportSource
from ft_archiver.service.imports.importer import (
    Deferred,
    Finished,
    Importer,
    ImportOptions,
    ImportOutcome,
    Waiting,
)
from ft_archiver_tools.local.aws import MotoServer, capture_events, read_events
from ft_archiver_tools.local.bedrock.server import FakeBedrock
from tests.support.events import validate_event

EVENTS = Path(__file__).resolve().parents[2] / "events"
ROLE = "arn:aws:iam::123456789012:role/ft-archiver-bedrock-import"
LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}


class Stage:
    """A bucket with one complete folder, a bus with a capture queue, the fake Bedrock."""

    def __init__(self, aws: MotoServer, fake: FakeBedrock) -> None:
        self.aws = aws
        self.fake = fake
        self.bucket = f"import-{uuid.uuid4().hex[:12]}"
        self.bus = f"bus-{uuid.uuid4().hex[:8]}"
        aws.client("s3").create_bucket(Bucket=self.bucket)
        aws.client("events").create_event_bus(Name=self.bus)
        self.events_queue = capture_events(aws, self.bus, f"capture-{uuid.uuid4().hex[:8]}")
        event = json.loads((EVENTS / "fine-tune-unpacked.json").read_text())
        detail = UnpackedDetail.model_validate(event["detail"])
        self.source = ImportSource.of_unpacked(detail).model_copy(update={"bucket": self.bucket})
        files = {
            "config.json": json.dumps(LLAMA).encode(),
            "model.safetensors": b"\0" * 64,
            "tokenizer.json": b"{}",
            "tokenizer_config.json": b'{"chat_template": "x"}',
        }
        for name, body in files.items():
            aws.client("s3").put_object(
                Bucket=self.bucket, Key=f"{self.source.folder}{name}", Body=body
            )

    def importer(self, **options: Any) -> Importer:
        bedrock = boto3.client(
            "bedrock",
            endpoint_url=self.fake.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return Importer(
            BedrockModelImports(bedrock),
            S3ImportRecords(self.aws.client("s3")),
            EventBridgePublisher(self.aws.client("events"), self.bus),
            ImportOptions(role_arn=ROLE, poll_first_s=0, quota_first_s=0, **options),
        )

    def message(self, run_id: str = "run-1") -> ImportMessage:
        return ImportMessage(source=self.source, run_id=run_id, first_seen_s=time.time())

    def events(self, wait_s: float = 2.0) -> list[dict[str, Any]]:
        found = read_events(self.aws, self.events_queue, wait_s=wait_s)
        for event in found:
            validate_event(event)
        return found


def run_to_end(importer: Importer, message: ImportMessage, looks: int = 10) -> list[ImportOutcome]:
    outcomes: list[ImportOutcome] = []
    for _ in range(looks):
        outcome = importer.advance(message)
        outcomes.append(outcome)
        if isinstance(outcome, Finished):
            return outcomes
        message = outcome.message
    raise AssertionError(f"no end after {looks} looks: {outcomes[-1]}")


@pytest.fixture
def stage(aws: MotoServer) -> Iterator[Stage]:
    with FakeBedrock(s3_client=aws.client("s3"), polls_to_finish=2) as fake:
        yield Stage(aws, fake)
        assert fake.internal_errors == []


def test_a_ready_folder_is_imported_and_announced_once(stage: Stage) -> None:
    importer = stage.importer()
    outcomes = run_to_end(importer, stage.message())
    assert isinstance(outcomes[0], Waiting)
    assert outcomes[0].started
    assert outcomes[0].models_in_account == 0  # counted before the start, for the quota warning
    assert [type(o).__name__ for o in outcomes] == ["Waiting", "Waiting", "Waiting", "Finished"]
    end = outcomes[-1]
    assert isinstance(end, Finished)
    assert end.announced
    events = stage.events()
    assert [e["detail-type"] for e in events] == [IMPORTED]
    detail = events[0]["detail"]
    (model,) = stage.fake.models.values()
    assert detail["imported_model_arn"] == detail["model_id"] == model.arn
    assert detail["imported_model_name"] == "acme-llama-3-8b-demo-46cc56c2"
    assert detail["folder_url"] == f"s3://{stage.bucket}/{stage.source.folder}"
    assert stage.fake.roles_seen == [ROLE]
    # A redelivery of the same Unpacked event after the end: no call, no event.
    again = importer.advance(stage.message(run_id="run-2"))
    assert isinstance(again, Finished)
    assert not again.announced
    assert stage.events(wait_s=1) == []
    assert len([c for c in stage.fake.requests if c.operation == "CreateModelImportJob"]) == 1


def test_duplicate_deliveries_follow_one_job_and_announce_it_once(stage: Stage) -> None:
    importer = stage.importer()
    first = importer.advance(stage.message("run-a"))
    second = importer.advance(stage.message("run-b"))
    assert isinstance(first, Waiting)
    assert isinstance(second, Waiting)
    assert first.message.job_arn == second.message.job_arn  # the token: one job
    assert len(stage.fake.jobs) == 1
    ends = [run_to_end(importer, o.message)[-1] for o in (first, second)]
    assert [isinstance(e, Finished) and e.announced for e in ends] == [True, False]
    assert [e["detail-type"] for e in stage.events()] == [IMPORTED]


def test_a_failed_job_gives_one_failure_event_with_bedrocks_message(stage: Stage) -> None:
    stage.fake.fail_next_job("The model architecture is not supported.")
    importer = stage.importer()
    end = run_to_end(importer, stage.message())[-1]
    assert isinstance(end, Finished)
    assert end.announced
    events = stage.events()
    assert [e["detail-type"] for e in events] == [IMPORT_FAILED]
    assert events[0]["detail"]["error"] == "The model architecture is not supported."
    assert events[0]["detail"]["retryable"] is False
    assert stage.fake.models == {}
    record = stage.aws.client("s3").get_object(
        Bucket=stage.bucket, Key=record_key(stage.source.index_key)
    )
    assert json.loads(record["Body"].read())["status"] == "Failed"
    # Another delivery finds the record: no second failure event.
    assert not run_to_end(importer, stage.message("run-2"))[-1].announced  # type: ignore[union-attr]
    assert stage.events(wait_s=1) == []


def test_a_quota_refusal_is_waited_out_not_failed(stage: Stage) -> None:
    importer = stage.importer()
    other = stage.message("run-other").source.model_copy(
        update={"folder": "models/other/", "index_key": "models/other.files.json",
                "archive_sha256": "0" * 64}
    )  # fmt: skip
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        stage.aws.client("s3").copy_object(
            Bucket=stage.bucket, Key=f"models/other/{name}",
            CopySource={"Bucket": stage.bucket, "Key": f"{stage.source.folder}{name}"},
        )  # fmt: skip
    running = importer.advance(stage.message())
    assert isinstance(running, Waiting)
    waiting = importer.advance(
        ImportMessage(source=other, run_id="run-2", first_seen_s=time.time())
    )
    assert isinstance(waiting, Deferred)
    assert "ServiceQuotaExceededException" in waiting.reason
    assert waiting.message.deferrals == 1
    assert waiting.message.job_arn is None
    run_to_end(importer, running.message)
    end = run_to_end(importer, waiting.message)[-1]
    assert isinstance(end, Finished)
    assert end.announced
    assert [e["detail-type"] for e in stage.events()] == [IMPORTED, IMPORTED]


def test_an_adapter_is_refused_before_any_call_with_one_failure_event(stage: Stage) -> None:
    message = stage.message().model_copy(
        update={"source": stage.source.model_copy(update={"checkpoint_type": "adapter"})}
    )
    end = stage.importer().advance(message)
    assert isinstance(end, Finished)
    assert end.announced
    assert stage.fake.requests == []
    (event,) = stage.events()
    assert event["detail-type"] == IMPORT_FAILED
    assert "--checkpoint-type merged" in event["detail"]["error"]
    assert event["detail"]["job_arn"] is None


def test_a_throttled_bedrock_is_retried_by_botocore(stage: Stage) -> None:
    stage.fake.throttle_next(1)
    outcome = stage.importer().advance(stage.message())
    assert isinstance(outcome, Waiting)
    assert outcome.started


def test_an_import_given_up_for_its_wait_can_be_asked_again(stage: Stage) -> None:
    importer = stage.importer()
    stale = stage.message("run-1").model_copy(update={"first_seen_s": time.time() - 25 * 3600})
    given_up = importer.advance(stale)
    assert isinstance(given_up, Finished)
    assert given_up.announced
    assert given_up.result.error_type == "ImportTimeoutError"  # type: ignore[union-attr]
    assert stage.fake.requests == []
    # The same run again finds its own announced record: nothing more.
    again = importer.advance(stale)
    assert isinstance(again, Finished)
    assert not again.announced
    # A new run (asked again) supersedes the retryable end and imports.
    end = run_to_end(importer, stage.message("run-2"))[-1]
    assert isinstance(end, Finished)
    assert end.announced
    assert [e["detail-type"] for e in stage.events()] == [IMPORT_FAILED, IMPORTED]


def test_a_refusal_is_not_superseded_by_another_delivery(stage: Stage) -> None:
    adapter = stage.source.model_copy(update={"checkpoint_type": "adapter"})
    importer = stage.importer()
    for run in ("run-1", "run-2"):
        importer.advance(ImportMessage(source=adapter, run_id=run, first_seen_s=time.time()))
    assert [e["detail-type"] for e in stage.events()] == [IMPORT_FAILED]
