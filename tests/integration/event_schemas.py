"""Every emitted event is checked against the published JSON Schema in events/schemas/."""

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from ft_archiver.domain.events import SCHEMA_FILES

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
