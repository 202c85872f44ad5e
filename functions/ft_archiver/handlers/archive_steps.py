"""ArchiveStepsFunction: every task of the distributed archive's state machine
(infra/archive.asl.json), chosen by the event's ``step``.

A step's failure leaves as RetryableStepError (the state machine retries it with
backoff) or StepError (it aborts the archive), its message ``"{type}: {message}"`` so
that Abort can announce what really failed.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_archiver.domain.distributed import (
    BatchItem,
    CompletedUpload,
    DistributedPlan,
    DistributedStart,
    Sha256Progress,
    step_failure,
)
from ft_archiver.errors import ArchiverError
from ft_archiver.handlers import dependencies
from ft_archiver.observability import (
    count_refusal,
    count_unexpected_answer,
    logger,
    metrics,
    tracer,
)
from ft_archiver.service.distributed.abort_step import abort_archive
from ft_archiver.service.distributed.batch_step import upload_batch
from ft_archiver.service.distributed.common import lease_of
from ft_archiver.service.distributed.complete_step import complete_upload
from ft_archiver.service.distributed.finish_step import finish_archive
from ft_archiver.service.distributed.plan_step import plan_distributed
from ft_archiver.service.distributed.verify_step import read_back_sha256
from ft_archiver.wiring.archive_steps import ArchiveSteps, build_archive_steps


class RetryableStepError(Exception):
    """The state machine retries the step."""


class StepError(Exception):
    """The state machine aborts the archive."""


@dependencies.per_environment
def steps() -> ArchiveSteps:
    return build_archive_steps(dependencies.archive_steps_settings(), count_unexpected_answer)


def _remaining(context: LambdaContext) -> Callable[[], float]:
    return lambda: context.get_remaining_time_in_millis() / 1000


def _plan(state: dict[str, Any]) -> tuple[DistributedPlan, list[BatchItem]]:
    planned = state["planned"]
    return (
        DistributedPlan.model_validate(planned["plan"]),
        [BatchItem.model_validate(batch) for batch in planned["batches"]],
    )


def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = steps()
    start = DistributedStart.model_validate(event["state"])
    plan, batches = plan_distributed(
        start, built.together, built.store, built.options, built.distributed, built.ledger
    )
    logger.info("planned", extra={"parts": plan.parts, "batches": len(batches)})
    return {"plan": plan.model_dump(mode="json"), "batches": [b.model_dump() for b in batches]}


def parts(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = steps()
    plan = DistributedPlan.model_validate(event["plan"])
    progress = upload_batch(
        plan, BatchItem.model_validate(event["batch"]), built.together, built.store,
        built.digests, built.options.lanes(plan.part_size), _remaining(context),
        built.deadline_margin_s,
    )  # fmt: skip
    lease_of(plan.start, built.ledger).touch()  # for status: the archive was seen moving
    logger.info("batch", extra={"first": event["batch"]["first"], **progress.model_dump()})
    return progress.model_dump()


def complete(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = steps()
    plan, batches = _plan(event["state"])
    completed = complete_upload(plan, batches, built.store, built.digests, built.stored)
    return completed.model_dump()


def verify_sha256(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = steps()
    state = event["state"]
    plan, _ = _plan(state)
    earlier = state.get("sha256")
    progress = read_back_sha256(
        plan, CompletedUpload.model_validate(state["completed"]),
        Sha256Progress.model_validate(earlier) if earlier else None, built.stored,
        built.digest_factory, _remaining(context), built.deadline_margin_s,
    )  # fmt: skip
    return progress.model_dump()


def finish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = steps()
    state = event["state"]
    plan, batches = _plan(state)
    sha256 = (state.get("sha256") or {}).get("sha256")
    detail = finish_archive(
        plan, batches, CompletedUpload.model_validate(state["completed"]), sha256,
        datetime.fromisoformat(event["started"]), built.together, built.store,
        built.digests, built.ledger, built.announcer,
    )  # fmt: skip
    metrics.add_metric(name="BytesArchived", unit=MetricUnit.Bytes, value=detail.size)
    logger.info("archived", extra={"object": detail.filename, "size": detail.size})
    return {"key": detail.key, "sha256": detail.sha256, "sha256_tree": detail.sha256_tree}


def abort(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    built = steps()
    state = event["state"]
    start = DistributedStart.model_validate(
        {name: state[name] for name in DistributedStart.model_fields}
    )
    plan, batches = _plan(state) if "planned" in state else (None, [])
    completed = state.get("completed")
    failure = step_failure(state.get("error") or {})
    abort_archive(
        start, plan, batches, CompletedUpload.model_validate(completed) if completed else None,
        failure, built.store, built.digests, built.ledger, built.announcer,
    )  # fmt: skip
    metrics.add_metric(name="ArchiveFailures", unit=MetricUnit.Count, value=1)
    logger.error("archive aborted", extra={"error_type": failure[0], "error": failure[1]})
    return {"error_type": failure[0]}


STEPS = {
    "plan": plan,
    "parts": parts,
    "complete": complete,
    "verify_sha256": verify_sha256,
    "finish": finish,
    "abort": abort,
}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = STEPS[event["step"]]
    logger.append_keys(step=event["step"])
    metrics.add_metric(name="ArchiveSteps", unit=MetricUnit.Count, value=1)
    try:
        return step(event, context)
    except ArchiverError as exc:
        count_refusal(exc)
        kind = RetryableStepError if exc.retryable else StepError
        log = logger.warning if exc.retryable else logger.error
        log("step failed", extra={"error_type": type(exc).__name__, "error": str(exc)})
        raise kind(f"{type(exc).__name__}: {exc}") from None
