"""If-None-Match: * as LocalStack's S3 answers it (closer to S3 than moto here): 412 on
Complete and PutObject where the key holds an object, and NoSuchUpload, not 200, to a
Complete repeated after the first one completed (S3's answer too; moto answers 200)."""

import time

import pytest

from ft_archiver.adapters.s3 import S3Store
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import ArchiveConflictError
from ft_archiver.service.ports import ObjectSpec
from ft_archiver.wiring.aws import aws_client
from ft_archiver_tools.local.simulator import TogetherSimulator

from .conftest import Target
from .test_integrity import archiver

MIB = 1024 * 1024
CRC = ALGORITHMS["CRC64NVME"]


@pytest.mark.parametrize("size", [11 * MIB + 3, 1 * MIB], ids=["multipart", "single"])
def test_an_object_at_the_key_is_refused_412_and_left_as_it_is(
    target: Target, together: TogetherSimulator, size: int
) -> None:
    name = f"held-{time.time_ns()}"
    job = together.add_job("Lora", size=size, model_output_name=name)
    key = f"{name}.tar.zst"
    s3 = target.stored.client
    version = s3.put_object(Bucket=target.bucket, Key=key, Body=b"another archive")
    the_archiver, _ = archiver(target)
    with pytest.raises(ArchiveConflictError, match="PreconditionFailed"):
        the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    assert s3.get_object(Bucket=target.bucket, Key=key)["Body"].read() == b"another archive"
    assert target.stored.keys() == [key]
    assert target.stored.open_uploads() == []
    assert target.stored.head(key)["ETag"] == version["ETag"]


def test_a_complete_repeated_after_it_completed_finds_its_object(target: Target) -> None:
    """LocalStack answers the repeat NoSuchUpload: the key holds these very bytes, so the
    answer is that object, not a conflict and not a vanished upload to start again."""
    s3 = aws_client("s3", target.settings)
    spec = ObjectSpec(target.bucket, f"again-{time.time_ns()}.tar.zst", "application/zstd",
                      {}, CRC)  # fmt: skip
    data = bytes(range(256)) * (6 * MIB // 256)
    parts = [data[: 5 * MIB], data[5 * MIB :]]
    with S3Store(s3).start_multipart(spec) as upload:
        uploaded = [upload.upload_part(n, p, CRC.compute(p)) for n, p in enumerate(parts, 1)]
        first = upload.complete(uploaded, len(data), CRC.compute(data))
        again = upload.complete(uploaded, len(data), CRC.compute(data))
    assert (again.etag, again.version_id, again.adopted) == (first.etag, first.version_id, True)
    assert target.stored.keys() == [spec.key]
    assert target.stored.open_uploads() == []
