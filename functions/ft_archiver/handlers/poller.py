"""PollerFunction: one look at Together per EventBridge Scheduler tick.

A failed tick (Together down, key rejected, AWS refusing) is one log line and a
``PollFailures`` metric, not a Lambda error: the next tick catches up, and nothing was
recorded for jobs whose archives were not all enqueued.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_archiver.errors import ArchiverError
from ft_archiver.handlers import dependencies
from ft_archiver.observability import count_unexpected_answer, logger, metrics
from ft_archiver.service.poller import Poller
from ft_archiver.wiring.poller import build_poller


@dependencies.per_environment
def poller() -> Poller:
    return build_poller(dependencies.poller_settings(), count_unexpected_answer)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        report = poller().tick()
    except ArchiverError as exc:
        metrics.add_metric(name="PollFailures", unit=MetricUnit.Count, value=1)
        logger.error("poll failed; the next tick catches up", extra={"error": str(exc)})
        return {"ok": False, "error": str(exc)}
    metrics.add_metric(name="JobsSeen", unit=MetricUnit.Count, value=report.jobs_seen)
    metrics.add_metric(
        name="ArchivesEnqueued", unit=MetricUnit.Count, value=report.archives_enqueued
    )
    summary = {
        "jobs_seen": report.jobs_seen,
        "completed": report.completed,
        "baseline": report.baseline,
        "archives_enqueued": report.archives_enqueued,
        "jobs_enqueued": report.jobs_enqueued,
        "jobs_deferred": report.jobs_deferred,
        "jobs_skipped": report.jobs_skipped,
        "jobs_retried": report.jobs_retried,
    }
    logger.info("poll tick", extra=summary)
    return {"ok": True, **summary}
