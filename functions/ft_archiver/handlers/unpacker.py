"""UnpackFunction: one UnpackQueue message per invocation (a Fine-tune Archived event of
the stack's own, or a continuation), partial batch failures on."""

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

from ft_archiver.adapters.queue import SqsUnpackQueue
from ft_archiver.domain.unpack.layout import folder_prefix
from ft_archiver.domain.unpack.request import UnpackMessage, parse_unpack_body, why_not_unpacked
from ft_archiver.errors import ArchiverError
from ft_archiver.handlers import dependencies
from ft_archiver.handlers.redelivery import first_line, retry_later
from ft_archiver.observability import logger, metrics, tracer
from ft_archiver.service.control import TransferControl
from ft_archiver.service.unpack.announce import UnpackAnnouncer
from ft_archiver.service.unpack.unpacker import Unpacker, UnpackRequest, UnpackSuspended
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.options import event_publisher
from ft_archiver.wiring.unpacker import build_unpacker

# As the archiver's: a failure is reported in batchItemFailures, never as a Lambda error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dependencies.per_environment
def unpacker() -> Unpacker:
    return build_unpacker(dependencies.unpacker_settings())


@dependencies.per_environment
def announcer() -> UnpackAnnouncer:
    return UnpackAnnouncer(event_publisher(dependencies.unpacker_settings()))


@dependencies.per_environment
def unpack_queue() -> SqsUnpackQueue:
    settings = dependencies.unpacker_settings()
    return SqsUnpackQueue(aws_client("sqs", settings), settings.unpack_queue_url)


def unpack_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Raise to have the message retried (and, at last, dead-lettered)."""
    settings = dependencies.unpacker_settings()  # first: a missing variable fails here
    try:
        message = parse_unpack_body(record.body)
    except ValueError as exc:  # retried, then dead-lettered, where it can be read
        logger.error("malformed unpack request", extra={"error": first_line(exc),
                                                         **_retry_later(record)})  # fmt: skip
        raise
    logger.set_correlation_id(message.correlation_id)
    logger.append_keys(archive_key=message.key, fine_tune_id=message.id)
    skipped = why_not_unpacked(
        message, settings.archive_bucket, settings.archive_prefix, settings.unpack_adapters
    )
    if skipped is not None:
        metrics.add_metric(name="UnpacksSkipped", unit=MetricUnit.Count, value=1)
        logger.info("not unpacked", extra={"reason": skipped})
        return
    control = TransferControl(
        remaining_s=lambda: lambda_context.get_remaining_time_in_millis() / 1000,
        continuation=message.continuations,
    )
    prefix = folder_prefix(message.key, settings.archive_prefix, settings.unpack_prefix)
    request = UnpackRequest(message.bucket, message.key, prefix)
    try:
        outcome = unpacker().unpack(request, control)
    except Exception as exc:
        if _failed(record, message, prefix, exc):
            raise
        return  # deleted: a refused archive fails the same way every time
    if isinstance(outcome, UnpackSuspended):
        _continue(message, outcome)
        return
    detail = announcer().unpacked(outcome)
    metrics.add_metric(name="Unpacks", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BytesUnpacked", unit=MetricUnit.Bytes, value=detail.bytes)
    metrics.add_metric(name="UnpackDuration", unit=MetricUnit.Seconds, value=detail.duration_s)
    logger.info("unpacked", extra={"folder": detail.folder_url, "files": detail.files,
                                   "uploaded": detail.uploaded})  # fmt: skip


def _failed(record: SQSRecord, message: UnpackMessage, prefix: str, exc: Exception) -> bool:
    """The failure event and metric; whether the message is to be retried (after the
    delay set here): a refusal is not."""
    detail = announcer().failed(message, prefix, exc)
    metrics.add_metric(name="UnpackFailures", unit=MetricUnit.Count, value=1)
    if not detail.retryable:
        logger.error("unpack refused; not retried", extra={"error": detail.error})
        return False
    log = logger.warning if isinstance(exc, ArchiverError) else logger.exception
    log("unpack failed; the message will be retried",
        extra={"error": detail.error, **_retry_later(record)})  # fmt: skip
    return True


def _continue(message: UnpackMessage, suspended: UnpackSuspended) -> None:
    following = message.model_copy(update={"continuations": message.continuations + 1})
    unpack_queue().send(following)
    metrics.add_metric(name="UnpackContinuations", unit=MetricUnit.Count, value=1)
    logger.info("continuing in a new invocation",
                extra={"at": str(suspended), "continuation": following.continuations})  # fmt: skip


def _retry_later(record: SQSRecord) -> dict[str, Any]:
    return retry_later(record, unpack_queue, "UnpackRetries")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=unpack_record, processor=processor, context=context
    )
