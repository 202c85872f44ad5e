"""The SHA-256 of each finished part of a distributed archive, in the state table.

One item per PARTS_PER_ITEM parts of a batch, ``parts#{archive}#{its first part}``, one
attribute per part (``p{n}``, ``{crc}:{sha256 hex}``): the workers of different batches
never write the same item, and an item stays small. DynamoDB bills an UpdateItem by the
whole item's size: one item per batch (1,024 parts of 8 GiB, about 90 KB at its end)
made the batch's writes cost about 45 times what they do in 3 KB items, and one item
taking 23 updates a second of 90 KB passes the 1,000 write units a second an item may
take. Items expire with the table's TTL like every other item, and Finish and Abort
delete them.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

from ft_archiver.adapters.aws_errors import AWS_ERRORS
from ft_archiver.adapters.dynamodb import (
    DynamoDBClient,
    batch_get,
    batch_write,
    dynamodb_error,
)
from ft_archiver.domain.distributed import BatchItem
from ft_archiver.errors import StorageError
from ft_archiver.service.distributed.ports import PartDigest

PARTS_PER_ITEM = 32  # about 3 KB of digests an item


class DynamoPartDigests:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        ttl_s: int = 30 * 24 * 3600,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._ttl_s = ttl_s
        self._clock = clock
        self._sleep = sleep

    def record(self, archive: str, batch: BatchItem, number: int, digest: PartDigest) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(archive, _item_first(batch, number)),
                UpdateExpression="SET #p = :sha, expires_at = :expires",
                ExpressionAttributeNames={"#p": f"p{number}"},
                ExpressionAttributeValues={
                    ":sha": {"S": f"{digest.crc}:{digest.sha256}"},
                    ":expires": {"N": str(int(self._clock()) + self._ttl_s)},
                },
            )
        except AWS_ERRORS as exc:
            raise self._error("UpdateItem", exc) from None

    def recorded(self, archive: str, batch: BatchItem) -> dict[int, PartDigest]:
        return self.all(archive, [batch])

    def all(self, archive: str, batches: Sequence[BatchItem]) -> dict[int, PartDigest]:
        found: dict[int, PartDigest] = {}
        for item in batch_get(self._client, self._table, _keys(archive, batches), self._sleep):
            found.update(_digests(item))
        return found

    def forget(self, archive: str, batches: Sequence[BatchItem]) -> None:
        deletes = [{"DeleteRequest": {"Key": key}} for key in _keys(archive, batches)]
        batch_write(self._client, self._table, deletes, self._sleep)

    def _error(self, action: str, exc: Exception) -> StorageError:
        return dynamodb_error(self._table, action, exc)


def _item_first(batch: BatchItem, number: int) -> int:
    """The first part of the item that holds part ``number`` of ``batch``."""
    return number - (number - batch.first) % PARTS_PER_ITEM


def _keys(archive: str, batches: Sequence[BatchItem]) -> list[dict[str, Any]]:
    return [
        _key(archive, first)
        for batch in batches
        for first in range(batch.first, batch.last + 1, PARTS_PER_ITEM)
    ]


def _key(archive: str, first: int) -> dict[str, Any]:
    return {"pk": {"S": f"parts#{archive}#{first}"}}


def _digests(item: dict[str, Any]) -> dict[int, PartDigest]:
    found = {}
    for name, value in item.items():
        if name.startswith("p") and name[1:].isdigit():
            crc, _, sha256 = value["S"].partition(":")
            found[int(name[1:])] = PartDigest(int(crc), sha256)
    return found
