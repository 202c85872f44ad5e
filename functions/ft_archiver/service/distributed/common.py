"""What every step rebuilds from the plan: the download, the object, the lease."""

from ft_archiver.domain.checkpoints import DownloadSpec, TrainingType
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.distributed import DistributedPlan
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


def lease_of(plan: DistributedPlan, ledger: ArchiveLedger) -> Lease:
    return Lease(ledger, plan.start.lease_key, plan.start.owner)
