"""Standard Webhooks verification and payload parsing, pure; then the intake's answers
to replayed webhook-ids, against the in-memory ledger and queue."""

import base64
import hashlib
import json
from collections.abc import Callable

import pytest

from ft_archiver.domain.webhook import (
    MalformedJsonError,
    PayloadTooLargeError,
    RefusalCode,
    SchemaError,
    SeenWebhook,
    SignatureError,
    UnsupportedMediaTypeError,
    body_digest,
    check_size_and_type,
    decode_secret,
    ignore_reason,
    parse_payload,
    sign,
    verify_signature,
)
from ft_archiver.service.intake import RECORDING_WAITS_S, Answer, Outcome, WebhookIntake
from tests.support.fakes import FakeLedger, FakeQueue

SECRET = "whsec_" + base64.b64encode(b"unit-test-secret").decode()
KEY = decode_secret(SECRET)
NOW = 1_800_000_000
BODY = b'{"id": "ft-abc"}'


def headers(body: bytes = BODY, timestamp: int = NOW, webhook_id: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(KEY, webhook_id, timestamp, body),
    }


def test_a_correct_signature_returns_the_webhook_id() -> None:
    assert verify_signature([KEY], headers(), BODY, NOW) == "msg_1"


def test_secret_without_prefix_is_the_same_key() -> None:
    assert decode_secret(SECRET.removeprefix("whsec_")) == KEY


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", ""])
def test_bad_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        decode_secret(bad)


def test_any_of_several_signatures_may_match() -> None:
    sent = headers()
    sent["webhook-signature"] = "v1,bm9wZQ== v2,ignored " + sent["webhook-signature"]
    assert verify_signature([KEY], sent, BODY, NOW) == "msg_1"


def test_any_of_several_keys_may_match() -> None:
    other = decode_secret("whsec_" + base64.b64encode(b"old").decode())
    assert verify_signature([other, KEY], headers(), BODY, NOW) == "msg_1"


@pytest.mark.parametrize("skew", [-301, 301, 10**6])
def test_timestamps_outside_five_minutes_are_refused(skew: int) -> None:
    with pytest.raises(SignatureError, match="at most 300 s"):
        verify_signature([KEY], headers(timestamp=NOW + skew), BODY, NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_within_five_minutes_pass(skew: int) -> None:
    assert verify_signature([KEY], headers(timestamp=NOW + skew), BODY, NOW)


@pytest.mark.parametrize("stamp", ["1.5e9", "-5", "soon", "١٨٠٠٠٠٠٠٠٠", "9" * 20])
def test_malformed_timestamps_are_refused(stamp: str) -> None:
    sent = headers()
    sent["webhook-timestamp"] = stamp
    with pytest.raises(SignatureError, match="whole seconds"):
        verify_signature([KEY], sent, BODY, NOW)


def test_another_body_does_not_verify() -> None:
    with pytest.raises(SignatureError, match="no valid v1 signature"):
        verify_signature([KEY], headers(), b'{"id": "ft-abd"}', NOW)


def test_another_id_does_not_verify() -> None:
    sent = headers()
    sent["webhook-id"] = "msg_2"
    with pytest.raises(SignatureError):
        verify_signature([KEY], sent, BODY, NOW)


def test_missing_headers_are_named() -> None:
    with pytest.raises(SignatureError, match="webhook-signature"):
        verify_signature([KEY], {"webhook-id": "x", "webhook-timestamp": str(NOW)}, BODY, NOW)


def test_size_and_media_type() -> None:
    check_size_and_type({"content-type": "application/json; charset=utf-8"}, BODY)
    with pytest.raises(PayloadTooLargeError):
        check_size_and_type({"content-type": "application/json"}, b"x" * (64 * 1024 + 1))
    with pytest.raises(UnsupportedMediaTypeError):
        check_size_and_type({"content-type": "application/x-www-form-urlencoded"}, BODY)
    with pytest.raises(UnsupportedMediaTypeError):
        check_size_and_type({}, BODY)


def test_flat_and_enveloped_payloads() -> None:
    kind, flat = parse_payload(b'{"id": "ft-a", "checkpoint_step": 3, "extra": 1}')
    assert kind is None
    assert (flat.id, flat.checkpoint_step) == ("ft-a", 3)
    kind, wrapped = parse_payload(b'{"type": "fine_tuning.job.succeeded", "data": {"id": "ft-b"}}')
    assert kind == "fine_tuning.job.succeeded"
    assert wrapped.id == "ft-b"


@pytest.mark.parametrize(
    ("body", "error", "text"),
    [
        (b"\xff\xfe", MalformedJsonError, "UTF-8"),
        (b'{"id": NaN}', MalformedJsonError, "NaN is not JSON"),
        (b"[" * 100_000, MalformedJsonError, "nests too deeply"),
        (b'{"id": "a", "id": "b"}', MalformedJsonError, "duplicate JSON key 'id'"),
        (b'"ft-a"', SchemaError, "JSON object"),
        (b'{"id": ""}', SchemaError, "'id'"),
        (b'{"id": "ft-a", "checkpoint_step": 1.5}', SchemaError, "'checkpoint_step'"),
        (b'{"type": 5, "data": {"id": "ft-a"}}', SchemaError, "'type'"),
        (b'{"data": {"id": 5}}', SchemaError, "'type'"),
    ],
)
def test_bad_payloads(body: bytes, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        parse_payload(body)


def test_what_is_ignored() -> None:
    _, done = parse_payload(b'{"id": "ft-a", "status": "COMPLETED"}')
    assert ignore_reason(None, done) is None
    assert ignore_reason("fine_tuning.job.completed", done) is None
    assert "not a completed" in (ignore_reason("fine_tuning.job.failed", done) or "")
    _, failed = parse_payload(b'{"id": "ft-a", "status": "failed"}')
    assert "'failed'" in (ignore_reason(None, failed) or "")


@pytest.mark.parametrize(
    "event_type",
    ["fine_tuning.job.completed", "Fine_Tuning.Job.Completed", "FINE_TUNING.JOB.SUCCEEDED"],
)
def test_event_type_is_matched_without_regard_to_case(event_type: str) -> None:
    _, done = parse_payload(b'{"id": "ft-a", "status": "Completed"}')
    assert ignore_reason(event_type, done) is None


def test_a_differently_cased_other_event_type_is_still_ignored() -> None:
    _, done = parse_payload(b'{"id": "ft-a"}')
    reason = ignore_reason("Fine_Tuning.Job.Cancelled", done)
    assert reason == "event type 'Fine_Tuning.Job.Cancelled' is not a completed fine-tune"


# -- the intake: one webhook-id, several deliveries ------------------------------------

OTHER_BODY = b'{"id": "ft-abd"}'


def deliver(service: WebhookIntake, body: bytes, webhook_id: str = "msg_1") -> Answer:
    return service.handle(
        {"content-type": "application/json", **headers(body, NOW, webhook_id)}, body
    )


def intake(
    sleep: Callable[[float], None] = lambda _: None,
) -> tuple[WebhookIntake, FakeQueue, FakeLedger]:
    queue, ledger = FakeQueue(), FakeLedger()
    service = WebhookIntake(lambda: [KEY], queue, ledger, clock=lambda: NOW, sleep=sleep)
    return service, queue, ledger


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("elsewhere/x.tar.zst", "outside the archive prefix 'models/'"),
        ("models/acme--other-job.tar.zst", "top level of the archive prefix 'models/'"),
    ],
)
def test_a_key_outside_a_folder_under_the_prefix_is_refused(key: str, reason: str) -> None:
    queue, ledger = FakeQueue(), FakeLedger()
    service = WebhookIntake(lambda: [KEY], queue, ledger, clock=lambda: NOW, prefix="models/")
    answer = deliver(service, json.dumps({"id": "ft-abc", "key": key}).encode())
    assert (answer.code, answer.body["error"]) == (RefusalCode.RULE_VIOLATION, "rule_violation")
    assert reason in answer.body["message"]
    assert queue.messages == []
    assert ledger.seen == {}


def test_a_key_in_a_folder_under_the_prefix_is_queued() -> None:
    queue, ledger = FakeQueue(), FakeLedger()
    service = WebhookIntake(lambda: [KEY], queue, ledger, clock=lambda: NOW, prefix="models/")
    answer = deliver(service, b'{"id": "ft-abc", "key": "models/custom/x.tar.zst"}')
    assert answer.outcome is Outcome.ACCEPTED
    assert [message.key for message in queue.messages] == ["models/custom/x.tar.zst"]


def test_the_body_digest_is_the_sha256_of_the_raw_bytes() -> None:
    assert body_digest(BODY) == hashlib.sha256(BODY).hexdigest()
    assert body_digest(BODY) != body_digest(BODY + b" ")


def test_a_first_delivery_claims_the_id_with_its_body_digest() -> None:
    service, queue, ledger = intake()
    answer = deliver(service, BODY)
    assert (answer.outcome, answer.body["message_id"]) == (Outcome.ACCEPTED, "m-1")
    assert ledger.seen["msg_1"] == SeenWebhook(body_digest(BODY), "m-1")
    assert len(queue.messages) == 1


def test_a_replay_of_the_same_body_is_a_duplicate_with_the_first_message_id() -> None:
    service, queue, _ = intake()
    deliver(service, BODY)
    answer = deliver(service, BODY)
    assert answer.outcome is Outcome.DUPLICATE
    assert answer.body["duplicate"] is True
    assert answer.body["message_id"] == "m-1"
    assert answer.body["id"] == "ft-abc"
    assert len(queue.messages) == 1


def test_the_same_id_with_another_body_is_refused_and_nothing_is_queued() -> None:
    service, queue, ledger = intake()
    deliver(service, BODY)
    answer = deliver(service, OTHER_BODY)
    assert answer.code is RefusalCode.WEBHOOK_ID_REUSED
    assert answer.body["error"] == "webhook_id_reused"
    assert "'msg_1'" in answer.body["message"]
    assert "ft-abd" not in answer.body["message"]  # the body stays out of answers and logs
    assert len(queue.messages) == 1
    assert ledger.seen["msg_1"] == SeenWebhook(body_digest(BODY), "m-1")  # the claim stands
    assert deliver(service, BODY).body["message_id"] == "m-1"


def test_an_id_claimed_before_digests_were_kept_is_a_duplicate() -> None:
    service, queue, ledger = intake()
    ledger.seen["msg_1"] = SeenWebhook(None, "m-0")
    answer = deliver(service, OTHER_BODY)
    assert (answer.outcome, answer.body["duplicate"], answer.body["message_id"]) == (
        Outcome.DUPLICATE,
        True,
        "m-0",
    )
    assert queue.messages == []


class FirstDelivery:
    """A first delivery of msg_1 that has claimed the id and queued its message but not
    yet recorded the message id; ``on_sleep`` says what it does while a duplicate waits."""

    def __init__(self, on_sleep: Callable[[FakeLedger, int], None]) -> None:
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep
        self.service, self.queue, self.ledger = intake(sleep=self.sleep)
        assert self.ledger.claim_webhook("msg_1", body_digest(BODY), 60) is None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.on_sleep(self.ledger, len(self.sleeps))


def test_a_concurrent_duplicate_waits_for_the_first_message_id() -> None:
    def record_on_second_pause(ledger: FakeLedger, pauses: int) -> None:
        if pauses == 2:
            ledger.record_webhook_message("msg_1", "m-first")

    first = FirstDelivery(record_on_second_pause)
    answer = deliver(first.service, BODY)
    assert answer.outcome is Outcome.DUPLICATE
    assert (answer.body["duplicate"], answer.body["message_id"]) == (True, "m-first")
    assert "recording" not in answer.body
    assert first.sleeps == list(RECORDING_WAITS_S[:2])
    assert first.queue.messages == []


def test_a_concurrent_duplicate_says_recording_when_the_id_is_still_unknown() -> None:
    first = FirstDelivery(lambda ledger, pauses: None)
    answer = deliver(first.service, BODY)
    assert answer.outcome is Outcome.DUPLICATE
    assert answer.body["duplicate"] is True
    assert answer.body["message_id"] is None
    assert answer.body["recording"] is True
    assert first.sleeps == list(RECORDING_WAITS_S)
    assert sum(first.sleeps) <= 0.5  # the webhook answers well within a second
    assert first.queue.messages == []


def test_a_concurrent_duplicate_of_a_first_delivery_that_failed_is_unavailable() -> None:
    first = FirstDelivery(lambda ledger, pauses: ledger.forget_webhook("msg_1"))
    answer = deliver(first.service, BODY)
    assert (answer.code, answer.body["error"]) == (RefusalCode.UNAVAILABLE, "unavailable")
    assert first.sleeps == [RECORDING_WAITS_S[0]]
    assert first.queue.messages == []
    assert first.ledger.seen == {}  # so the sender's retry is a first delivery again


def test_a_concurrent_delivery_of_another_body_is_refused_without_waiting() -> None:
    first = FirstDelivery(lambda ledger, pauses: None)
    answer = deliver(first.service, OTHER_BODY)
    assert (answer.code, answer.body["error"]) == (
        RefusalCode.WEBHOOK_ID_REUSED,
        "webhook_id_reused",
    )
    assert first.sleeps == []
    assert first.queue.messages == []


def test_a_replay_after_the_message_id_is_recorded_does_not_wait() -> None:
    sleeps: list[float] = []
    service, _, _ = intake(sleep=sleeps.append)
    deliver(service, BODY)
    assert deliver(service, BODY).body["message_id"] == "m-1"
    assert sleeps == []


# -- a selection: every archive of the job ----------------------------------------------


def test_a_selection_is_queued_for_the_archiver_to_expand() -> None:
    service, queue, _ = intake()
    body = (
        b'{"id": "ft-abc", "status": "completed", "checkpoints": "ALL", "checkpoint_types": "all"}'
    )
    answer = deliver(service, body)
    assert answer.outcome is Outcome.ACCEPTED
    assert (answer.body["checkpoints"], answer.body["checkpoint_types"]) == ("all", "all")
    [message] = queue.messages
    assert message.has_selection
    assert (message.checkpoints, message.checkpoint_types) == ("all", "all")


def test_listed_steps_are_a_selection_too() -> None:
    service, queue, _ = intake()
    answer = deliver(service, b'{"id": "ft-abc", "checkpoints": [200, 100]}')
    assert answer.outcome is Outcome.ACCEPTED
    assert queue.messages[0].checkpoints == "100,200"
    assert queue.messages[0].checkpoint_types == "default"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"id": "ft-abc", "checkpoints": "latest"}', "not 'final', 'all'"),
        (b'{"id": "ft-abc", "checkpoint_types": "lora"}', "default, merged, adapter, all"),
        (b'{"id": "ft-abc:100", "checkpoints": "all"}', "drop the step"),
        (b'{"id": "ft-abc", "checkpoints": "all", "key": "a/b.tar.zst"}', "and key"),
    ],
)
def test_a_bad_selection_is_refused_and_nothing_is_queued(body: bytes, text: str) -> None:
    service, queue, _ = intake()
    answer = deliver(service, body)
    assert (answer.code, answer.body["error"]) == (RefusalCode.RULE_VIOLATION, "rule_violation")
    assert text in answer.body["message"]
    assert queue.messages == []
