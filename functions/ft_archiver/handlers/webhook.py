"""WebhookFunction: a Lambda Function URL (payload format 2.0) in, a JSON answer out."""

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_archiver.errors import ArchiverError
from ft_archiver.handlers import dependencies
from ft_archiver.observability import logger, metrics, tracer
from ft_archiver.service.intake import Answer, WebhookIntake, refusal
from ft_archiver.wiring.webhook import build_intake


@dependencies.per_environment
def intake() -> WebhookIntake:
    return build_intake(dependencies.webhook_settings())


def _body(request: LambdaFunctionUrlEvent) -> bytes:
    raw = request.body or ""
    return base64.b64decode(raw, validate=True) if request.is_base64_encoded else raw.encode()


def _respond(answer: Answer) -> dict[str, Any]:
    metrics.add_metric(
        name="WebhooksAccepted" if answer.status == 202 else f"Webhooks{answer.status}",
        unit=MetricUnit.Count,
        value=1,
    )
    return {
        "statusCode": answer.status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(answer.body),
    }


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = LambdaFunctionUrlEvent(event)
    if request.request_context.http.method != "POST":
        answer = refusal(405, "method_not_allowed", "POST a signed webhook")
        _log(answer)
        return _respond(answer)
    headers = {name.lower(): value for name, value in (request.headers or {}).items()}
    try:
        answer = intake().handle(headers, _body(request))
    except (binascii.Error, ValueError):
        answer = refusal(400, "bad_request", "body is not valid base64")
    except ArchiverError as exc:
        logger.error("webhook intake failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        answer = refusal(503, "unavailable", f"{type(exc).__name__}: try again later")
    _log(answer)
    return _respond(answer)


def _log(answer: Answer) -> None:
    """A request whose signature verified is logged with its webhook-id as the correlation
    id; one that did not (anyone on the internet can reach a Function URL) only at DEBUG,
    and nothing it sent (an 8,000-character webhook-id, say) reaches the log."""
    if answer.webhook_id is None:
        logger.debug("unauthenticated request refused", extra={"status": answer.status})
        return
    logger.set_correlation_id(answer.webhook_id)
    logger.info("webhook answered", extra={"status": answer.status, "response": answer.body})
