"""Is an archive already in the bucket? The object exists and carries the ``sha256``
tag (or, for a distributed archive not read back, ``sha256-tree``), which is written only
after the object was verified."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

MISSING = {"NoSuchKey", "404", "NotFound"}


class S3ArchiveCheck:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def archived_sha256(self, bucket: str, key: str) -> str | None:
        """The verified archive's SHA-256 (or SHA-256 tree), or None when there is no
        verified archive."""
        try:
            response = self._client.get_object_tagging(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return None
            code = exc.response.get("Error", {}).get("Code", "Error")
            raise StorageError(
                f"S3 GetObjectTagging on s3://{bucket}/{key} failed ({code})"
            ) from None
        except BotoCoreError as exc:
            raise StorageError(
                f"S3 GetObjectTagging on s3://{bucket}/{key} failed ({type(exc).__name__})"
            ) from None
        tags = {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}
        return tags.get("sha256") or tags.get("sha256-tree")
