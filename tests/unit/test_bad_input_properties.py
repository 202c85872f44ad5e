"""Property-based: whatever arrives, the webhook answers 4xx with a reason or accepts a
request that passes every rule; never a 5xx, and nothing is queued unless accepted."""

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ft_archiver.domain.checkpoints import PLAIN_ID, parse_job_ref
from ft_archiver.domain.requests import ArchiveRequest, validate_request
from ft_archiver.domain.webhook import decode_secret, sign
from ft_archiver.errors import RuleError
from ft_archiver.service.intake import Answer, WebhookIntake
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
    assert 200 <= answer.status < 500
    if answer.status == 202:
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
    if answer.status >= 400:
        assert ledger.seen == {}
        assert answer.body["error"]
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
    assert answer.status in (401, 415)
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
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"id": "ft-abc", "key": "../../etc/passwd"}, 400, "'..'"),
        ({"id": "ft-abc", "key": "models/\u0000x"}, 400, "control characters"),
        ({"id": "ft-abc", "key": "/abs"}, 400, "starts with '/'"),
        ({"id": "ft-abc", "key": "other/x.tar.zst"}, 400, "outside the archive prefix"),
        ({"id": "ft-abc", "key": "models/acme--m.tar.zst"}, 400, "top level"),
        ({"id": "ft-x&checkpoint=adapter"}, 400, "not a fine-tune ID"),
        ({"id": "ft-abc?ft_id=ft-other"}, 400, "not a fine-tune ID"),
        ({"id": "ft-abc", "checkpoint_step": 10**30}, 400, "out of range"),
        ({"id": "ft-abc:99999999999999999999"}, 400, "out of range"),
        ({"id": "ft-ä"}, 400, "not a fine-tune ID"),
        ({"id": "ft-abc", "checkpoint_type": "ADAPTER\u200b"}, 400, "invalid checkpoint type"),
        ({"id": "ft-abc", "checkpoint_step": "5"}, 422, "'checkpoint_step'"),
    ]
    for payload, status, text in cases:
        service, queue, _ = intake()
        body = json.dumps(payload).encode()
        answer = service.handle(signed(body), body)
        assert (answer.status, text in answer.body["message"]) == (status, True), payload
        assert queue.messages == []
    service, queue, _ = intake()
    truncated = b'{"id": "ft-abc", "checkpoint_st'
    assert service.handle(signed(truncated), truncated).status == 400
    first = json.dumps({"id": "ft-abc"}).encode()
    assert service.handle(signed(first, "msg_same"), first).status == 202
    assert service.handle(signed(first, "msg_same"), first).status == 200  # reused id
    assert len(queue.messages) == 1
    other = json.dumps({"id": "ft-abd"}).encode()
    swapped = signed(first, "msg_swap")
    assert service.handle(swapped, other).status == 401  # signature for another body
    stale = signed(first, "msg_old")
    stale["webhook-timestamp"] = str(NOW - 3600)
    assert service.handle(stale, first).status == 401
    wrong_type = signed(first, "msg_type")
    wrong_type["content-type"] = "application/x-www-form-urlencoded"
    assert service.handle(wrong_type, first).status == 415
    assert len(queue.messages) == 1
