"""The webhook's answers in HTTP: the status code of each outcome and refusal.

The intake and the domain speak in outcomes and refusal codes; this is the one place
they become status codes (the Function URL's ``statusCode``, the ``Webhooks{status}``
metrics).
"""

from http import HTTPStatus

from ft_archiver.domain.webhook import RefusalCode
from ft_archiver.service.intake import Answer, Outcome

OUTCOME_STATUS: dict[Outcome, HTTPStatus] = {
    Outcome.ACCEPTED: HTTPStatus.ACCEPTED,
    Outcome.DUPLICATE: HTTPStatus.OK,
    Outcome.IGNORED: HTTPStatus.OK,
}
REFUSAL_STATUS: dict[RefusalCode, HTTPStatus] = {
    RefusalCode.BAD_REQUEST: HTTPStatus.BAD_REQUEST,
    RefusalCode.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
    RefusalCode.PAYLOAD_TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    RefusalCode.UNSUPPORTED_MEDIA_TYPE: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    RefusalCode.INVALID_SIGNATURE: HTTPStatus.UNAUTHORIZED,
    RefusalCode.MALFORMED_JSON: HTTPStatus.BAD_REQUEST,
    RefusalCode.INVALID_PAYLOAD: HTTPStatus.UNPROCESSABLE_ENTITY,
    RefusalCode.RULE_VIOLATION: HTTPStatus.BAD_REQUEST,
    RefusalCode.WEBHOOK_ID_REUSED: HTTPStatus.CONFLICT,
    RefusalCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
}


def status_of(answer: Answer) -> int:
    """The HTTP status code an answer is sent with."""
    if answer.code is not None:
        return int(REFUSAL_STATUS[answer.code])
    return int(OUTCOME_STATUS[answer.outcome])
