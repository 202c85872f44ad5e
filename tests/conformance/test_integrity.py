"""What S3 itself guarantees once ft-archiver's checksums are on the wire (LocalStack)."""

import time
from collections.abc import Callable
from typing import Any

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.events import EventBridgePublisher
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_held import S3HeldArchives
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import StorageError
from ft_archiver.service.archive import Archiver
from ft_archiver.service.control import Archived, TransferControl, without_deadline
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.options import transfer_options
from ft_archiver.wiring.together import together_client
from ft_archiver_tools.local.simulator import TogetherSimulator
from tests.support.fakes import FakeArchiveLedger
from tests.support.faults import body_of, tamper

from .conftest import Target

MIB = 1024 * 1024
CRC = ALGORITHMS["CRC64NVME"]  # the archiver's default, which the target keeps


def flipped(body: bytes) -> bytes:
    data = bytearray(body)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def archiver(target: Target) -> tuple[Archiver, Any]:
    """The archiver, and its S3 client for a test to tamper with."""
    settings = target.settings
    s3 = aws_client("s3", settings, 12)
    publisher = EventBridgePublisher(aws_client("events", settings), settings.event_bus_name)
    options = transfer_options(settings)
    held = S3HeldArchives(s3)
    the_archiver = Archiver(
        together_client(settings), S3Store(s3), publisher, options, sha256_state, held
    )
    return the_archiver, s3


def run(target: Target, together: TogetherSimulator, size: int) -> tuple[Any, str]:
    job = together.add_job("Lora", size=size, model_output_name=f"conf-{time.time_ns()}")
    archive = together.archive_for(job.id, "merged")
    the_archiver, _ = archiver(target)
    outcome = the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    return without_deadline(outcome).detail, together.sha256(archive)


def failing(
    target: Target,
    together: TogetherSimulator,
    size: int,
    operation: str,
    change: Callable[[dict[str, Any]], None],
) -> StorageError:
    """An archive whose ``operation`` requests ``change`` alters: the error it fails with."""
    job = together.add_job("Lora", size=size, model_output_name=f"bad-{time.time_ns()}")
    the_archiver, s3 = archiver(target)
    tamper(s3, operation, change)
    with pytest.raises(StorageError) as caught:
        the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    target.stored.assert_nothing_written()
    return caught.value


def test_full_object_checksum_is_accepted_and_stored(
    target: Target, together: TogetherSimulator
) -> None:
    detail, expected = run(target, together, 23 * MIB + 11)
    assert detail.parts == 5
    head = target.stored.head(detail.key)
    assert head["ChecksumCRC64NVME"] == detail.checksum
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


def test_a_corrupted_part_is_refused_and_the_upload_aborted(
    target: Target, together: TogetherSimulator
) -> None:
    def corrupt_part_two(params: dict[str, Any]) -> None:
        if params["PartNumber"] == 2:
            params["Body"] = flipped(body_of(params))

    error = failing(target, together, 16 * MIB, "UploadPart", corrupt_part_two)
    assert "UploadPart 2" in str(error)
    assert "BadDigest" in str(error) or "InvalidRequest" in str(error)


def test_a_wrong_full_object_checksum_is_refused(
    target: Target, together: TogetherSimulator
) -> None:
    def wrong_total(params: dict[str, Any]) -> None:
        params[CRC.s3_field] = CRC.encode(CRC.decode(params[CRC.s3_field]) ^ 1)

    error = failing(target, together, 12 * MIB, "CompleteMultipartUpload", wrong_total)
    assert "CompleteMultipartUpload" in str(error)


def test_misnumbered_parts_cannot_complete(target: Target, together: TogetherSimulator) -> None:
    def swap_two_and_three(params: dict[str, Any]) -> None:
        by_number = {part["PartNumber"]: part for part in params["MultipartUpload"]["Parts"]}
        two, three = by_number[2], by_number[3]
        for field in ("ETag", CRC.s3_field):  # part 2 claims part 3's, and 3 claims 2's
            two[field], three[field] = three[field], two[field]

    error = failing(target, together, 18 * MIB, "CompleteMultipartUpload", swap_two_and_three)
    assert "CompleteMultipartUpload" in str(error)


def test_a_corrupted_single_put_is_refused(target: Target, together: TogetherSimulator) -> None:
    def corrupt_put(params: dict[str, Any]) -> None:
        params["Body"] = flipped(body_of(params))

    error = failing(target, together, 3 * MIB, "PutObject", corrupt_put)
    assert "PutObject" in str(error)


def test_parts_finishing_in_reverse_order_give_the_right_object(
    target: Target, together: TogetherSimulator
) -> None:
    job = together.add_job("Lora", size=26 * MIB, model_output_name=f"rev-{time.time_ns()}")
    the_archiver, s3 = archiver(target)

    def late_first(params: dict[str, Any]) -> None:
        time.sleep(0.5 / params["PartNumber"])  # part 1 finishes last

    tamper(s3, "UploadPart", late_first)
    outcome = the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    detail = without_deadline(outcome).detail
    expected = together.sha256(together.archive_for(job.id, "merged"))
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


def test_a_part_uploaded_twice_keeps_the_last_bytes(
    target: Target, together: TogetherSimulator
) -> None:
    job = together.add_job("Lora", size=17 * MIB, model_output_name=f"dup-{time.time_ns()}")
    the_archiver, s3 = archiver(target)
    untouched = aws_client("s3", target.settings)

    def stale_retry_first(params: dict[str, Any]) -> None:
        garbage = flipped(body_of(params))
        untouched.upload_part(**{**params, "Body": garbage,
                                 CRC.s3_field: CRC.encode(CRC.compute(garbage))})  # fmt: skip

    tamper(s3, "UploadPart", stale_retry_first)
    outcome = the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    detail = without_deadline(outcome).detail
    expected = together.sha256(together.archive_for(job.id, "merged"))
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


def test_many_parts_round_trip(target: Target, together: TogetherSimulator) -> None:
    detail, expected = run(target, together, 512 * MIB + 3)
    assert detail.parts == 103
    assert detail.etag.endswith('-103"')
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


def test_an_archive_resumed_over_several_invocations_completes_with_the_right_checksums(
    target: Target, together: TogetherSimulator
) -> None:
    """Suspend, ListParts, resume and complete against an S3 that checks every checksum."""
    from ft_archiver_tools.local.simulator import Faults

    job = together.add_job("Lora", size=40 * MIB + 7, model_output_name=f"res-{time.time_ns()}")
    archive = together.archive_for(job.id, "merged")
    together.set_faults(Faults(rate_limit_bps=2 * MIB))
    ledger = FakeArchiveLedger()  # LocalStack has no DynamoDB here
    settings = target.settings.model_copy(update={"concurrency": 2, "upload_concurrency": 2})
    invocations = 0
    detail = None
    while detail is None and invocations < 20:
        invocations += 1
        ends = time.monotonic() + 2.5

        def remaining(ends: float = ends) -> float:
            return ends - time.monotonic()

        the_archiver = Archiver(
            together_client(settings),
            S3Store(aws_client("s3", settings, 8)),
            EventBridgePublisher(aws_client("events", settings), "default"),
            transfer_options(settings),
            sha256_state,
            S3HeldArchives(aws_client("s3", settings)),
            ledger=ledger,
            deadline_margin_s=1.5,
        )
        outcome = the_archiver.archive(
            ArchiveRequest(job.id),
            Destination(target.bucket),
            TransferControl(remaining_s=remaining),
        )
        if isinstance(outcome, Archived):
            detail = outcome.detail
    assert detail is not None
    assert invocations >= 3
    head = target.stored.head(detail.key)
    assert head["ChecksumCRC64NVME"] == detail.checksum
    assert target.stored.sha256_of(detail.key) == together.sha256(archive) == detail.sha256
    assert target.stored.open_uploads() == []
