"""What the state table's adapters share: a failed call as one StorageError line, and
batch calls that see their unprocessed items through (with backoff, bounded)."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient as DynamoDBClient  # re-exported
else:
    DynamoDBClient = Any

GET_BATCH, WRITE_BATCH, MAX_UNPROCESSED_ROUNDS = 100, 25, 8


def dynamodb_error(table: str, action: str, exc: Exception) -> StorageError:
    return StorageError(f"DynamoDB {action} on {table} failed ({error_code(exc)})")


def batch_get(
    client: DynamoDBClient, table: str, keys: list[dict[str, Any]], sleep: Callable[[float], None]
) -> list[dict[str, Any]]:
    """The items of any number of keys, read consistently, GET_BATCH keys a request."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), GET_BATCH):
        found.extend(_batch_get(client, table, keys[start : start + GET_BATCH], sleep))
    return found


def _batch_get(
    client: DynamoDBClient, table: str, keys: list[dict[str, Any]], sleep: Callable[[float], None]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending: Any = {table: {"Keys": keys, "ConsistentRead": True}}
    for attempt in range(MAX_UNPROCESSED_ROUNDS):
        try:
            response = client.batch_get_item(RequestItems=pending)
        except AWS_ERRORS as exc:
            raise dynamodb_error(table, "BatchGetItem", exc) from None
        found.extend(response.get("Responses", {}).get(table, []))
        pending = response.get("UnprocessedKeys") or {}
        if not pending:
            return found
        sleep(min(2.0, 0.05 * 2**attempt))
    raise StorageError(f"DynamoDB BatchGetItem on {table} left keys unprocessed")


def batch_write(
    client: DynamoDBClient, table: str, requests: list[Any], sleep: Callable[[float], None]
) -> None:
    """Any number of put or delete requests, WRITE_BATCH a request."""
    for start in range(0, len(requests), WRITE_BATCH):
        _batch_write(client, table, requests[start : start + WRITE_BATCH], sleep)


def _batch_write(
    client: DynamoDBClient, table: str, requests: list[Any], sleep: Callable[[float], None]
) -> None:
    for attempt in range(MAX_UNPROCESSED_ROUNDS):
        try:
            response = client.batch_write_item(RequestItems={table: requests})
        except AWS_ERRORS as exc:
            raise dynamodb_error(table, "BatchWriteItem", exc) from None
        requests = list(response.get("UnprocessedItems", {}).get(table, []))
        if not requests:
            return
        sleep(min(2.0, 0.05 * 2**attempt))
    raise StorageError(f"DynamoDB BatchWriteItem on {table} left items unprocessed")
