"""The unpacker's reads of the bucket over boto3: the archive as stored (HeadObject and
its tags), its bytes by range, and what an earlier run left (an object verified by size
and checksum, the folder's index)."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.s3 import GONE_CODES, storage_error
from ft_archiver.adapters.s3_stored import S3StoredObjects
from ft_archiver.service.ports import StoredObject
from ft_archiver.service.unpack.ports import StoredArchive

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any


def _gone(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in GONE_CODES


class S3UnpackObjects(S3StoredObjects):
    """Both of the unpacker's read ports (ArchiveObjects, UnpackedObjects)."""

    def __init__(self, client: S3Client) -> None:
        super().__init__(client)
        self._s3 = client

    def describe(self, bucket: str, key: str) -> StoredArchive | None:
        action = "HeadObject"
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
            version = head.get("VersionId")
            version_id = None if version in (None, "null") else version
            action = "GetObjectTagging"
            of_version: dict[str, Any] = {"VersionId": version_id} if version_id else {}
            tagging = self._s3.get_object_tagging(Bucket=bucket, Key=key, **of_version)
        except AWS_ERRORS as exc:
            if _gone(exc):
                return None
            raise storage_error(action, bucket, key, exc) from None
        return StoredArchive(
            stored=StoredObject(bucket, key, head["ETag"], version_id),
            size=head["ContentLength"],
            content_type=head.get("ContentType", ""),
            tags={tag["Key"]: tag["Value"] for tag in tagging.get("TagSet", [])},
            metadata=dict(head.get("Metadata", {})),
        )

    def read(self, bucket: str, key: str) -> bytes | None:
        try:
            body: bytes = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except AWS_ERRORS as exc:
            if _gone(exc):
                return None
            raise storage_error("GetObject", bucket, key, exc) from None
        return body
