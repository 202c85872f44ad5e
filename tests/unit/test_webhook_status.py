"""The webhook's HTTP answers: every outcome and refusal code has its status code, the
one senders have always been answered with, and each WebhookError is refused with its."""

import json

import pytest

from ft_archiver.domain.webhook import (
    MalformedJsonError,
    PayloadTooLargeError,
    RefusalCode,
    SchemaError,
    SignatureError,
    UnsupportedMediaTypeError,
    WebhookError,
)
from ft_archiver.handlers.http_status import status_of
from ft_archiver.service.intake import Answer, Outcome, refusal

# What a sender is answered: changing a line here changes the webhook's API.
STATUS_OF_CODE = {
    "bad_request": 400,
    "malformed_json": 400,
    "rule_violation": 400,
    "invalid_signature": 401,
    "method_not_allowed": 405,
    "webhook_id_reused": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_payload": 422,
    "unavailable": 503,
}
STATUS_OF_ERROR: dict[type[WebhookError], int] = {
    WebhookError: 400,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    SignatureError: 401,
    MalformedJsonError: 400,
    SchemaError: 422,
}


def every_subclass(cls: type[WebhookError]) -> set[type[WebhookError]]:
    found = set(cls.__subclasses__())
    return found.union(*(every_subclass(sub) for sub in found))


def test_every_refusal_code_has_its_status() -> None:
    assert {code.value: status_of(refusal(code, "why")) for code in RefusalCode} == (STATUS_OF_CODE)


@pytest.mark.parametrize(("error", "status"), STATUS_OF_ERROR.items())
def test_a_webhook_error_is_refused_with_its_status(error: type[WebhookError], status: int) -> None:
    assert status_of(refusal(error.code, str(error("why")))) == status


def test_every_webhook_error_is_in_the_table() -> None:
    assert {WebhookError, *every_subclass(WebhookError)} == set(STATUS_OF_ERROR)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(Outcome.ACCEPTED, 202), (Outcome.DUPLICATE, 200), (Outcome.IGNORED, 200)],
)
def test_an_outcome_is_answered_with_its_status(outcome: Outcome, status: int) -> None:
    assert status_of(Answer(outcome, {})) == status


def test_a_refusal_tells_its_code_and_message() -> None:
    answer = refusal(RefusalCode.PAYLOAD_TOO_LARGE, "too big", "msg_1")
    assert (answer.outcome, answer.webhook_id) == (Outcome.REFUSED, "msg_1")
    assert json.dumps(answer.body) == '{"error": "payload_too_large", "message": "too big"}'
