"""The sample events in events/ are valid instances of the contract models."""

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from ft_archiver.domain.events import ARCHIVE_FAILED, ARCHIVED, ArchivedDetail, ArchiveFailedDetail

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize(
    ("name", "detail_type", "model"),
    [
        ("fine-tune-archived.json", ARCHIVED, ArchivedDetail),
        ("fine-tune-archive-failed.json", ARCHIVE_FAILED, ArchiveFailedDetail),
    ],
)
def test_sample_event_matches_the_model(
    name: str, detail_type: str, model: type[BaseModel]
) -> None:
    event = json.loads((EVENTS / name).read_text())
    assert event["source"] == "ft-archiver"
    assert event["detail-type"] == detail_type
    assert model.model_validate(event["detail"]).model_dump(mode="json") == event["detail"]
