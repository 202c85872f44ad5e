"""Complete: ListParts is the authority. Every planned part must be there, of its
planned size, with its CRC and a recorded SHA-256; then the part CRCs are combined in
order into the full-object CRC, CompleteMultipartUpload sends it (FULL_OBJECT), and
HeadObject must report the same size and checksum, or the object is deleted again."""

from collections.abc import Sequence

from ft_archiver.domain.distributed import (
    BatchItem,
    CompletedUpload,
    DistributedPlan,
    sha256_tree,
)
from ft_archiver.errors import IncompleteUploadError, UploadGoneError
from ft_archiver.service.distributed.common import parts_of, target_of
from ft_archiver.service.distributed.ports import CompletedObjects, PartDigest, PartDigests
from ft_archiver.service.ports import ObjectSpec, ObjectStore, StoredObject, UploadedPart


def complete_upload(
    plan: DistributedPlan,
    batches: Sequence[BatchItem],
    store: ObjectStore,
    digests: PartDigests,
    completed: CompletedObjects,
) -> CompletedUpload:
    """Safe to run again: when an earlier attempt completed the upload but did not live to
    answer, the upload is gone and the object it made is recognised by its size and
    full-object CRC (from the recorded part CRCs). Complete writes only where no object
    is (If-None-Match); a Complete that fails or is refused looks at the key (the
    adapter's ``complete``): these very bytes go on, another object is a conflict."""
    target = target_of(plan)
    recorded = digests.all(plan.start.lease_key, batches)
    try:
        stored, crc = _complete(plan, target, store, recorded)
    except UploadGoneError:
        crc = _expected_crc(plan, target, recorded)
        found = completed.find_verified(target, plan.size, crc)
        if found is None:
            raise IncompleteUploadError(
                f"the multipart upload of {plan.key} is gone and no object of "
                f"{plan.size:,} bytes with its checksum is there: it was aborted"
            ) from None
        stored = found
    return CompletedUpload(
        etag=stored.etag,
        version_id=stored.version_id,
        checksum=target.algorithm.encode(crc),
        sha256_tree=sha256_tree(recorded[n].sha256 for n in range(1, plan.parts + 1)),
        adopted=stored.adopted,
    )


def _complete(
    plan: DistributedPlan,
    target: ObjectSpec,
    store: ObjectStore,
    recorded: dict[int, PartDigest],
) -> tuple[StoredObject, int]:
    with store.resume_multipart(target, plan.upload_id) as upload:
        try:
            parts = _checked_parts(plan, upload.list_parts(), recorded)
            crc = _expected_crc(plan, target, recorded)
            return upload.complete(parts, plan.size, crc), crc
        except BaseException:
            upload.suspend()  # never aborted here: a retry, or Abort, decides
            raise


def _expected_crc(
    plan: DistributedPlan, target: ObjectSpec, recorded: dict[int, PartDigest]
) -> int:
    """The full-object CRC of the recorded parts, combined in order."""
    ranges = list(parts_of(plan).ranges())
    missing = [part.number for part in ranges if part.number not in recorded]
    if missing:
        raise IncompleteUploadError(
            f"{len(missing)} of {plan.parts} parts were never recorded "
            f"(first: part {missing[0]}); the archive cannot be completed"
        )
    return target.algorithm.combine([(recorded[part.number].crc, part.length) for part in ranges])


def _checked_parts(
    plan: DistributedPlan, listed_parts: list[UploadedPart], recorded: dict[int, PartDigest]
) -> list[UploadedPart]:
    """The parts as ListParts has them, each of its planned size and recorded; where
    ListParts returns a part's CRC it must be the one recorded."""
    listed = {part.number: part for part in listed_parts}
    missing = [
        planned.number
        for planned in parts_of(plan).ranges()
        if planned.number not in recorded
        or planned.number not in listed
        or listed[planned.number].length != planned.length
        or listed[planned.number].crc not in (-1, recorded[planned.number].crc)
    ]
    if missing:
        raise IncompleteUploadError(
            f"{len(missing)} of {plan.parts} parts are missing or incomplete "
            f"(first: part {missing[0]}); the archive cannot be completed"
        )
    return [listed[number] for number in range(1, plan.parts + 1)]
