"""ArchiverFunction: one ArchiveQueue message per invocation, partial batch failures on."""

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
from pydantic import ValidationError

from ft_archiver.adapters.bucket_check import lifecycle_warning
from ft_archiver.adapters.queue import SqsArchiveQueue
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import (
    ArchiveInProgressError,
    ArchiverError,
)
from ft_archiver.handlers import dependencies
from ft_archiver.handlers.redelivery import retry_later
from ft_archiver.observability import (
    count_refusal,
    count_unexpected_answer,
    logger,
    metrics,
    tracer,
)
from ft_archiver.service.archive import Archiver
from ft_archiver.service.control import Delegated, Suspended, TransferControl
from ft_archiver.service.fan_out import fan_out
from ft_archiver.wiring.archiver import build_archiver
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.together import together_client

# A failed message is reported in batchItemFailures, never by failing the invocation:
# with batch size 1 every failure is the entire batch, which Powertools would otherwise
# raise as a Lambda error carrying a full traceback, even for a lease held elsewhere.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dependencies.per_environment
def archiver() -> Archiver:
    settings = dependencies.archiver_settings()
    built = build_archiver(
        settings, span=tracer.provider.in_subsegment, on_unexpected=count_unexpected_answer
    )
    # once per cold start: an existing bucket may keep abandoned uploads
    problem = lifecycle_warning(
        aws_client("s3", settings), settings.archive_bucket, settings.archive_prefix
    )
    if problem:
        logger.warning(problem)
    return built


@dependencies.per_environment
def together() -> TogetherClient:
    return together_client(dependencies.archiver_settings(), count_unexpected_answer)


@dependencies.per_environment
def continuation_queue() -> SqsArchiveQueue:
    """ArchiveQueue itself: continuations, requests held elsewhere, retry delays."""
    settings = dependencies.archiver_settings()
    return SqsArchiveQueue(aws_client("sqs", settings), settings.archive_queue_url)


def archive_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Raise to have the message retried (and, at last, dead-lettered); every failure
    that raises is logged once, here, and sets when the message comes back."""
    try:
        _archive_record(record, lambda_context)
    except ArchiverError as exc:  # a retryable failure, or a setting missing
        log = logger.warning if exc.retryable else logger.error
        retry = _retry_later(record)
        log("archive failed; the message will be retried", extra={"error": str(exc), **retry})
        raise
    except ValidationError as exc:  # retried, then dead-lettered, where it can be read
        fields = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})
        retry = _retry_later(record)
        logger.error("malformed archive request", extra={"fields": fields, **retry})
        raise
    except Exception:
        retry = _retry_later(record)
        logger.exception("unexpected failure; the message will be retried", extra=retry)
        raise


def _retry_later(record: SQSRecord) -> dict[str, Any]:
    return retry_later(record, continuation_queue, "ArchiveRetries")


def _archive_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
    # First, so that a variable missing from the function fails its first message, not
    # the first continuation a quarter of an hour into an archive.
    settings = dependencies.archiver_settings()
    message = ArchiveMessage.model_validate_json(record.body)
    logger.set_correlation_id(message.correlation_id)
    logger.append_keys(fine_tune_id=message.id, checkpoint_step=message.checkpoint_step)
    if message.has_selection:
        _expand(message)
        return
    request = ArchiveRequest(
        message.id, message.checkpoint_step, message.checkpoint_type, message.key
    )
    control = TransferControl(
        remaining_s=lambda: lambda_context.get_remaining_time_in_millis() / 1000,
        continuation=message.continuations,
    )
    try:
        outcome = archiver().archive(
            request,
            # A message's key may come from anyone who can send to the queue, not only
            # from the webhook that checked it: it is held to the prefix here too.
            Destination(settings.archive_bucket, settings.archive_prefix, confine_keys=True),
            control,
        )
    except ArchiveInProgressError:
        if message.continuations >= settings.max_continuations:
            raise  # it has waited as long as any archive may run: retried, dead-lettered
        _wait_for_holder(message, settings.lease_wait_s)
        return
    except ArchiverError as exc:
        metrics.add_metric(name="ArchiveFailures", unit=MetricUnit.Count, value=1)
        count_refusal(exc)
        if exc.retryable:
            raise
        logger.error("archive refused; not retried", extra={"error": str(exc)})
        return
    if isinstance(outcome, Suspended):
        _continue(message, outcome)
        return
    if isinstance(outcome, Delegated):
        metrics.add_metric(name="ArchivesDelegated", unit=MetricUnit.Count, value=1)
        logger.info("handed to the state machine", extra={"execution": outcome.execution_arn})
        return
    detail = outcome.detail
    metrics.add_metric(name="BytesArchived", unit=MetricUnit.Bytes, value=detail.size)
    metrics.add_metric(name="ArchiveDuration", unit=MetricUnit.Seconds, value=detail.duration_s)
    if detail.duration_s > 0:
        metrics.add_metric(
            name="ArchiveThroughput",
            unit=MetricUnit.BytesPerSecond,
            value=detail.size / detail.duration_s,
        )
    logger.info("archived", extra={"object": detail.filename, "size": detail.size})


def _continue(message: ArchiveMessage, suspended: Suspended) -> None:
    """Progress is saved and the upload left open: a new message continues it (a fresh
    message, so that long archives do not run into maxReceiveCount), with one more
    continuation counted against FT_ARCHIVER_MAX_CONTINUATIONS."""
    following = message.model_copy(update={"continuations": message.continuations + 1})
    continuation_queue().send(following)
    metrics.add_metric(name="ArchiveContinuations", unit=MetricUnit.Count, value=1)
    logger.info(
        "continuing in a new invocation",
        extra={"at": str(suspended), "continuation": following.continuations},
    )


def _wait_for_holder(message: ArchiveMessage, delay_s: int) -> None:
    """Another invocation holds the archive's lease: not an error. Its own message carries
    the archive to the end, over as many continuations as it needs; this request is the
    safety net for a holder that never comes back (a command-line run killed for good).
    It is asked again ``delay_s`` later in a fresh message, counted like a continuation,
    so that waiting on a long archive neither uses up the receives that lead to the
    dead-letter queue nor ages in the queue, and still ends within the limit."""
    following = message.model_copy(update={"continuations": message.continuations + 1})
    continuation_queue().send(following, delay_s=delay_s)
    metrics.add_metric(name="ArchiveLeaseWaits", unit=MetricUnit.Count, value=1)
    logger.info(
        "another archiver holds this request; retrying later",
        extra={"retry_in_s": delay_s, "continuation": following.continuations},
    )


def _expand(message: ArchiveMessage) -> None:
    """A request with a selection: queue one request per archive instead of archiving."""
    try:
        targets = fan_out(together(), continuation_queue(), message)
    except ArchiverError as exc:
        if exc.retryable:
            raise
        metrics.add_metric(name="ArchiveFailures", unit=MetricUnit.Count, value=1)
        logger.error("selection refused; not retried", extra={"error": str(exc)})
        return
    metrics.add_metric(name="ArchivesEnqueued", unit=MetricUnit.Count, value=len(targets))
    logger.info("selection expanded", extra={"archives": len(targets)})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=archive_record, processor=processor, context=context
    )
