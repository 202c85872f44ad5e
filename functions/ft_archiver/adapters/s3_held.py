"""The archiver's look at a key before it writes an archive there: HeadObject of the key,
and the manifest beside it (GetObject). A missing key is an answer, not an error, which
S3 gives as 404 only to a caller with s3:ListBucket (403 otherwise)."""

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.s3 import GONE_CODES, storage_error
from ft_archiver.domain.checksums import ChecksumMode, CrcAlgorithm
from ft_archiver.domain.held import HeldObject
from ft_archiver.domain.manifest import Manifest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

log = logging.getLogger(__name__)
# A manifest is a few kilobytes; anything far larger at its key is not one.
MANIFEST_LIMIT = 1024 * 1024


def _gone(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in GONE_CODES


class S3HeldArchives:
    """``mode``: with ChecksumMode none the store is not asked for checksums."""

    def __init__(self, client: S3Client, mode: ChecksumMode = "full-object") -> None:
        self._client = client
        self._mode = mode

    def held(self, bucket: str, key: str, algorithm: CrcAlgorithm) -> HeldObject | None:
        checked: dict[str, Any] = {} if self._mode == "none" else {"ChecksumMode": "ENABLED"}
        try:
            head = self._client.head_object(Bucket=bucket, Key=key, **checked)
        except AWS_ERRORS as exc:
            if _gone(exc):
                return None
            raise storage_error("HeadObject", bucket, key, exc) from None
        version = head.get("VersionId")
        checksum = head.get(algorithm.s3_field)
        return HeldObject(
            size=head["ContentLength"],
            etag=head["ETag"],
            version_id=None if version in (None, "null") else version,
            metadata=dict(head.get("Metadata", {})),
            checksum=checksum if isinstance(checksum, str) else None,
        )

    def manifest(self, bucket: str, key: str) -> Manifest | None:
        try:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"]
            document = body.read(MANIFEST_LIMIT + 1)
        except AWS_ERRORS as exc:
            if _gone(exc):
                return None
            raise storage_error("GetObject", bucket, key, exc) from None
        if len(document) > MANIFEST_LIMIT:
            log.warning("s3://%s/%s is too large to be a manifest; ignored", bucket, key)
            return None
        try:
            return Manifest.model_validate_json(document)
        except ValidationError:
            log.warning("s3://%s/%s is not a manifest ft-archiver can read; ignored", bucket, key)
            return None
