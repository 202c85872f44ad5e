"""The events ft-archiver put on a bus, read back and checked against the published JSON
Schemas in events/schemas/."""

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from ft_archiver.domain.events import SCHEMA_FILES
from ft_archiver_tools.local.aws import MotoServer, capture_events, read_events

SCHEMAS = Path(__file__).resolve().parents[2] / "events" / "schemas"


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {
        detail_type: json.loads((SCHEMAS / name).read_text())
        for name, (detail_type, _) in SCHEMA_FILES.items()
    }


def validate_event(event: dict[str, Any]) -> None:
    assert event["source"] == "ft-archiver"
    jsonschema.validate(event["detail"], _schemas()[event["detail-type"]])


class EventCapture:
    """Every ft-archiver event on one bus, forwarded by a rule to an SQS queue of its own.

    ``read`` drains what arrived: every event is validated, then those a filter asks
    for are returned (the others are gone). ``wait_s`` is how long a read waits for a
    first event; reads that expect none pass a shorter one.
    """

    def __init__(self, aws: MotoServer, bus_name: str, queue_name: str, wait_s: float) -> None:
        self.aws = aws
        self.queue_url = capture_events(aws, bus_name, queue_name)
        self.wait_s = wait_s

    def read(
        self,
        wait_s: float | None = None,
        *,
        detail_type: str | None = None,
        job_id: str | None = None,
    ) -> list[dict[str, Any]]:
        events = read_events(self.aws, self.queue_url, self.wait_s if wait_s is None else wait_s)
        for event in events:
            validate_event(event)
        wanted = [e for e in events if detail_type is None or e["detail-type"] == detail_type]
        return [e for e in wanted if job_id is None or e["detail"]["id"] == job_id]
