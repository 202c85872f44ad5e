"""WebhookFunction: a Lambda Function URL (payload format 2.0) in, a JSON answer out."""

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_archiver.domain.webhook import RefusalCode
from ft_archiver.errors import ArchiverError
from ft_archiver.handlers import dependencies
from ft_archiver.handlers.http_status import status_of
from ft_archiver.observability import logger, metrics, tracer
from ft_archiver.service.intake import Answer, WebhookIntake, refusal
from ft_archiver.wiring.webhook import build_intake


@dependencies.per_environment
def intake() -> WebhookIntake:
    return build_intake(dependencies.webhook_settings())


def _body(request: LambdaFunctionUrlEvent) -> bytes:
    raw = request.body or ""
    return base64.b64decode(raw, validate=True) if request.is_base64_encoded else raw.encode()


def _respond(answer: Answer, status: int) -> dict[str, Any]:
    metrics.add_metric(
        name="WebhooksAccepted" if status == 202 else f"Webhooks{status}",
        unit=MetricUnit.Count,
        value=1,
    )
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(answer.body),
    }


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = _answer(LambdaFunctionUrlEvent(event))
    status = status_of(answer)
    _log(answer, status)
    return _respond(answer, status)


def _answer(request: LambdaFunctionUrlEvent) -> Answer:
    if request.request_context.http.method != "POST":
        return refusal(RefusalCode.METHOD_NOT_ALLOWED, "POST a signed webhook")
    headers = {name.lower(): value for name, value in (request.headers or {}).items()}
    try:
        return intake().handle(headers, _body(request))
    except (binascii.Error, ValueError):
        return refusal(RefusalCode.BAD_REQUEST, "body is not valid base64")
    except ArchiverError as exc:
        logger.error("webhook intake failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return refusal(RefusalCode.UNAVAILABLE, f"{type(exc).__name__}: try again later")


def _log(answer: Answer, status: int) -> None:
    """A request whose signature verified is logged with its webhook-id as the correlation
    id; one that did not (anyone on the internet can reach a Function URL) only at DEBUG,
    and nothing it sent (an 8,000-character webhook-id, say) reaches the log."""
    if answer.webhook_id is None:
        logger.debug("unauthenticated request refused", extra={"status": status})
        return
    logger.set_correlation_id(answer.webhook_id)
    logger.info("webhook answered", extra={"status": status, "response": answer.body})
