"""If-None-Match: * as LocalStack's S3 answers it (closer to S3 than moto here): 412 on
Complete and PutObject where the key holds an object, and NoSuchUpload, not 200, to a
Complete repeated after the first one completed (S3's answer too; moto answers 200).
And the look before the first part (domain/held.py) on each store: another object is
refused before a byte is sent, the same archive found verified is not sent again."""

import time

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_held import S3HeldArchives
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.events import ARCHIVED
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import ArchiveConflictError
from ft_archiver.service.archive import Archiver
from ft_archiver.service.control import without_deadline
from ft_archiver.service.ports import ObjectSpec
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.options import transfer_options
from ft_archiver.wiring.together import together_client
from ft_archiver_tools.local.simulator import TogetherSimulator
from tests.support.fakes import FakePublisher

from .conftest import Target
from .test_integrity import archiver

MIB = 1024 * 1024
CRC = ALGORITHMS["CRC64NVME"]


SIZES = pytest.mark.parametrize("size", [11 * MIB + 3, 1 * MIB], ids=["multipart", "single"])


def quiet_archiver(target: Target) -> tuple[Archiver, FakePublisher]:
    """The archiver against the target's S3, its events kept in memory to be counted."""
    settings = target.settings
    s3 = aws_client("s3", settings, 12)
    publisher = FakePublisher()
    the_archiver = Archiver(
        together_client(settings), S3Store(s3), publisher, transfer_options(settings),
        sha256_state, S3HeldArchives(s3),
    )  # fmt: skip
    return the_archiver, publisher


def read_from_together(together: TogetherSimulator, job_id: str) -> list[str | None]:
    """The ranges of the archive's bytes read, its size probe aside."""
    archive = together.archive_for(job_id, "merged")
    return [r.range for r in together.blob_requests(archive) if r.range != "bytes=0-1"]


@SIZES
def test_another_object_at_the_key_is_refused_before_a_byte_is_sent(
    target: Target, together: TogetherSimulator, size: int
) -> None:
    name = f"taken-{time.time_ns()}"
    job = together.add_job("Lora", size=size, model_output_name=name)
    key = f"{name}.tar.zst"
    s3 = target.stored.client
    version = s3.put_object(Bucket=target.bucket, Key=key, Body=b"another archive")
    the_archiver, _ = archiver(target)
    with pytest.raises(ArchiveConflictError, match=r"already holds another object \(15 bytes"):
        the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    assert read_from_together(together, job.id) == []
    assert s3.get_object(Bucket=target.bucket, Key=key)["Body"].read() == b"another archive"
    assert target.stored.keys() == [key]
    assert target.stored.open_uploads() == []
    assert target.stored.head(key)["ETag"] == version["ETag"]


@SIZES
def test_an_object_of_the_same_size_is_refused_412_and_left_as_it_is(
    target: Target, together: TogetherSimulator, size: int
) -> None:
    """Nothing names it an archive: only the bytes can tell, and If-None-Match does."""
    name = f"blind-{time.time_ns()}"
    job = together.add_job("Lora", size=size, model_output_name=name)
    key = f"{name}.tar.zst"
    s3 = target.stored.client
    version = s3.put_object(Bucket=target.bucket, Key=key, Body=bytes(size))
    the_archiver, _ = archiver(target)
    with pytest.raises(ArchiveConflictError, match="PreconditionFailed"):
        the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    assert s3.get_object(Bucket=target.bucket, Key=key)["Body"].read() == bytes(size)
    assert target.stored.keys() == [key]
    assert target.stored.open_uploads() == []
    assert target.stored.head(key)["ETag"] == version["ETag"]


@SIZES
def test_the_same_archive_again_is_found_verified_and_not_sent_unless_forced(
    target: Target, together: TogetherSimulator, size: int
) -> None:
    """The store's HeadObject (size, ETag, version, metadata, checksum) and the manifest
    beside it prove the archive: no byte read, no second event; with force it is moved
    again and S3 finds these very bytes at Complete (or PutObject)."""
    job = together.add_job("Lora", size=size, model_output_name=f"again-{time.time_ns()}")
    the_archiver, publisher = quiet_archiver(target)
    where = Destination(target.bucket)
    first = without_deadline(the_archiver.archive(ArchiveRequest(job.id), where))
    reads = read_from_together(together, job.id)
    again = without_deadline(the_archiver.archive(ArchiveRequest(job.id), where))
    assert again.transferred is False
    assert again.detail == first.detail.model_copy(update={"duration_s": 0.0})
    assert read_from_together(together, job.id) == reads
    assert [kind for kind, _ in publisher.events] == [ARCHIVED]
    forced = without_deadline(the_archiver.archive(ArchiveRequest(job.id), where, force=True))
    assert len(read_from_together(together, job.id)) == 2 * len(reads)
    assert (forced.detail.etag, forced.detail.sha256) == (first.detail.etag, first.detail.sha256)
    assert [kind for kind, _ in publisher.events] == [ARCHIVED, ARCHIVED]
    assert sorted(target.stored.keys()) == sorted(
        [first.detail.key, f"{first.detail.key}.manifest.json"]
    )
    assert target.stored.open_uploads() == []


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
