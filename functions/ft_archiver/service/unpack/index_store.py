"""The folder's index in the bucket: read back what an earlier run wrote, write this
run's. The index is the one object the unpacker replaces: it describes the folder as
it is now (incomplete, then complete)."""

import logging

from pydantic import ValidationError

from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.unpack.index import INDEX_CONTENT_TYPE, UnpackIndex
from ft_archiver.service.ports import ObjectSpec, ObjectStore, StoredObject
from ft_archiver.service.unpack.ports import UnpackedObjects

log = logging.getLogger(__name__)


def read_index(objects: UnpackedObjects, bucket: str, key: str) -> UnpackIndex | None:
    """The index at ``key``; None when there is none, or one this release cannot read
    (the folder is then unpacked as if new: a file already there with the same bytes is
    kept, never written over)."""
    document = objects.read(bucket, key)
    if document is None:
        return None
    try:
        return UnpackIndex.model_validate_json(document)
    except ValidationError:
        log.warning("s3://%s/%s is not an index this release reads; it is ignored", bucket, key)
        return None


def write_index(
    store: ObjectStore, bucket: str, key: str, index: UnpackIndex, algorithm: CrcAlgorithm
) -> StoredObject:
    body = index.model_dump_json(indent=2).encode("utf-8")
    spec = ObjectSpec(bucket, key, INDEX_CONTENT_TYPE, {}, algorithm)
    return store.put_object(spec, body, algorithm.compute(body), overwrite=True)
