"""The archive's manifest gains a pointer to the folder's index once an unpack is
complete (``Manifest.unpacked``). The manifest is read back, the pointer added, and the
manifest written over (manifests are the one object the archiver writes with overwrite
allowed); everything else in it stays as it was read. No manifest (an archive from
before manifests), or one this release cannot read, or one that describes another
version of the key: no pointer, and the outcome says why."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.manifest import CONTENT_TYPE, Manifest, UnpackedPointer
from ft_archiver.domain.naming import manifest_key
from ft_archiver.domain.unpack.index import SourceArchive, UnpackIndex
from ft_archiver.service.ports import ObjectSpec, ObjectStore
from ft_archiver.service.unpack.ports import UnpackedObjects

log = logging.getLogger(__name__)

PointerStatus = Literal["written", "unchanged", "no manifest", "unreadable", "other archive"]


@dataclass(frozen=True)
class ManifestPointer:
    """What became of the pointer: ``written`` (or ``unchanged``: it was there already)
    into the manifest at ``key``, or not written, ``note`` saying why."""

    bucket: str
    key: str
    status: PointerStatus

    @property
    def pointed(self) -> bool:
        return self.status in ("written", "unchanged")

    @property
    def note(self) -> str:
        where = f"s3://{self.bucket}/{self.key}"
        return {
            "written": f"manifest {where} points at the index",
            "unchanged": f"manifest {where} points at the index (already)",
            "no manifest": f"no manifest at {where}: no pointer to the index written",
            "unreadable": f"{where} is not a manifest this release reads: left as it is",
            "other archive": f"manifest {where} describes another version of the "
            "archive: left as it is",
        }[self.status]


def point_manifest(
    objects: UnpackedObjects,
    store: ObjectStore,
    index: UnpackIndex,
    index_key: str,
    algorithm: CrcAlgorithm,
    now: datetime,
) -> ManifestPointer:
    """Add the pointer to ``index`` (complete) to its archive's manifest."""
    source = index.archive
    key = manifest_key(source.key)
    document = objects.read(source.bucket, key)
    if document is None:
        return ManifestPointer(source.bucket, key, "no manifest")
    try:
        manifest = Manifest.model_validate_json(document)
    except ValidationError:
        log.warning("s3://%s/%s is not a manifest this release reads; no pointer written",
                    source.bucket, key)  # fmt: skip
        return ManifestPointer(source.bucket, key, "unreadable")
    if not _describes(manifest, source):
        return ManifestPointer(source.bucket, key, "other archive")
    pointer = UnpackedPointer(
        folder=index.folder,
        index_key=index_key,
        files=index.file_count,
        bytes=index.total_bytes,
        unpacked_at=now,
    )
    if manifest.unpacked is not None and manifest.unpacked.same_folder(pointer):
        return ManifestPointer(source.bucket, key, "unchanged")
    body = manifest.model_copy(update={"unpacked": pointer}).to_json()
    spec = ObjectSpec(source.bucket, key, CONTENT_TYPE, {}, algorithm)
    store.put_object(spec, body, algorithm.compute(body), overwrite=True)
    return ManifestPointer(source.bucket, key, "written")


def _describes(manifest: Manifest, source: SourceArchive) -> bool:
    """The manifest is of the bytes unpacked: its key and size, and its version where
    both name one (a copied bucket's manifest names the bucket it was written in)."""
    result = manifest.result
    if (result.key, result.size) != (source.key, source.size):
        return False
    return None in (result.version_id, source.version_id) or (
        result.version_id == source.version_id
    )
