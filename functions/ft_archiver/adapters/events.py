"""Result events onto EventBridge."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from ft_archiver.domain.events import EVENT_SOURCE
from ft_archiver.errors import EventPublishError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
else:
    EventBridgeClient = Any


class NoEvents:
    """For a command-line user without EventBridge (``--no-event``, or EVENT_BUS_NAME
    set empty): the archive is made and verified, nothing is announced."""

    def publish(self, detail_type: str, detail: BaseModel) -> str:
        return ""


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, detail_type: str, detail: BaseModel) -> str:
        """PutEvents one entry; a FailedEntryCount above zero is an error, not silence."""
        try:
            response = self._client.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": detail.model_dump_json(),
                        "EventBusName": self._bus_name,
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            raise EventPublishError(
                f"EventBridge PutEvents to bus {self._bus_name!r} failed ({type(exc).__name__})"
            ) from None
        entry = response["Entries"][0] if response.get("Entries") else {}
        if response.get("FailedEntryCount", 0) or "EventId" not in entry:
            raise EventPublishError(
                f"EventBridge refused the {detail_type!r} event on bus {self._bus_name!r}: "
                f"{entry.get('ErrorCode', 'unknown')}: {entry.get('ErrorMessage', '')}"
            )
        return entry["EventId"]
