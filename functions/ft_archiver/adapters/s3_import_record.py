"""The import's record beside the folder over boto3: read, created only where none is
(``If-None-Match: *``), replaced by its winner."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ft_archiver.adapters.aws_errors import AWS_ERRORS, error_code
from ft_archiver.adapters.s3 import CONFLICT_CODES, GONE_CODES, NEW_ONLY, storage_error
from ft_archiver.domain.imports.record import RECORD_CONTENT_TYPE, ImportRecord

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any


class S3ImportRecords:
    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    def read(self, bucket: str, key: str) -> ImportRecord | None:
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in GONE_CODES:
                return None
            raise storage_error("GetObject", bucket, key, exc) from None
        return ImportRecord.model_validate_json(body)

    def claim(self, bucket: str, key: str, record: ImportRecord) -> bool:
        try:
            self._put(bucket, key, record, NEW_ONLY)
        except AWS_ERRORS as exc:
            if isinstance(exc, ClientError) and error_code(exc) in CONFLICT_CODES:
                return False
            raise storage_error("PutObject", bucket, key, exc) from None
        return True

    def put(self, bucket: str, key: str, record: ImportRecord) -> None:
        try:
            self._put(bucket, key, record, {})
        except AWS_ERRORS as exc:
            raise storage_error("PutObject", bucket, key, exc) from None

    def remove(self, bucket: str, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=bucket, Key=key)
        except AWS_ERRORS as exc:
            raise storage_error("DeleteObject", bucket, key, exc) from None

    def _put(self, bucket: str, key: str, record: ImportRecord, condition: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=record.model_dump_json(indent=2).encode(),
            ContentType=RECORD_CONTENT_TYPE,
            **condition,
        )
