"""The sample events in events/ are valid instances of the contract models."""

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel

from ft_archiver.domain.events import (
    ARCHIVE_FAILED,
    ARCHIVED,
    IMPORT_FAILED,
    IMPORTED,
    SCHEMA_FILES,
    UNPACK_FAILED,
    UNPACKED,
    ArchivedDetail,
    ArchiveFailedDetail,
    ImportedDetail,
    ImportFailedDetail,
    UnpackedDetail,
    UnpackFailedDetail,
    detail_schema,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize(
    ("name", "detail_type", "model"),
    [
        ("fine-tune-archived.json", ARCHIVED, ArchivedDetail),
        ("fine-tune-archive-failed.json", ARCHIVE_FAILED, ArchiveFailedDetail),
        ("fine-tune-unpacked.json", UNPACKED, UnpackedDetail),
        ("fine-tune-unpack-failed.json", UNPACK_FAILED, UnpackFailedDetail),
        ("fine-tune-imported.json", IMPORTED, ImportedDetail),
        ("fine-tune-import-failed.json", IMPORT_FAILED, ImportFailedDetail),
    ],
)
def test_sample_event_matches_the_model(
    name: str, detail_type: str, model: type[BaseModel]
) -> None:
    event = json.loads((EVENTS / name).read_text())
    assert event["source"] == "ft-archiver"
    assert event["detail-type"] == detail_type
    assert model.model_validate(event["detail"]).model_dump(mode="json") == event["detail"]


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_published_schema_is_the_models_schema(name: str) -> None:
    """events/schemas/ cannot drift from the pydantic models that produce the events."""
    detail_type, _ = SCHEMA_FILES[name]
    committed = json.loads((EVENTS / "schemas" / name).read_text())
    assert committed == detail_schema(detail_type)


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("fine-tune-archived.json", "fine-tune-archived.schema.json"),
        ("fine-tune-archive-failed.json", "fine-tune-archive-failed.schema.json"),
        ("fine-tune-unpacked.json", "fine-tune-unpacked.schema.json"),
        ("fine-tune-unpack-failed.json", "fine-tune-unpack-failed.schema.json"),
        ("fine-tune-imported.json", "fine-tune-imported.schema.json"),
        ("fine-tune-import-failed.json", "fine-tune-import-failed.schema.json"),
    ],
)
def test_sample_events_satisfy_the_schema(name: str, schema: str) -> None:
    event = json.loads((EVENTS / name).read_text())
    jsonschema.validate(event["detail"], json.loads((EVENTS / "schemas" / schema).read_text()))


SAMPLE_SECRET = "whsec_ZnQtYXJjaGl2ZXIgc2FtcGxlIHNlY3JldCAwMDAx"  # documented in docs/webhook.md


def test_sample_webhook_request_is_correctly_signed() -> None:
    from ft_archiver.domain.webhook import decode_secret, parse_payload, verify_signature

    event = json.loads((EVENTS / "webhook-request.json").read_text())
    headers, body = event["headers"], event["body"].encode()
    now = int(headers["webhook-timestamp"]) + 1
    assert (
        verify_signature([decode_secret(SAMPLE_SECRET)], headers, body, now)
        == (headers["webhook-id"])
    )
    event_type, completion = parse_payload(body)
    assert event_type == "fine_tuning.job.completed"
    assert completion.checkpoint_type == "merged"


def test_sample_sqs_record_carries_an_archive_message() -> None:
    from ft_archiver.domain.messages import ArchiveMessage

    event = json.loads((EVENTS / "archive-request-sqs.json").read_text())
    [record] = event["Records"]
    message = ArchiveMessage.model_validate_json(record["body"])
    assert record["messageAttributes"]["webhook_id"]["stringValue"] == message.webhook_id
    assert record["eventSource"] == "aws:sqs"
