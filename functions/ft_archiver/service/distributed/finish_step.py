"""Finish: the verified archive gets its digest tags and its manifest (with every part's
SHA-256), the ledger its result, the bus its one success event."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ft_archiver import __version__
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.distributed import BatchItem, CompletedUpload, DistributedPlan
from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.manifest import build_manifest, checkpoint_entry
from ft_archiver.service.announce import Announcer
from ft_archiver.service.distributed.common import lease_of
from ft_archiver.service.distributed.ports import PartDigests
from ft_archiver.service.ports import ArchiveStore, JobLookup, StoredObject
from ft_archiver.service.provenance import write_manifest
from ft_archiver.service.resume import ArchiveLedger


def finish_archive(
    plan: DistributedPlan,
    batches: Sequence[BatchItem],
    completed: CompletedUpload,
    sha256: str | None,
    started: datetime,
    together: JobLookup,
    store: ArchiveStore,
    digests: PartDigests,
    ledger: ArchiveLedger,
    announcer: Announcer,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ArchivedDetail:
    start = plan.start
    stored = StoredObject(
        start.bucket, plan.key, completed.etag, completed.version_id, completed.adopted
    )
    tags = {"sha256-tree": completed.sha256_tree, **({"sha256": sha256} if sha256 else {})}
    store.tag(stored, tags)
    job = together.retrieve(start.fine_tune_id)
    checkpoints = together.list_checkpoints(start.fine_tune_id)
    entry = checkpoint_entry(checkpoints, start.checkpoint_step, plan.checkpoint_type)
    recorded = digests.all(start.lease_key, batches)
    now = clock()
    detail = ArchivedDetail(
        id=start.fine_tune_id,
        checkpoint_step=start.checkpoint_step,
        checkpoint_type=plan.checkpoint_type,
        training_type=plan.training_type,
        filename=f"s3://{start.bucket}/{plan.key}",
        bucket=start.bucket,
        key=plan.key,
        manifest_key=plan.manifest_key,
        size=plan.size,
        etag=completed.etag,
        version_id=completed.version_id,
        content_type=plan.content_type,
        sha256=sha256,
        sha256_tree=completed.sha256_tree,
        checksum_algorithm=plan.algorithm,
        checksum=completed.checksum,
        parts=plan.parts,
        part_size=plan.part_size,
        model_output_name=job.model_output_name,
        duration_s=round((now - started).total_seconds(), 3),
    )
    part_sha256 = [recorded[number].sha256 for number in range(1, plan.parts + 1)]
    manifest = build_manifest(detail, job.document, entry, now, __version__, part_sha256)
    write_manifest(store, stored, plan.manifest_key, manifest, ALGORITHMS[plan.algorithm])
    lease = lease_of(plan.start, ledger)
    lease.finish(detail.model_dump(mode="json"))
    digests.forget(start.lease_key, batches)
    announcer.archived(detail, lease)
    return detail
