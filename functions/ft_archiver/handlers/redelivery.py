"""A failed SQS message brought back sooner than its queue's visibility timeout: what the
archiver, the unpacker and the importer do alike (the delay itself: domain/redelivery.py),
and the one line they log of the error."""

from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ft_archiver.domain.redelivery import retry_delay_s
from ft_archiver.errors import ArchiverError, ConfigurationError
from ft_archiver.observability import logger, metrics


class RetryQueue(Protocol):
    def retry_later(self, receipt_handle: str, delay_s: int) -> None: ...


def retry_later(record: SQSRecord, queue: Callable[[], RetryQueue], metric: str) -> dict[str, Any]:
    """Bring the message back after a delay that grows with its receives, instead of the
    queue's 90-minute visibility timeout; counts ``metric``; returns what was set, for
    the caller's log line. ``queue`` is asked only now (it may lack its settings)."""
    try:
        receives = int(record.attributes.approximate_receive_count)
    except (TypeError, ValueError):
        receives = 1
    delay = retry_delay_s(receives)
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    try:
        queue().retry_later(record.receipt_handle, delay)
    except ConfigurationError:  # the function's settings: the caller's line names them
        return {"receive_count": receives, "retry_in_s": None}
    except ArchiverError as exc:  # the queue's visibility timeout applies instead
        logger.warning("the retry delay was not set", extra={"error": str(exc)})
        return {"receive_count": receives, "retry_in_s": None}
    return {"receive_count": receives, "retry_in_s": delay}


def first_line(exc: Exception) -> str:
    """The error's first line, for a log field (its type when it says nothing)."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
