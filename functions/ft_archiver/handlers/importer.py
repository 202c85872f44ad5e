"""ImportFunction: one ImportQueue message per invocation (a Fine-tune Unpacked event of
the stack's own, or the next look at an import), partial batch failures on. Each
message is one short look (service/imports/importer.py); the next is sent with a delay,
so no invocation waits for Bedrock."""

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_archiver.adapters.queue import SqsImportQueue
from ft_archiver.domain.events import ImportedDetail
from ft_archiver.domain.imports.message import parse_import_body, why_not_imported
from ft_archiver.handlers import dependencies
from ft_archiver.handlers.redelivery import first_line, retry_later
from ft_archiver.observability import logger, metrics, tracer
from ft_archiver.service.imports.importer import Deferred, Finished, Importer, Waiting
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.importer import build_importer

# As the archiver's: a failure is reported in batchItemFailures, never as a Lambda error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dependencies.per_environment
def importer() -> Importer:
    return build_importer(dependencies.importer_settings())


@dependencies.per_environment
def import_queue() -> SqsImportQueue:
    settings = dependencies.importer_settings()
    return SqsImportQueue(aws_client("sqs", settings), settings.import_queue_url)


def import_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Raise to have the message retried (and, at last, dead-lettered)."""
    settings = dependencies.importer_settings()  # first: a missing variable fails here
    try:
        message = parse_import_body(record.body, record.message_id, time.time())
    except ValueError as exc:  # retried, then dead-lettered, where it can be read
        logger.error("malformed import request", extra={"error": first_line(exc),
                                                         **_retry_later(record)})  # fmt: skip
        raise
    logger.set_correlation_id(message.correlation_id)
    logger.append_keys(folder=message.source.folder_url, fine_tune_id=message.source.id)
    skipped = why_not_imported(message, settings.archive_bucket, settings.unpack_prefix)
    if skipped is not None:
        metrics.add_metric(name="ImportsSkipped", unit=MetricUnit.Count, value=1)
        logger.info("not imported", extra={"reason": skipped})
        return
    try:
        outcome = importer().advance(message)
    except Exception as exc:  # retryable: throttled, Bedrock or S3 unavailable, a publish
        logger.warning("import look failed; the message will be retried",
                       extra={"error": first_line(exc), **_retry_later(record)})  # fmt: skip
        raise
    if isinstance(outcome, Finished):
        _finished(outcome)
        return
    import_queue().send(outcome.message, outcome.delay_s)  # the next look
    if isinstance(outcome, Deferred):
        metrics.add_metric(name="ImportsDeferred", unit=MetricUnit.Count, value=1)
        logger.warning(
            "import deferred for a quota",
            extra={"reason": outcome.reason, "retry_in_s": outcome.delay_s},
        )
        return
    _waiting(outcome, settings.imported_model_quota)


def _waiting(outcome: Waiting, model_quota: int) -> None:
    if not outcome.started:
        logger.info("import job running", extra={"job_arn": outcome.message.job_arn,
                                                  "look_in_s": outcome.delay_s})  # fmt: skip
        return
    metrics.add_metric(name="ImportJobsStarted", unit=MetricUnit.Count, value=1)
    logger.info("import job started", extra={"job_arn": outcome.message.job_arn})
    models = outcome.models_in_account
    if models is not None and models + 1 >= model_quota:
        metrics.add_metric(name="ImportedModelsNearQuota", unit=MetricUnit.Count, value=1)
        logger.warning("the account reaches its imported-model quota with this import",
                       extra={"imported_models": models + 1, "quota": model_quota})  # fmt: skip


def _finished(outcome: Finished) -> None:
    result = outcome.result
    if not outcome.announced:  # another run announced it, or will
        logger.info("import ended before; nothing announced", extra={"job_arn": result.job_arn})
        return
    if isinstance(result, ImportedDetail):
        metrics.add_metric(name="Imports", unit=MetricUnit.Count, value=1)
        logger.info("imported", extra={"model_arn": result.imported_model_arn,
                                       "job_arn": result.job_arn})  # fmt: skip
        return
    metrics.add_metric(name="ImportFailures", unit=MetricUnit.Count, value=1)
    logger.error("import failed", extra={"error": result.error, "job_arn": result.job_arn,
                                         "retryable": result.retryable})  # fmt: skip


def _retry_later(record: SQSRecord) -> dict[str, Any]:
    return retry_later(record, import_queue, "ImportRetries")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=import_record, processor=processor, context=context
    )
