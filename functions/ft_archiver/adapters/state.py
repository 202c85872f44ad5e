"""The state table (DynamoDB): webhook-ids seen, and one ledger entry per archive.

Every write is conditional, so two Lambdas racing on the same item cannot both win:
``claim_archive`` succeeds for exactly one caller until that caller finishes, releases,
or lets its lease expire.
"""

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.adapters.dynamodb import DynamoDBClient, dynamodb_error
from ft_archiver.domain.activity import ArchiveActivity
from ft_archiver.domain.webhook import SeenWebhook
from ft_archiver.errors import ArchiveInProgressError, StorageError
from ft_archiver.service.resume import Claim, FinishedArchive, FreshStart, Resume, SavedProgress

RUNNING, DONE, FAILED, PAUSED = "running", "done", "failed", "paused"
# Reserved words of DynamoDB among the attributes: named in expressions by placeholder.
NAMES = {"#s": "status", "#e": "error"}


def _plan_of(item: dict[str, Any], owner: str) -> dict[str, Any] | None:
    """The plan an archive's item holds under ``owner``'s lease, if any."""
    if item.get("owner", {}).get("S") != owner or "plan" not in item:
        return None
    plan: dict[str, Any] = json.loads(item["plan"]["S"])
    return plan


def _seen(item: dict[str, Any]) -> SeenWebhook:
    return SeenWebhook(item.get("body_sha256", {}).get("S"), item.get("message_id", {}).get("S"))


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoStateStore:
    def __init__(
        self, client: DynamoDBClient, table_name: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    # -- webhooks ----------------------------------------------------------------------

    def claim_webhook(self, webhook_id: str, body_digest: str, ttl_s: int) -> SeenWebhook | None:
        """None the first time a webhook-id is seen: it is now claimed with this body's
        digest. For a replay, what the first delivery stored, read in the same
        conditional PutItem, so no other delivery can slip in between."""
        now = int(self._clock())
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"webhook#{webhook_id}"},
                    "body_sha256": {"S": body_digest},
                    "received_at": {"N": str(now)},
                    "expires_at": {"N": str(now + ttl_s)},
                },
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise self._error("PutItem", exc) from None
            item = exc.response.get("Item")  # the first delivery's, by ALL_OLD
            if not isinstance(item, dict):
                raise self._error("PutItem", exc) from None
            return _seen(item)
        except BotoCoreError as exc:
            raise self._error("PutItem", exc) from None
        return None

    def record_webhook_message(self, webhook_id: str, message_id: str) -> None:
        self._update(f"webhook#{webhook_id}", "SET message_id = :m", {":m": {"S": message_id}})

    def seen_webhook(self, webhook_id: str) -> SeenWebhook | None:
        item = self._get(f"webhook#{webhook_id}")
        return _seen(item) if item else None

    def forget_webhook(self, webhook_id: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table, Key={"pk": {"S": f"webhook#{webhook_id}"}}
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("DeleteItem", exc) from None

    # -- archives ----------------------------------------------------------------------

    def claim_archive(
        self, key: str, owner: str, lease_s: float, ttl_s: int, reopen: bool = False
    ) -> Claim:
        """Take the lease: a fresh start, the progress an earlier invocation saved, or a
        finished archive (nothing to do but maybe publish; with ``reopen``, a fresh
        start over it: finishing removed its progress). ArchiveInProgressError: another
        caller holds a live lease. Only a finished archive has a detail and a published
        flag, so removing them is a no-op on every other claim."""
        now = self._clock()
        taken = "#s IN (:failed, :paused, :done)" if reopen else "#s IN (:failed, :paused)"
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"archive#{key}"}},
                UpdateExpression="SET #s = :running, #o = :owner, lease_until = :until, "
                "expires_at = :expires REMOVE #plan, #e, detail, published",
                ConditionExpression=(
                    f"attribute_not_exists(pk) OR {taken} OR (#s = :running AND lease_until < :now)"
                ),
                ExpressionAttributeNames={
                    "#s": "status",
                    "#o": "owner",
                    "#plan": "plan",
                    "#e": "error",
                },
                ExpressionAttributeValues={
                    ":running": {"S": RUNNING},
                    ":failed": {"S": FAILED},
                    ":paused": {"S": PAUSED},
                    **({":done": {"S": DONE}} if reopen else {}),
                    ":owner": {"S": owner},
                    ":until": {"N": f"{now + lease_s:.3f}"},
                    ":expires": {"N": str(int(now) + ttl_s)},
                    ":now": {"N": f"{now:.3f}"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise self._error("UpdateItem", exc) from None
        except BotoCoreError as exc:
            raise self._error("UpdateItem", exc) from None
        else:
            stored = response.get("Attributes", {}).get("progress")
            progress = SavedProgress.from_document(json.loads(stored["S"])) if stored else None
            return Resume(progress) if progress else FreshStart()
        item = self._get(f"archive#{key}")
        if item and item["status"]["S"] == DONE:
            return FinishedArchive(
                json.loads(item["detail"]["S"]), item.get("published", {}).get("BOOL", False)
            )
        raise ArchiveInProgressError(
            "another archiver is working on this request; it will be retried"
        )

    def save_progress(self, key: str, owner: str, progress: SavedProgress) -> None:
        self._update(
            f"archive#{key}",
            "SET progress = :p, seen_at = :seen",
            {
                ":p": {"S": json.dumps(progress.to_document())},
                ":seen": self._now(),
                ":owner": {"S": owner},
            },
            condition="#o = :owner",
        )

    def touch_archive(self, key: str, owner: str) -> None:
        self._update(
            f"archive#{key}",
            "SET seen_at = :seen",
            {":seen": self._now(), ":owner": {"S": owner}},
            condition="#o = :owner",
        )

    def describe_archive(self, key: str, owner: str, activity: ArchiveActivity) -> None:
        """A fresh start starts the archive's clock; an invocation that resumes keeps it."""
        started = "if_not_exists(started_at, :seen)" if activity.resumed else ":seen"
        self._update(
            f"archive#{key}",
            f"SET activity = :a, seen_at = :seen, started_at = {started}",
            {
                ":a": {"S": json.dumps(activity.to_document())},
                ":seen": self._now(),
                ":owner": {"S": owner},
            },
            condition="#o = :owner",
        )

    def pause_archive(self, key: str, owner: str) -> None:
        """Hand the archive on: the next invocation may claim it at once."""
        self._update(
            f"archive#{key}",
            "SET #s = :paused",
            {":paused": {"S": PAUSED}, ":owner": {"S": owner}},
            condition="#o = :owner",
        )

    def extend_lease(self, key: str, owner: str, lease_s: float) -> None:
        """Keep the archive ours for ``lease_s`` more (handed to a state machine)."""
        self._update(
            f"archive#{key}",
            "SET lease_until = :until",
            {":until": {"N": f"{self._clock() + lease_s:.3f}"}, ":owner": {"S": owner}},
            condition="#o = :owner",
        )

    def record_plan(self, key: str, owner: str, plan: dict[str, Any]) -> dict[str, Any]:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"archive#{key}"}},
                UpdateExpression="SET #plan = :plan",
                ConditionExpression="#o = :owner AND attribute_not_exists(#plan)",
                ExpressionAttributeNames={"#o": "owner", "#plan": "plan"},
                ExpressionAttributeValues={
                    ":plan": {"S": json.dumps(plan)},
                    ":owner": {"S": owner},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            item = exc.response.get("Item") if _conditional_failed(exc) else None  # by ALL_OLD
            earlier = _plan_of(item, owner) if isinstance(item, dict) else None
            if earlier is None:  # not a plan first: the lease is another owner's, or worse
                raise self._error("UpdateItem", exc) from None
            return earlier
        except BotoCoreError as exc:
            raise self._error("UpdateItem", exc) from None
        return plan

    def recorded_plan(self, key: str, owner: str) -> dict[str, Any] | None:
        item = self._get(f"archive#{key}")
        return _plan_of(item, owner) if item is not None else None

    def finish_archive(self, key: str, owner: str, detail: dict[str, Any]) -> None:
        self._update(
            f"archive#{key}",
            "SET #s = :done, detail = :d, published = :false, seen_at = :seen REMOVE progress",
            {
                ":done": {"S": DONE},
                ":d": {"S": json.dumps(detail)},
                ":false": {"BOOL": False},
                ":seen": self._now(),
                ":owner": {"S": owner},
            },
            condition="#o = :owner",
        )

    def archive_finished(self, key: str) -> bool:
        """Whether the archive of this idempotency key is done (for backfill's skip)."""
        item = self._get(f"archive#{key}")
        return item is not None and item.get("status", {}).get("S") == DONE

    def mark_published(self, key: str) -> None:
        self._update(f"archive#{key}", "SET published = :true", {":true": {"BOOL": True}})

    def release_archive(self, key: str, owner: str, error: str) -> None:
        """The attempt failed and its upload was aborted: no progress survives it."""
        self._update(
            f"archive#{key}",
            "SET #s = :failed, #e = :error, seen_at = :seen REMOVE progress",
            {
                ":failed": {"S": FAILED},
                ":error": {"S": error},
                ":seen": self._now(),
                ":owner": {"S": owner},
            },
            condition="#o = :owner",
        )

    # -- plumbing ----------------------------------------------------------------------

    def _get(self, pk: str) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": pk}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("GetItem", exc) from None
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _update(
        self,
        pk: str,
        expression: str,
        values: dict[str, Any],
        condition: str | None = None,
    ) -> None:
        names = {name: attribute for name, attribute in NAMES.items() if name in expression}
        extra: dict[str, Any] = {}
        if condition:
            names["#o"] = "owner"
            extra["ConditionExpression"] = condition
        if names:
            extra["ExpressionAttributeNames"] = names
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": pk}},
                UpdateExpression=expression,
                ExpressionAttributeValues=values,
                **extra,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error("UpdateItem", exc) from None

    def _now(self) -> dict[str, str]:
        return {"N": f"{self._clock():.3f}"}

    def _error(self, action: str, exc: Exception) -> StorageError:
        return dynamodb_error(self._table, action, exc)
