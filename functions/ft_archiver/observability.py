"""The one Logger, Tracer and Metrics of the Lambda functions (Powertools).

Service name, log level and metrics namespace come from the POWERTOOLS_* variables the
template sets in Globals. The Tracer patches nothing globally: the transfer's worker
threads have no X-Ray context, so the archiver opens subsegments itself around the
Together, S3 and EventBridge calls.
"""

import os
from dataclasses import asdict

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ft_archiver.domain.unexpected import UnexpectedAnswer
from ft_archiver.errors import ArchiveConflictError, ArchiveOverLimitError, ArchiverError

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "ft-archiver")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, auto_patch=False)
metrics = Metrics(
    service=SERVICE, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "FtArchiver")
)


def count_unexpected_answer(answer: UnexpectedAnswer) -> None:
    """An answer Together does not document: one structured warning and one count of
    ``UnexpectedTogetherAnswer``, which an alarm watches."""
    logger.warning(
        f"unexpected Together answer: {answer.describe()}",
        extra={"unexpected_answer": asdict(answer)},
    )
    metrics.add_metric(name="UnexpectedTogetherAnswer", unit=MetricUnit.Count, value=1)


# Refusals counted by name as well as among ArchiveFailures: what a webhook-secret holder
# could try (another archive's key, the largest job there is) and the stack stopped.
REFUSALS: dict[type[ArchiverError], str] = {
    ArchiveOverLimitError: "ArchivesRefusedTooLarge",
    ArchiveConflictError: "ArchivesRefusedConflict",
}


def count_refusal(exc: ArchiverError) -> None:
    """One count of the refusal's own metric, if ``exc`` is one of REFUSALS."""
    for kind, name in REFUSALS.items():
        if isinstance(exc, kind):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
