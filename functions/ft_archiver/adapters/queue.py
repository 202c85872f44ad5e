"""ArchiveQueue over boto3 SQS."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any


class SqsArchiveQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: ArchiveMessage) -> str:
        try:
            response = self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=message.model_dump_json(),
                MessageAttributes={
                    "webhook_id": {"DataType": "String", "StringValue": message.webhook_id}
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"SQS SendMessage failed ({type(exc).__name__})") from None
        return response["MessageId"]
