"""The plan of one archive: everything decided before the first byte moves. Pure."""

from dataclasses import dataclass

from ft_archiver.domain.activity import DISTRIBUTED, SINGLE, ArchiveActivity
from ft_archiver.domain.checkpoints import DownloadSpec
from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.job import Checkpoint, FineTuneJob
from ft_archiver.domain.naming import archive_filename, manifest_key, object_key
from ft_archiver.domain.parts import (
    Lanes,
    PartPlan,
    check_archive_size,
    check_part_fits,
    plan_lanes,
    plan_parts,
)
from ft_archiver.domain.requests import Destination
from ft_archiver.service.ports import ArchiveSource, ObjectSpec


@dataclass(frozen=True)
class TransferOptions:
    part_size: int
    part_size_floor: int
    concurrency: int  # ranged GETs at once
    upload_concurrency: int  # UploadParts at once
    memory_budget: int
    algorithm: CrcAlgorithm
    max_archive_gib: float = 0  # the largest archive taken; 0: no limit

    def lanes(self, part_size: int) -> Lanes:
        """The GETs, UploadParts and buffers at once for parts of this size."""
        return plan_lanes(self.concurrency, self.upload_concurrency, part_size, self.memory_budget)


@dataclass(frozen=True)
class ArchivePlan:
    download: DownloadSpec
    job: FineTuneJob
    checkpoint: Checkpoint | None  # Together's entry for it, for the manifest
    source: ArchiveSource
    target: ObjectSpec
    manifest_key: str
    parts: PartPlan
    lanes: Lanes


def plan_archive(
    download: DownloadSpec,
    job: FineTuneJob,
    checkpoint: Checkpoint | None,
    source: ArchiveSource,
    destination: Destination,
    explicit_key: str | None,
    options: TransferOptions,
) -> ArchivePlan:
    """Refuses an archive above ``options.max_archive_gib`` (ArchiveOverLimitError), or
    one that cannot fit S3's parts or the memory, before anything is written."""
    check_archive_size(source.size, options.max_archive_gib)
    filename = archive_filename(download, job.model_output_name, source.content_type)
    key = object_key(destination.prefix, filename, explicit_key)
    parts = plan_parts(source.size, options.part_size, options.part_size_floor)
    check_part_fits(parts.part_size, options.memory_budget)
    target = ObjectSpec(
        bucket=destination.bucket,
        key=key,
        content_type=source.content_type,
        metadata={
            "fine-tune-id": download.id,
            "checkpoint-step": "final"
            if download.checkpoint_step is None
            else str(download.checkpoint_step),
            "checkpoint-type": download.checkpoint,
            "training-type": download.training_type.value,
        },
        algorithm=options.algorithm,
    )
    return ArchivePlan(
        download, job, checkpoint, source, target, manifest_key(key), parts,
        options.lanes(parts.part_size),
    )  # fmt: skip


def activity_of(
    plan: ArchivePlan, distributed: bool, continuation: int, resumed: bool
) -> ArchiveActivity:
    """The archive as ``status`` shows it, from its plan."""
    download = plan.download
    return ArchiveActivity(
        job=download.id,
        step=download.checkpoint_step,
        checkpoint=download.checkpoint,
        key=plan.target.key,
        size=plan.parts.size,
        parts=plan.parts.count,
        part_size=plan.parts.part_size,
        path=DISTRIBUTED if distributed else SINGLE,
        continuation=continuation,
        resumed=resumed,
    )
