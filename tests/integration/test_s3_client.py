"""The archiver's S3 client as it goes over the wire to moto."""

import uuid
from typing import Any

from ft_archiver.wiring.aws import aws_client
from tests.support.settings import archiver_variables, settings_from


def test_part_bodies_are_not_hashed_for_the_signature() -> None:
    """UNSIGNED-PAYLOAD: botocore would otherwise SHA-256 every part for SigV4, 4 KiB at a
    time through a Python callback (about 0.8 CPU-s per GiB, the benchmark measured);
    each part carries its CRC64NVME in a signed header, which S3 verifies."""
    s3 = aws_client("s3", settings_from(archiver_variables()))
    sent: dict[str, str] = {}

    def capture(request: Any, **_: Any) -> None:
        sent[request.headers.get("x-amz-content-sha256", b"").decode()] = request.url

    s3.meta.events.register("before-send.s3.UploadPart", capture)
    bucket = f"unsigned-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"x")
    assert list(sent) == ["UNSIGNED-PAYLOAD"]
