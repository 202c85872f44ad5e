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


def test_an_object_an_earlier_attempt_completed_is_recognised_by_size_and_checksum() -> None:
    from ft_archiver.adapters.s3 import S3Store
    from ft_archiver.adapters.s3_stored import S3StoredObjects
    from ft_archiver.domain.checksums import ALGORITHMS
    from ft_archiver.service.ports import ObjectSpec

    s3 = aws_client("s3", settings_from(archiver_variables()))
    bucket = f"found-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    crc64 = ALGORITHMS["CRC64NVME"]
    spec = ObjectSpec(bucket, "models/a.tar.zst", "application/zstd", {}, crc64)
    store, objects = S3Store(s3), S3StoredObjects(s3)
    assert objects.find_verified(spec, 5, crc64.compute(b"bytes")) is None  # no object yet
    stored = store.put_object(spec, b"bytes", crc64.compute(b"bytes"))
    found = objects.find_verified(spec, 5, crc64.compute(b"bytes"))
    assert found is not None
    assert found.etag == stored.etag
    assert objects.find_verified(spec, 5, crc64.compute(b"other")) is None
    assert objects.find_verified(spec, 6, crc64.compute(b"bytes")) is None
    into = bytearray(3)
    objects.read_into(found, 1, memoryview(into))
    assert into == b"yte"


def test_an_upload_left_open_is_aborted_without_listing_its_parts() -> None:
    from ft_archiver.adapters.s3 import S3Store
    from ft_archiver.domain.checksums import ALGORITHMS
    from ft_archiver.service.ports import ObjectSpec

    s3 = aws_client("s3", settings_from(archiver_variables()))
    calls: list[str] = []
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    bucket = f"aborted-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    spec = ObjectSpec(bucket, "models/a.tar.zst", "application/zstd", {}, ALGORITHMS["CRC64NVME"])
    store = S3Store(s3)
    with store.start_multipart(spec) as upload:
        upload.suspend()  # left open, as a paused archive leaves it
    calls.clear()
    store.abort_multipart(spec, upload.upload_id)
    store.abort_multipart(spec, upload.upload_id)  # already gone: logged, not raised
    assert calls == ["AbortMultipartUpload", "AbortMultipartUpload"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
