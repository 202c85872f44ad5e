"""Abort: whatever a failed execution left is undone, and the failure announced. The
upload is aborted (or, once completed, the object's version deleted, unless Complete
found it in place; a Plan that failed after recording its plan, that plan's upload),
the lease released so that a later request starts afresh, the recorded part digests
forgotten."""

from collections.abc import Sequence

from ft_archiver.domain.checkpoints import JobRef
from ft_archiver.domain.distributed import (
    BatchItem,
    CompletedUpload,
    DistributedPlan,
    DistributedStart,
)
from ft_archiver.service.announce import Announcer
from ft_archiver.service.distributed.common import lease_of, plan_from_record, target_of
from ft_archiver.service.distributed.ports import PartDigests
from ft_archiver.service.ports import ArchiveStore, StoredObject
from ft_archiver.service.resume import ArchiveLedger, failure_line


def abort_archive(
    start: DistributedStart,
    plan: DistributedPlan | None,
    batches: Sequence[BatchItem],
    completed: CompletedUpload | None,
    failure: tuple[str, str, bool],  # error type, message, retryable
    store: ArchiveStore,
    digests: PartDigests,
    ledger: ArchiveLedger,
    announcer: Announcer,
) -> None:
    lease = lease_of(start, ledger)
    if plan is None:
        recorded = lease.recorded_plan()
        planned = plan_from_record(recorded, start) if recorded is not None else None
        if planned is not None:
            plan, batches = planned
    if plan is not None and completed is not None:
        store.delete(
            StoredObject(
                start.bucket, plan.key, completed.etag, completed.version_id, completed.adopted
            )
        )
    elif plan is not None:
        store.abort_multipart(target_of(plan), plan.upload_id)
    error_type, message, retryable = failure
    lease.release(failure_line(error_type, message))
    if batches:
        digests.forget(start.lease_key, batches)
    checkpoint_type = plan.checkpoint_type if plan is not None else start.requested_type
    announcer.failure(
        JobRef(start.fine_tune_id, start.checkpoint_step), checkpoint_type, error_type, message,
        retryable,
    )  # fmt: skip
