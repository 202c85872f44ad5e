"""The provenance manifest written next to a verified archive."""

from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.domain.manifest import CONTENT_TYPE, Manifest
from ft_archiver.errors import ArchiverError, ManifestError
from ft_archiver.service.ports import ArchiveStore, ObjectSpec, StoredObject


def write_manifest(
    store: ArchiveStore,
    archive: StoredObject,
    manifest_key: str,
    manifest: Manifest,
    algorithm: CrcAlgorithm,
) -> None:
    """PutObject the manifest with its checksum, read back like any object we store.

    The manifest describes the archive this run holds at its key, so it replaces any
    manifest there (one left by an archive since removed, or the same archive's). The
    archive is complete only with its manifest: if the manifest cannot be written, the
    archive's version is removed as when tagging it fails (unless it was found in place:
    ``adopted``), and the error is retryable (unless S3 denied the access), so another
    attempt archives it again rather than leave it unexplained."""
    body = manifest.to_json()
    spec = ObjectSpec(archive.bucket, manifest_key, CONTENT_TYPE, {}, algorithm)
    try:
        store.put_object(spec, body, algorithm.compute(body), overwrite=True)
    except ArchiverError as exc:
        store.delete(archive)
        done = "left in place" if archive.adopted else "removed"
        error = ManifestError(
            f"the manifest of s3://{archive.bucket}/{archive.key} could not be written "
            f"({exc}); the archive object was {done}"
        )
        error.retryable = exc.retryable  # access denied stays denied: not worth a retry
        raise error from None
    except BaseException:
        store.delete(archive)
        raise
