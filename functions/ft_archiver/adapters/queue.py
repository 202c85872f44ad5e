"""ArchiveQueue, UnpackQueue and ImportQueue over boto3 SQS."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    # types only: the unpack and import domains stay out of the archive side's cold start
    from ft_archiver.domain.imports.message import ImportMessage
    from ft_archiver.domain.unpack.request import UnpackMessage
else:
    SQSClient = Any
    MessageAttributeValueTypeDef = Any

SQS_BATCH = 10  # SendMessageBatch's limit


def _attributes(message: ArchiveMessage) -> dict[str, MessageAttributeValueTypeDef]:
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        "origin": {"DataType": "String", "StringValue": message.origin}
    }
    if message.webhook_id is not None:
        attributes["webhook_id"] = {"DataType": "String", "StringValue": message.webhook_id}
    return attributes


def _send(
    client: SQSClient,
    queue_url: str,
    body: str,
    attributes: dict[str, MessageAttributeValueTypeDef],
    delay_s: int,
) -> str:
    try:
        response = client.send_message(
            QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes, DelaySeconds=delay_s
        )
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"SQS SendMessage failed ({type(exc).__name__})") from None
    return response["MessageId"]


def _retry_later(client: SQSClient, queue_url: str, receipt_handle: str, delay_s: int) -> None:
    """Make a received message visible again after ``delay_s`` seconds."""
    try:
        client.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s
        )
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"SQS ChangeMessageVisibility failed ({type(exc).__name__})") from None


class SqsArchiveQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: ArchiveMessage, delay_s: int = 0) -> str:
        """SendMessage; ``delay_s`` (at most 900) keeps it from consumers that long."""
        body = message.model_dump_json()
        return _send(self._client, self._queue_url, body, _attributes(message), delay_s)

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        """Make a received message visible again after ``delay_s`` seconds."""
        _retry_later(self._client, self._queue_url, receipt_handle, delay_s)

    def send_batch(self, messages: Sequence[ArchiveMessage]) -> list[str]:
        """SendMessageBatch, ten at a time; any entry refused fails the whole call (the
        entries that went are duplicates the archiver's idempotency key absorbs)."""
        ids: list[str] = []
        for start in range(0, len(messages), SQS_BATCH):
            chunk = messages[start : start + SQS_BATCH]
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {
                            "Id": str(n),
                            "MessageBody": message.model_dump_json(),
                            "MessageAttributes": _attributes(message),
                        }
                        for n, message in enumerate(chunk)
                    ],
                )
            except (ClientError, BotoCoreError) as exc:
                raise StorageError(f"SQS SendMessageBatch failed ({type(exc).__name__})") from None
            failed = response.get("Failed", [])
            if failed:
                codes = ", ".join(sorted({entry.get("Code", "?") for entry in failed}))
                raise StorageError(
                    f"SQS SendMessageBatch refused {len(failed)} of {len(chunk)} ({codes})"
                )
            by_id = {entry["Id"]: entry["MessageId"] for entry in response.get("Successful", [])}
            ids.extend(by_id[str(n)] for n in range(len(chunk)))
        return ids


class SqsUnpackQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: "UnpackMessage") -> str:
        """SendMessage: an unpack's continuation."""
        return _send(self._client, self._queue_url, message.model_dump_json(), {}, 0)

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        """Make a received message visible again after ``delay_s`` seconds."""
        _retry_later(self._client, self._queue_url, receipt_handle, delay_s)


class SqsImportQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: "ImportMessage", delay_s: int) -> str:
        """SendMessage: the next look at an import, ``delay_s`` (at most 900) from now."""
        return _send(self._client, self._queue_url, message.model_dump_json(), {}, delay_s)

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        """Make a received message visible again after ``delay_s`` seconds."""
        _retry_later(self._client, self._queue_url, receipt_handle, delay_s)
