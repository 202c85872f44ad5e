"""Plan: the rules again (the job may have changed since the request), the download's
size, the parts, CreateMultipartUpload, and the batches the workers take."""

from dataclasses import dataclass
from typing import Any

from ft_archiver.domain.batches import plan_batches
from ft_archiver.domain.checkpoints import JobRef, parse_checkpoint_type, resolve_download
from ft_archiver.domain.distributed import BatchItem, DistributedPlan, DistributedStart
from ft_archiver.domain.requests import Destination
from ft_archiver.errors import StorageError
from ft_archiver.service.archive_plan import TransferOptions, plan_archive
from ft_archiver.service.distributed.common import lease_of, plan_from_record, plan_record
from ft_archiver.service.ports import FineTuneSource, ObjectStore
from ft_archiver.service.resume import ArchiveLedger


@dataclass(frozen=True)
class DistributedOptions:
    workers: int  # batches uploaded at once (the Map's MaxConcurrency)
    batch_bytes: int  # about how much one batch holds
    batch_timeout_s: int  # one batch invocation at most (the function's timeout)
    verify_sha256_up_to: int  # archives up to this size are read back for their SHA-256


def plan_distributed(
    start: DistributedStart,
    together: FineTuneSource,
    store: ObjectStore,
    options: TransferOptions,
    distributed: DistributedOptions,
    ledger: ArchiveLedger,
) -> tuple[DistributedPlan, list[BatchItem]]:
    """The plan and its batches, recorded beside the archive's lease in the state table.
    Step Functions may run Plan again while or after an earlier run recorded its plan (a
    timeout, an answer lost): the plan recorded first is the archive's, and a run that
    finds one answers it, so an archive has one multipart upload, not one per attempt."""
    lease = lease_of(start, ledger)
    recorded = lease.recorded_plan()
    if recorded is not None:
        return _in_force(recorded, start)
    job = together.retrieve(start.fine_tune_id)
    ref = JobRef(start.fine_tune_id, start.checkpoint_step)
    download = resolve_download(ref, parse_checkpoint_type(start.requested_type), job.training_type)
    source = together.open_download(download)
    destination = Destination(start.bucket, start.prefix, start.confine_keys)
    archive = plan_archive(download, job, None, source, destination, start.explicit_key, options)
    with store.start_multipart(archive.target) as upload:
        upload.suspend()  # the workers fill it; Complete or Abort ends it
    batches = [
        BatchItem(first=batch.first_part, last=batch.last_part)
        for batch in plan_batches(archive.parts, distributed.batch_bytes)
    ]
    plan = DistributedPlan(
        start=start,
        checkpoint_type=download.checkpoint,
        training_type=download.training_type.value,
        key=archive.target.key,
        manifest_key=archive.manifest_key,
        content_type=source.content_type,
        metadata=archive.target.metadata,
        size=source.size,
        part_size=archive.parts.part_size,
        parts=archive.parts.count,
        source_etag=source.etag,
        upload_id=upload.upload_id,
        algorithm=options.algorithm.name,
        workers=distributed.workers,
        batch_timeout_s=distributed.batch_timeout_s,
        verify_sha256=source.size <= distributed.verify_sha256_up_to,
    )
    record = plan_record(plan, batches)
    in_force = lease.record_plan(record)
    if in_force != record:  # another run of Plan recorded its plan first: this upload goes
        store.abort_multipart(archive.target, upload.upload_id)
        return _in_force(in_force, start)
    return plan, batches


def _in_force(
    record: dict[str, Any], start: DistributedStart
) -> tuple[DistributedPlan, list[BatchItem]]:
    planned = plan_from_record(record, start)
    if planned is None:
        raise StorageError(
            "the plan recorded beside this archive's lease is not this request's or cannot "
            "be read (was ft-archiver updated during the archive?)"
        )
    return planned
