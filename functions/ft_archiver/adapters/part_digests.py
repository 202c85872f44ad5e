"""The SHA-256 of each finished part of a distributed archive, in the state table.

One item per batch, ``parts#{archive}#{first part}``, one attribute per part (``p{n}``,
``{crc}:{sha256 hex}``):
the workers of different batches never write the same item, and a batch's item stays
far below DynamoDB's 400 KB (a 64-character digest per part). Items expire with the
table's TTL like every other item, and Finish and Abort delete them.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.adapters.dynamodb import (
    DynamoDBClient,
    batch_get,
    batch_write,
    dynamodb_error,
)
from ft_archiver.domain.distributed import BatchItem
from ft_archiver.errors import StorageError
from ft_archiver.service.distributed.ports import PartDigest


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
                Key=_key(archive, batch),
                UpdateExpression="SET #p = :sha, expires_at = :expires",
                ExpressionAttributeNames={"#p": f"p{number}"},
                ExpressionAttributeValues={
                    ":sha": {"S": f"{digest.crc}:{digest.sha256}"},
                    ":expires": {"N": str(int(self._clock()) + self._ttl_s)},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("UpdateItem", exc) from None

    def recorded(self, archive: str, batch: BatchItem) -> dict[int, PartDigest]:
        try:
            item = self._client.get_item(
                TableName=self._table, Key=_key(archive, batch), ConsistentRead=True
            ).get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise self._error("GetItem", exc) from None
        return _digests(item)

    def all(self, archive: str, batches: Sequence[BatchItem]) -> dict[int, PartDigest]:
        found: dict[int, PartDigest] = {}
        keys = [_key(archive, batch) for batch in batches]
        for item in batch_get(self._client, self._table, keys, self._sleep):
            found.update(_digests(item))
        return found

    def forget(self, archive: str, batches: Sequence[BatchItem]) -> None:
        deletes = [{"DeleteRequest": {"Key": _key(archive, batch)}} for batch in batches]
        batch_write(self._client, self._table, deletes, self._sleep)

    def _error(self, action: str, exc: Exception) -> StorageError:
        return dynamodb_error(self._table, action, exc)


def _key(archive: str, batch: BatchItem) -> dict[str, Any]:
    return {"pk": {"S": f"parts#{archive}#{batch.first}"}}


def _digests(item: dict[str, Any]) -> dict[int, PartDigest]:
    found = {}
    for name, value in item.items():
        if name.startswith("p") and name[1:].isdigit():
            crc, _, sha256 = value["S"].partition(":")
            found[int(name[1:])] = PartDigest(int(crc), sha256)
    return found
