"""Reading the archive bucket back over boto3: listings, manifests, object metadata and tags."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.errors import StorageError
from ft_archiver.service.ports import ListedObject, ObjectFacts

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

GONE = {"NoSuchKey", "404", "NotFound"}


def _error(action: str, where: str, exc: Exception) -> StorageError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    else:
        detail = type(exc).__name__
    return StorageError(f"S3 {action} of {where} failed ({detail})")


def _gone(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in GONE


class S3Catalog:
    """Read-only access to the bucket; thread-safe (one boto3 client)."""

    def __init__(self, client: S3Client, page_size: int = 1000) -> None:
        self._client = client
        self._page_size = page_size

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]:
        """Every object under the prefix, over as many ListObjectsV2 pages as it takes."""
        found: list[ListedObject] = []
        token: dict[str, Any] = {}
        try:
            while True:
                page = self._client.list_objects_v2(
                    Bucket=bucket, Prefix=prefix, MaxKeys=self._page_size, **token
                )
                found.extend(
                    ListedObject(item["Key"], item["Size"], item["LastModified"])
                    for item in page.get("Contents", [])
                )
                if not page.get("IsTruncated"):
                    return found
                token = {"ContinuationToken": page["NextContinuationToken"]}
        except (ClientError, BotoCoreError) as exc:
            raise _error("ListObjectsV2", f"s3://{bucket}/{prefix}", exc) from None

    def read(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes; None if it was deleted since it was listed."""
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            if _gone(exc):
                return None
            raise _error("GetObject", f"s3://{bucket}/{key}", exc) from None

    def facts(self, bucket: str, key: str) -> ObjectFacts | None:
        """User metadata and tags; None if the object was deleted since it was listed."""
        action = "HeadObject"
        try:
            head = self._client.head_object(Bucket=bucket, Key=key)
            action = "GetObjectTagging"
            tag_set = self._client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        except (ClientError, BotoCoreError) as exc:
            if _gone(exc):
                return None
            raise _error(action, f"s3://{bucket}/{key}", exc) from None
        return ObjectFacts(
            dict(head.get("Metadata", {})), {tag["Key"]: tag["Value"] for tag in tag_set}
        )
