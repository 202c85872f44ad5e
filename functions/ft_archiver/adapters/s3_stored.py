"""Reading what is already stored: the object an earlier attempt completed, and a
version's bytes, for the distributed archive's Complete and read-back."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.s3 import (
    storage_error,
    stored_object,
    version_arg,
)
from ft_archiver.errors import StorageError
from ft_archiver.service.ports import ObjectSpec, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

READ_CHUNK = 1024 * 1024


class S3StoredObjects:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def find_verified(self, spec: ObjectSpec, size: int, crc: int) -> StoredObject | None:
        """The object's current version if it holds ``size`` bytes with this full-object
        checksum (an upload completed by an attempt that did not live to say so)."""
        try:
            head = self._client.head_object(
                Bucket=spec.bucket, Key=spec.key, ChecksumMode="ENABLED"
            )
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise storage_error("HeadObject", spec.bucket, spec.key, exc) from None
        matches = head["ContentLength"] == size and head.get(
            spec.algorithm.s3_field
        ) == spec.algorithm.encode(crc)
        return stored_object(spec, head) if matches else None

    def read_into(self, stored: StoredObject, start: int, into: memoryview) -> None:
        """Fill ``into`` with this version's bytes from ``start`` on (a ranged GET)."""
        end = start + len(into) - 1
        filled = 0
        try:
            response = self._client.get_object(
                Bucket=stored.bucket, Key=stored.key, Range=f"bytes={start}-{end}",
                **version_arg(stored),
            )  # fmt: skip
            body = response["Body"]
            while filled < len(into):
                chunk = body.read(min(len(into) - filled, READ_CHUNK))
                if not chunk:
                    break
                into[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
        except AWS_ERRORS as exc:
            raise storage_error("GetObject", stored.bucket, stored.key, exc) from None
        if filled != len(into):
            raise StorageError(
                f"S3 GetObject of s3://{stored.bucket}/{stored.key} ended after {filled:,} of "
                f"{len(into):,} bytes at {start:,}"
            )
