"""Every checksum mode (issue 19) against both servers that check checksums: what the
store keeps for an archive in each, that a wrong value is refused with BadDigest, and
that a composite upload resumes (its part checksums come back from ListParts)."""

import time
from typing import Any

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.events import EventBridgePublisher
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_held import S3HeldArchives
from ft_archiver.domain.checksums import ALGORITHMS, ChecksumMode
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import StorageError
from ft_archiver.service.archive import Archiver
from ft_archiver.service.control import Archived, TransferControl, without_deadline
from ft_archiver.settings import CliSettings
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.options import transfer_options
from ft_archiver.wiring.together import together_client
from ft_archiver_tools.doctor.checksum_modes import checksum_modes
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from tests.support.fakes import FakeArchiveLedger
from tests.support.faults import body_of, tamper

from .conftest import Target

MIB = 1024 * 1024
CRC32C = ALGORITHMS["CRC32C"]


def moded(target: Target, mode: ChecksumMode, **update: Any) -> CliSettings:
    """The target's settings in ``mode`` (composite with CRC32C, as the settings pick)."""
    variables = {"FT_ARCHIVER_CHECKSUM_MODE": mode}
    return CliSettings.model_validate(
        {**target.settings.model_dump(exclude_unset=True), **variables, **update}
    )


def archiver(settings: CliSettings, **extra: Any) -> tuple[Archiver, Any]:
    s3 = aws_client("s3", settings, 12)
    publisher = EventBridgePublisher(aws_client("events", settings), settings.event_bus_name)
    store = S3Store(s3, settings.checksum_mode)
    options = transfer_options(settings)
    held = S3HeldArchives(s3, settings.checksum_mode)
    the_archiver = Archiver(
        together_client(settings), store, publisher, options, sha256_state, held, **extra
    )
    return the_archiver, s3


def archive(target: Target, together: TogetherSimulator, mode: ChecksumMode, size: int) -> Any:
    job = together.add_job("Lora", size=size, model_output_name=f"{mode}-{time.time_ns()}")
    the_archiver, _ = archiver(moded(target, mode))
    outcome = the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    detail = without_deadline(outcome).detail
    expected = together.sha256(together.archive_for(job.id, "merged"))
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256
    assert target.stored.open_uploads() == []
    return detail


def test_composite_keeps_the_checksum_of_the_parts_checksums(
    target: Target, together: TogetherSimulator
) -> None:
    detail = archive(target, together, "composite", 23 * MIB + 11)
    assert (detail.proof, detail.checksum_algorithm, detail.parts) == (
        "composite-checksum", "CRC32C", 5,
    )  # fmt: skip
    head = target.stored.head(detail.key)
    assert head["ChecksumType"] == "COMPOSITE"
    data = target.stored.client.get_object(Bucket=target.bucket, Key=detail.key)["Body"].read()
    size = detail.part_size
    parts = [data[start : start + size] for start in range(0, len(data), size)]
    expected = CRC32C.composite(CRC32C.compute(part) for part in parts)
    assert head["ChecksumCRC32C"] == expected
    assert expected.endswith("-5")
    assert detail.checksum == CRC32C.encode(CRC32C.compute(data))  # the whole archive's


def test_composite_single_put_keeps_the_objects_crc(
    target: Target, together: TogetherSimulator
) -> None:
    detail = archive(target, together, "composite", 3 * MIB)
    assert detail.parts == 1
    assert target.stored.head(detail.key)["ChecksumCRC32C"] == detail.checksum


@pytest.mark.parametrize("size", [18 * MIB + 5, 3 * MIB], ids=["multipart", "single"])
def test_none_proves_the_archive_by_reading_it_back(
    target: Target, together: TogetherSimulator, size: int
) -> None:
    detail = archive(target, together, "none", size)
    assert detail.proof == "sha256-read-back"
    manifest = target.stored.manifest(f"{detail.key}.manifest.json")
    assert manifest["result"]["proof"] == "sha256-read-back"


def test_a_corrupt_part_in_composite_mode_is_refused_with_bad_digest(
    target: Target, together: TogetherSimulator
) -> None:
    job = together.add_job("Lora", size=16 * MIB, model_output_name=f"bad-{time.time_ns()}")
    the_archiver, s3 = archiver(moded(target, "composite"))

    def corrupt_part_two(params: dict[str, Any]) -> None:
        if params["PartNumber"] == 2:
            data = bytearray(body_of(params))
            data[7] ^= 0xFF
            params["Body"] = bytes(data)

    tamper(s3, "UploadPart", corrupt_part_two)
    with pytest.raises(StorageError, match=r"UploadPart 2 .*BadDigest"):
        the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    target.stored.assert_nothing_written()


def test_a_composite_archive_resumes_over_several_invocations(
    target: Target, together: TogetherSimulator
) -> None:
    """Suspended and resumed: Complete needs every part's CRC32C, which SeaweedFS's
    ListParts does not return; the saved progress carries them."""
    job = together.add_job("Lora", size=40 * MIB + 7, model_output_name=f"res-{time.time_ns()}")
    archive_ = together.archive_for(job.id, "merged")
    together.set_faults(Faults(rate_limit_bps=2 * MIB))
    ledger = FakeArchiveLedger()
    settings = moded(target, "composite", concurrency=2, upload_concurrency=2)
    invocations, detail = 0, None
    while detail is None and invocations < 20:
        invocations += 1
        ends = time.monotonic() + 2.5

        def remaining(ends: float = ends) -> float:
            return ends - time.monotonic()

        the_archiver, _ = archiver(settings, ledger=ledger, deadline_margin_s=1.5)
        outcome = the_archiver.archive(
            ArchiveRequest(job.id),
            Destination(target.bucket),
            TransferControl(remaining_s=remaining),
        )
        if isinstance(outcome, Archived):
            detail = outcome.detail
    assert detail is not None
    assert invocations >= 3
    assert target.stored.head(detail.key)["ChecksumType"] == "COMPOSITE"
    assert target.stored.sha256_of(detail.key) == together.sha256(archive_) == detail.sha256
    assert target.stored.open_uploads() == []


def test_the_doctor_finds_both_checked_modes_kept(target: Target) -> None:
    """``doctor --write-test``'s probe: each mode's one-part upload echoed and verified,
    its wrong part refused, and nothing left behind."""
    s3 = aws_client("s3", target.settings)
    check = checksum_modes(s3, target.bucket, "probe/", "full-object", "CRC64NVME")
    assert check.ok, check.detail
    assert check.detail.startswith(
        "the store keeps full-object, composite, none (configured: full-object): "
        "full-object CRC64NVME kept, and a wrong one refused; composite CRC32C kept, and "
        "a wrong one refused"
    )
    assert target.stored.keys() == []
    assert target.stored.open_uploads() == []
