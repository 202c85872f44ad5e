"""Property-based: whatever arrives, the intake refuses it with a reason, ignores it, or
accepts a request that passes every rule; it is never unavailable (a 5xx), and nothing
is queued unless accepted."""

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ft_archiver.domain.checkpoints import PLAIN_ID, parse_job_ref
from ft_archiver.domain.requests import ArchiveRequest, validate_request
from ft_archiver.domain.webhook import RefusalCode, decode_secret, sign
from ft_archiver.errors import RuleError
from ft_archiver.service.intake import Answer, Outcome, WebhookIntake
from tests.support.fakes import FakeLedger, FakeQueue

SECRET = "whsec_" + base64.b64encode(b"property-test-secret").decode()
KEY = decode_secret(SECRET)
NOW = 1_800_000_000
PREFIX = "models/"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def intake() -> tuple[WebhookIntake, FakeQueue, FakeLedger]:
    queue, ledger = FakeQueue(), FakeLedger()
    service = WebhookIntake(lambda: [KEY], queue, ledger, clock=lambda: NOW, prefix=PREFIX)
    return service, queue, ledger


def signed(body: bytes, webhook_id: str = "msg_p") -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(NOW),
        "webhook-signature": sign(KEY, webhook_id, NOW, body),
    }


def check(answer: Answer, queue: FakeQueue, ledger: FakeLedger) -> None:
    assert answer.code is not RefusalCode.UNAVAILABLE
    if answer.outcome is Outcome.ACCEPTED:
        assert len(queue.messages) == 1
        message = queue.messages[0]
        validate_request(
            ArchiveRequest(
                message.id, message.checkpoint_step, message.checkpoint_type, message.key
            ),
            confine_to=PREFIX,
        )
        return
    assert queue.messages == []
    if answer.outcome is Outcome.REFUSED:
        assert ledger.seen == {}
        assert answer.body["error"] == answer.code
        assert answer.body["message"].strip()


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"ft-[0-9a-f-]{1,40}(:[0-9]{1,25})?", fullmatch=True),
    st.builds(lambda s: f"ft-{s}", st.text(max_size=40)),
)
payloads = st.fixed_dictionaries(
    {"id": ids | json_values},
    optional={
        "status": st.sampled_from(["completed", "failed", "COMPLETED"]) | json_values,
        "checkpoint_step": st.integers(min_value=-(2**70), max_value=2**70) | json_values,
        "checkpoint_type": st.sampled_from(["default", "Merged", "ADAPTER", "lora"]) | json_values,
        "key": st.text(max_size=1100)
        | st.builds(lambda rest: PREFIX + rest, st.text(max_size=60))
        | json_values,
    },
)


@SETTINGS
@given(st.binary(max_size=2048))
def test_any_signed_bytes(body: bytes) -> None:
    service, queue, ledger = intake()
    check(service.handle(signed(body), body), queue, ledger)


@SETTINGS
@given(payloads, st.booleans())
def test_any_signed_payload(payload: dict[str, Any], enveloped: bool) -> None:
    document = {"type": "fine_tuning.job.completed", "data": payload} if enveloped else payload
    body = json.dumps(document).encode()
    service, queue, ledger = intake()
    check(service.handle(signed(body), body), queue, ledger)


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["content-type", "webhook-id", "webhook-timestamp", "webhook-signature"]),
        st.text(max_size=120),
    )
)
def test_any_headers_without_a_valid_signature(headers: dict[str, str]) -> None:
    body = b'{"id": "ft-abc"}'
    service, queue, ledger = intake()
    answer = service.handle(headers, body)
    assert answer.code in (RefusalCode.INVALID_SIGNATURE, RefusalCode.UNSUPPORTED_MEDIA_TYPE)
    check(answer, queue, ledger)


@SETTINGS
@given(ids, st.none() | st.integers(min_value=-(2**40), max_value=2**40))
def test_ids_either_parse_cleanly_or_raise_a_rule_error(text: str, step: int | None) -> None:
    message = ""
    try:
        ref = parse_job_ref(text, step)
    except RuleError as exc:
        message = str(exc)
    else:
        assert PLAIN_ID.fullmatch(ref.id)
        assert ref.checkpoint_step is None or 0 <= ref.checkpoint_step < 2**31
        return
    assert message


def test_named_bad_inputs() -> None:
    """The cases a reviewer would try first, each refused with its reason."""
    rule, schema = RefusalCode.RULE_VIOLATION, RefusalCode.INVALID_PAYLOAD
    cases: list[tuple[dict[str, Any], RefusalCode, str]] = [
        ({"id": "ft-abc", "key": "../../etc/passwd"}, rule, "'..'"),
        ({"id": "ft-abc", "key": "models/\u0000x"}, rule, "control characters"),
        ({"id": "ft-abc", "key": "/abs"}, rule, "starts with '/'"),
        ({"id": "ft-abc", "key": "other/x.tar.zst"}, rule, "outside the archive prefix"),
        ({"id": "ft-abc", "key": "models/acme--m.tar.zst"}, rule, "top level"),
        ({"id": "ft-x&checkpoint=adapter"}, rule, "not a fine-tune ID"),
        ({"id": "ft-abc?ft_id=ft-other"}, rule, "not a fine-tune ID"),
        ({"id": "ft-abc", "checkpoint_step": 10**30}, rule, "out of range"),
        ({"id": "ft-abc:99999999999999999999"}, rule, "out of range"),
        ({"id": "ft-ä"}, rule, "not a fine-tune ID"),
        ({"id": "ft-abc", "checkpoint_type": "ADAPTER\u200b"}, rule, "invalid checkpoint type"),
        ({"id": "ft-abc", "checkpoint_step": "5"}, schema, "'checkpoint_step'"),
    ]
    for payload, code, text in cases:
        service, queue, _ = intake()
        body = json.dumps(payload).encode()
        answer = service.handle(signed(body), body)
        assert (answer.code, text in answer.body["message"]) == (code, True), payload
        assert queue.messages == []
    service, queue, _ = intake()
    truncated = b'{"id": "ft-abc", "checkpoint_st'
    assert service.handle(signed(truncated), truncated).code is RefusalCode.MALFORMED_JSON
    first = json.dumps({"id": "ft-abc"}).encode()
    assert service.handle(signed(first, "msg_same"), first).outcome is Outcome.ACCEPTED
    assert service.handle(signed(first, "msg_same"), first).outcome is Outcome.DUPLICATE
    assert len(queue.messages) == 1
    other = json.dumps({"id": "ft-abd"}).encode()
    swapped = signed(first, "msg_swap")
    refused = RefusalCode.INVALID_SIGNATURE
    assert service.handle(swapped, other).code is refused  # signature for another body
    stale = signed(first, "msg_old")
    stale["webhook-timestamp"] = str(NOW - 3600)
    assert service.handle(stale, first).code is refused
    wrong_type = signed(first, "msg_type")
    wrong_type["content-type"] = "application/x-www-form-urlencoded"
    assert service.handle(wrong_type, first).code is RefusalCode.UNSUPPORTED_MEDIA_TYPE
    assert len(queue.messages) == 1
