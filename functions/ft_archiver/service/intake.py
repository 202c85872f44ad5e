"""The webhook's front door: verify, parse, filter, apply the lookup-free rules, enqueue.

Never streams and never calls Together: it answers within milliseconds (a duplicate
racing the first delivery of its webhook-id waits at most 0.5 s for that delivery's
message id). Order matters: cheap refusals (size, media type) before the HMAC, the HMAC
before reading the JSON, and nothing is written or queued unless every check passed.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.domain.requests import ArchiveRequest, ValidatedRequest, validate_request
from ft_archiver.domain.selection import Selection, parse_selection
from ft_archiver.domain.webhook import (
    JobCompletion,
    RefusalCode,
    SeenWebhook,
    WebhookError,
    body_digest,
    check_size_and_type,
    ignore_reason,
    parse_payload,
    verify_signature,
)
from ft_archiver.errors import InvalidSelectionError, RuleError
from ft_archiver.service.ports import ArchiveQueue, WebhookLedger

# A webhook-id is remembered well past the five minutes in which its signature is valid.
WEBHOOK_ID_TTL_S = 24 * 3600
# A concurrent duplicate looks again after each of these pauses (0.5 s in all) for the
# message id the first delivery is about to record, then answers without it.
RECORDING_WAITS_S = (0.05, 0.1, 0.15, 0.2)


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # queued now
    DUPLICATE = "duplicate"  # a delivery of a webhook-id already queued: nothing more
    IGNORED = "ignored"  # well formed and signed, but not an archive request
    REFUSED = "refused"  # nothing queued; the answer's ``code`` says why


@dataclass(frozen=True)
class Answer:
    """What the intake made of one request: its outcome, the JSON the sender is told,
    and for a refusal (made by ``refusal``) its ``code``, which is also the JSON's
    ``error``. ``webhook_id`` is set once the signature verified."""

    outcome: Outcome
    body: dict[str, Any]
    code: RefusalCode | None = None
    webhook_id: str | None = field(default=None, compare=False)


def refusal(code: RefusalCode, message: str, webhook_id: str | None = None) -> Answer:
    return Answer(Outcome.REFUSED, {"error": code.value, "message": message}, code, webhook_id)


def _selection(completion: JobCompletion, valid: ValidatedRequest) -> Selection | None:
    """A webhook's selection, when it carries one: every archive of one whole job."""
    if not completion.has_selection:
        return None
    if valid.ref.checkpoint_step is not None or valid.key is not None:
        raise InvalidSelectionError(
            "checkpoints/checkpoint_types select several archives of a job: drop the step "
            "(':N' or checkpoint_step) and key, or drop the selection"
        )
    return parse_selection(completion.checkpoints, completion.checkpoint_types)


def _selection_fields(selection: Selection) -> dict[str, str]:
    steps = selection.checkpoints
    text = steps if isinstance(steps, str) else ",".join(str(step) for step in steps)
    return {"checkpoints": text, "checkpoint_types": selection.checkpoint_types.value}


class WebhookIntake:
    def __init__(
        self,
        signing_keys: Callable[[], list[bytes]],
        queue: ArchiveQueue,
        ledger: WebhookLedger,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        *,
        prefix: str = "",
    ) -> None:
        """``prefix``: ARCHIVE_PREFIX; a webhook's explicit key must be in a folder under
        it (``confine_key``), or the webhook is refused (a rule violation) and nothing is
        queued."""
        self._prefix = prefix
        self._signing_keys = signing_keys
        self._queue = queue
        self._ledger = ledger
        self._clock = clock
        self._sleep = sleep

    def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """``headers`` with lower-case names, as Lambda Function URLs deliver them."""
        now = self._clock()
        try:
            check_size_and_type(headers, body)
            webhook_id = verify_signature(self._signing_keys(), headers, body, now)
        except WebhookError as exc:  # not authenticated: no webhook-id to speak of
            return refusal(exc.code, str(exc))
        try:
            event_type, completion = parse_payload(body)
        except WebhookError as exc:
            return refusal(exc.code, str(exc), webhook_id)
        reason = ignore_reason(event_type, completion)
        if reason is not None:
            return Answer(
                Outcome.IGNORED, {"ignored": True, "reason": reason}, webhook_id=webhook_id
            )
        try:
            valid = validate_request(
                ArchiveRequest(
                    completion.id,
                    completion.checkpoint_step,
                    completion.checkpoint_type,
                    completion.key,
                ),
                confine_to=self._prefix,
            )
            selection = _selection(completion, valid)
        except RuleError as exc:
            return refusal(RefusalCode.RULE_VIOLATION, str(exc), webhook_id)
        summary: dict[str, Any] = {
            "accepted": True,
            "id": valid.ref.id,
            "checkpoint_step": valid.ref.checkpoint_step,
            "checkpoint_type": valid.requested_type,
        }
        if selection is not None:
            summary = {"accepted": True, "id": valid.ref.id, **_selection_fields(selection)}
        digest = body_digest(body)
        seen = self._ledger.claim_webhook(webhook_id, digest, WEBHOOK_ID_TTL_S)
        if seen is not None:
            return self._replay(webhook_id, digest, seen, summary)
        message = ArchiveMessage(
            webhook_id=webhook_id,
            id=valid.ref.id,
            checkpoint_step=valid.ref.checkpoint_step,
            checkpoint_type=valid.requested_type,
            key=valid.key,
            received_at=now,
            **(_selection_fields(selection) if selection is not None else {}),
        )
        try:
            message_id = self._queue.send(message)
        except BaseException:
            self._ledger.forget_webhook(webhook_id)  # so the sender's retry is not a "replay"
            raise
        self._ledger.record_webhook_message(webhook_id, message_id)
        return Answer(
            Outcome.ACCEPTED, {**summary, "message_id": message_id}, webhook_id=webhook_id
        )

    def _replay(
        self, webhook_id: str, digest: str, seen: SeenWebhook | None, summary: dict[str, Any]
    ) -> Answer:
        """Answer a delivery of a webhook-id already claimed. A concurrent one may find the
        claim before its message id is recorded: it looks again, briefly."""
        for wait_s in RECORDING_WAITS_S:
            if seen is None or seen.message_id is not None or seen.body_digest != digest:
                break
            self._sleep(wait_s)
            seen = self._ledger.seen_webhook(webhook_id)
        if seen is None:  # the first delivery could not queue and let the id go
            return refusal(
                RefusalCode.UNAVAILABLE,
                "the first delivery of this webhook-id could not be queued; try again later",
                webhook_id,
            )
        # No stored digest: claimed before digests were kept; a duplicate, as then.
        if seen.body_digest not in (None, digest):
            return refusal(
                RefusalCode.WEBHOOK_ID_REUSED,
                f"webhook-id {webhook_id!r} was already accepted with a different body; "
                "nothing was queued: send each new message with a new webhook-id",
                webhook_id,
            )
        answer = {**summary, "duplicate": True, "message_id": seen.message_id}
        if seen.message_id is None:
            answer["recording"] = True  # the first delivery is still queuing or recording
        return Answer(Outcome.DUPLICATE, answer, webhook_id=webhook_id)
