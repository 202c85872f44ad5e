"""What every step rebuilds from the plan: the download, the object, the lease; and the
plan as recorded beside the lease."""

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from ft_archiver.domain.checkpoints import DownloadSpec, TrainingType
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.distributed import BatchItem, DistributedPlan, DistributedStart
from ft_archiver.domain.parts import PartPlan
from ft_archiver.service.ports import ObjectSpec
from ft_archiver.service.resume import ArchiveLedger, Lease


def download_of(plan: DistributedPlan) -> DownloadSpec:
    start = plan.start
    return DownloadSpec(
        start.fine_tune_id, start.checkpoint_step, TrainingType(plan.training_type),
        plan.checkpoint_type,
    )  # fmt: skip


def target_of(plan: DistributedPlan) -> ObjectSpec:
    return ObjectSpec(
        plan.start.bucket, plan.key, plan.content_type, dict(plan.metadata),
        ALGORITHMS[plan.algorithm],
    )  # fmt: skip


def parts_of(plan: DistributedPlan) -> PartPlan:
    return PartPlan(plan.size, plan.part_size)


def lease_of(start: DistributedStart, ledger: ArchiveLedger) -> Lease:
    """The lease the archiver took on the archive and handed to the execution."""
    return Lease(ledger, start.lease_key, start.owner)


def plan_record(plan: DistributedPlan, batches: Sequence[BatchItem]) -> dict[str, Any]:
    """The plan and its batches as the state table keeps them beside the lease."""
    return {**plan.model_dump(mode="json"), "batches": [batch.model_dump() for batch in batches]}


def plan_from_record(
    record: dict[str, Any], start: DistributedStart
) -> tuple[DistributedPlan, list[BatchItem]] | None:
    """A recorded plan and its batches, if it was made for ``start`` and can be read."""
    if record.get("start") != start.model_dump(mode="json"):
        return None
    fields = {name: value for name, value in record.items() if name != "batches"}
    try:
        batches = [BatchItem.model_validate(batch) for batch in record.get("batches", [])]
        return DistributedPlan.model_validate(fields), batches
    except ValidationError:
        return None
