"""The poller's records in the state table (DynamoDB): one item per job and selection,
and one per selection saying its first run's baseline is recorded.

Keys all start ``poll#`` (the poller's IAM policy allows only those): ``poll#baseline#
{selection}`` and ``poll#job#{selection}#{job id}``. A job item is ``claimed`` (with a
lease) while a tick enqueues its archives, then ``enqueued``, ``baseline`` or
``skipped``; none of them expire, so a job is handled once per selection for good.

One exception: releases before 0.2 applied the rules to the list entry, which Together
documents without a training type, and recorded such jobs as skipped for "training
type None". Those records are taken up again (``RETAKEN_SKIP``), so a stack deployed
before the change catches up by itself on its next tick.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.adapters.dynamodb import (
    DynamoDBClient,
    batch_get,
    batch_write,
    dynamodb_error,
)
from ft_archiver.errors import StorageError

CLAIMED, ENQUEUED, BASELINE, SKIPPED = "claimed", "enqueued", "baseline", "skipped"
# The reason earlier releases recorded for a list entry without a training type.
RETAKEN_SKIP = "has training type None"


def job_key(selection: str, job_id: str) -> str:
    return f"poll#job#{selection}#{job_id}"


class DynamoPollLedger:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._sleep = sleep

    def baseline_recorded(self, selection: str) -> bool:
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": f"poll#baseline#{selection}"}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("GetItem", exc) from None
        return "Item" in response

    def record_baseline(self, selection: str, job_ids: Sequence[str]) -> None:
        """Mark jobs as history (not archived), then the baseline as recorded; a tick that
        dies half-way leaves the baseline unrecorded and the next one writes it again."""
        now = str(int(self._clock()))
        items = [
            {"pk": {"S": job_key(selection, job_id)}, "status": {"S": BASELINE},
             "recorded_at": {"N": now}}
            for job_id in job_ids
        ]  # fmt: skip
        puts: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
        batch_write(self._client, self._table, puts, self._sleep)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"pk": {"S": f"poll#baseline#{selection}"}, "recorded_at": {"N": now},
                      "jobs": {"N": str(len(job_ids))}},
            )  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise self._error("PutItem", exc) from None

    def known_jobs(self, selection: str, job_ids: Iterable[str]) -> set[str]:
        """Which of these jobs are handled or held by a live claim; a claim whose lease ran
        out (its tick crashed between enqueue and record) counts as not handled."""
        wanted = list(dict.fromkeys(job_ids))
        known: set[str] = set()
        prefix = job_key(selection, "")
        now = self._clock()
        keys = [{"pk": {"S": job_key(selection, job_id)}} for job_id in wanted]
        for item in batch_get(self._client, self._table, keys, self._sleep):
            status = item["status"]["S"]
            expired = status == CLAIMED and float(item["lease_until"]["N"]) < now
            retaken = status == SKIPPED and RETAKEN_SKIP in item.get("reason", {}).get("S", "")
            if not (expired or retaken):
                known.add(item["pk"]["S"].removeprefix(prefix))
        return known

    def claim_job(self, selection: str, job_id: str, lease_s: float) -> bool:
        """True for exactly one caller; False if the job is handled or another tick holds
        a live claim. An expired claim (a tick that crashed) can be taken over, and so can
        a skip recorded for a missing training type (``RETAKEN_SKIP``)."""
        now = self._clock()
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"pk": {"S": job_key(selection, job_id)}, "status": {"S": CLAIMED},
                      "lease_until": {"N": f"{now + lease_s:.3f}"}},
                ConditionExpression="attribute_not_exists(pk) OR (#s = :claimed AND "
                "lease_until < :now) OR (#s = :skipped AND contains(#r, :retaken))",
                ExpressionAttributeNames={"#s": "status", "#r": "reason"},
                ExpressionAttributeValues={":claimed": {"S": CLAIMED}, ":now": {"N": f"{now:.3f}"},
                                           ":skipped": {"S": SKIPPED},
                                           ":retaken": {"S": RETAKEN_SKIP}},
            )  # fmt: skip
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise self._error("PutItem", exc) from None
        except BotoCoreError as exc:
            raise self._error("PutItem", exc) from None
        return True

    def record_enqueued(self, selection: str, job_id: str, archives: int) -> None:
        self._settle(selection, job_id, ENQUEUED, {"archives": {"N": str(archives)}})

    def record_skipped(self, selection: str, job_id: str, reason: str) -> None:
        self._settle(selection, job_id, SKIPPED, {"reason": {"S": reason[:1000]}})

    def release_job(self, selection: str, job_id: str) -> None:
        """Drop a claim whose archives were not enqueued, so the next tick retries at once."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": job_key(selection, job_id)}},
                ConditionExpression="#s = :claimed",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":claimed": {"S": CLAIMED}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise self._error("DeleteItem", exc) from None
        except BotoCoreError as exc:
            raise self._error("DeleteItem", exc) from None

    # -- plumbing ----------------------------------------------------------------------

    def _settle(self, selection: str, job_id: str, status: str, extra: dict[str, Any]) -> None:
        item = {"pk": {"S": job_key(selection, job_id)}, "status": {"S": status},
                "recorded_at": {"N": str(int(self._clock()))}, **extra}  # fmt: skip
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("PutItem", exc) from None

    def _error(self, action: str, exc: Exception) -> StorageError:
        return dynamodb_error(self._table, action, exc)
