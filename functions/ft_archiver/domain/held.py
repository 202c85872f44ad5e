"""What the archive's key holds before the first byte is sent, and what follows. Pure.

Archives are written only where no object is (If-None-Match on PutObject and Complete),
so without a look first, a key that holds another object is found at Complete: after the
whole archive went over the wire. One HeadObject (and the manifest beside the object)
before CreateMultipartUpload decides instead (``judge_held``):

- ``Vacant``: nothing there; transfer.
- ``Refused``: another object, provably (another size, or ft-archiver's metadata naming
  another fine-tune, step or kind): ArchiveConflictError at once, nothing sent.
- ``Adopted``: this archive, verified: the manifest beside it names this fine-tune,
  step and kind and describes this very object (size, ETag, version, and the full-object
  checksum where the store shows one). Nothing is transferred and nothing announced: an
  earlier run did both. ``--force`` asks for the transfer anyway (``Unproven``).
- ``Unproven``: an object that may be these bytes (this size, and no metadata naming
  another archive) without a manifest that describes it: an earlier run that stopped
  between Complete and its manifest, or bytes put there by hand. Only the bytes can
  tell, so the archive is transferred and the conditional Complete proves it: the same
  bytes are adopted there, others refused (adapters/s3.py ``after_failed_write``).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.manifest import Manifest
from ft_archiver.domain.naming import MANIFEST_SUFFIX

# The metadata ft-archiver writes on every archive (service/archive_plan.py), which
# names the archive an object is.
NAMING_METADATA = ("fine-tune-id", "checkpoint-step", "checkpoint-type", "training-type")


@dataclass(frozen=True)
class HeldObject:
    """An object at the key, as HeadObject describes it. ``checksum``: the value of the
    archive's checksum algorithm the store shows (a full-object CRC, or a composite
    ``...-N``), None if it shows none."""

    size: int
    etag: str
    version_id: str | None
    metadata: Mapping[str, str]
    checksum: str | None


@dataclass(frozen=True)
class WantedArchive:
    """The archive about to be written: where, how big, and the metadata it will carry."""

    bucket: str
    key: str
    size: int
    metadata: Mapping[str, str]
    checksum_algorithm: str


@dataclass(frozen=True)
class Vacant:
    pass


@dataclass(frozen=True)
class Refused:
    reason: str  # what the key holds, for the error's message


@dataclass(frozen=True)
class Adopted:
    detail: ArchivedDetail  # the archive as its manifest describes it


@dataclass(frozen=True)
class Unproven:
    reason: str  # why the bytes decide, for the log


Verdict = Vacant | Refused | Adopted | Unproven


def judge_held(
    wanted: WantedArchive,
    held: HeldObject | None,
    manifest: Manifest | None,
    manifest_key: str,
    force: bool = False,
) -> Verdict:
    if held is None:
        return Vacant()
    names = {name: held.metadata.get(name) for name in NAMING_METADATA}
    if held.size != wanted.size:
        return Refused(f"{held.size:,} bytes, and this archive is {wanted.size:,}")
    if names["fine-tune-id"] and names != {n: wanted.metadata.get(n) for n in NAMING_METADATA}:
        return Refused(
            f"the archive of {names['fine-tune-id']} ({names['checkpoint-type']} at step "
            f"{names['checkpoint-step']}, {names['training-type']})"
        )
    if not names["fine-tune-id"]:
        return Unproven("an object of this size without ft-archiver's metadata")
    if manifest is None:
        return Unproven(f"this archive without its {MANIFEST_SUFFIX}")
    if not describes(manifest, wanted, held):
        return Unproven(f"this archive, and a {MANIFEST_SUFFIX} that describes another object")
    if force:
        return Unproven("this archive, verified, and --force asks for the transfer again")
    return Adopted(detail_of(manifest, manifest_key))


def describes(manifest: Manifest, wanted: WantedArchive, held: HeldObject) -> bool:
    """Whether the manifest is this archive's (fine-tune, step, kind, key) and speaks of
    this very object (size, ETag, version; its full-object checksum where shown)."""
    result = manifest.result
    metadata = wanted.metadata
    step = "final" if manifest.checkpoint_step is None else str(manifest.checkpoint_step)
    if (manifest.fine_tune_id, step, manifest.checkpoint_type, manifest.training_type) != (
        metadata.get("fine-tune-id"), metadata.get("checkpoint-step"),
        metadata.get("checkpoint-type"), metadata.get("training-type"),
    ):  # fmt: skip
        return False
    if (result.bucket, result.key, result.size) != (wanted.bucket, wanted.key, held.size):
        return False
    if (result.etag, result.version_id) != (held.etag, held.version_id):
        return False
    full_object = result.proof == "full-object-checksum"
    if full_object and held.checksum and result.checksum_algorithm == wanted.checksum_algorithm:
        return held.checksum == result.checksum
    return True


def detail_of(manifest: Manifest, manifest_key: str) -> ArchivedDetail:
    """The archive's event detail, as the run that wrote the manifest announced it
    (but ``duration_s``: nothing was moved by this run)."""
    result = manifest.result
    return ArchivedDetail(
        id=manifest.fine_tune_id,
        checkpoint_step=manifest.checkpoint_step,
        checkpoint_type=manifest.checkpoint_type,
        training_type=manifest.training_type,
        filename=f"s3://{result.bucket}/{result.key}",
        bucket=result.bucket,
        key=result.key,
        manifest_key=manifest_key,
        size=result.size,
        etag=result.etag,
        version_id=result.version_id,
        content_type=result.content_type,
        sha256=result.sha256,
        sha256_tree=result.sha256_tree,
        checksum_algorithm=result.checksum_algorithm,
        checksum=result.checksum,
        proof=result.proof,
        parts=result.parts,
        part_size=result.part_size,
        model_output_name=manifest.model_output_name,
        duration_s=0.0,
    )
