"""The sizing of an archive, against expectations computed by hand from the constants, and
the constants against what they stand for (the template, the settings)."""

from typing import Any

import pytest

from ft_archiver.domain import prices, sizing
from ft_archiver.domain.distributed_defaults import DEFAULT_VERIFY_SHA256_UP_TO
from ft_archiver.domain.parts import GIB, MIB, S3_MAX_OBJECT_SIZE, Lanes, default_memory_budget
from ft_archiver.domain.sizing import min_memory_mb, size_archive
from ft_archiver.errors import ArchiveTooLargeError, RuleError
from ft_archiver.settings import CliSettings
from ft_archiver_tools.template import load_template

GB = 1000**3
TB = 1000**4
TEMPLATE = load_template()
# Round rates, for arithmetic done by hand; the measured ones are sizing's own constants.
PER_WORKER_BPS = 100e6
VERIFY_READ_BPS = 200e6


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9)


def test_ten_gb_is_one_invocation_of_the_single_function() -> None:
    plan = size_archive(10 * GB, per_worker_bps=PER_WORKER_BPS, verify_read_bps=VERIFY_READ_BPS)
    # 8 MiB parts: 10e9 / 8,388,608 = 1,192.09 -> 1,193. At 100 MB/s: 100 s of transfer,
    # within one invocation's 840 s; plus the invocation's 2 s.
    assert (plan.path, plan.part_size, plan.parts, plan.batches) == ("single", 8 * MIB, 1193, None)
    assert plan.wall_s == approx(102.0)
    assert plan.verify_s == 0
    assert (plan.invocations, plan.state_transitions) == (1, 0)
    assert plan.gb_seconds == approx(102.0)  # 1024 MB = 1 GB, busy 102 s
    assert plan.s3_put_requests == 1193 + 2  # Create, the parts, Complete
    assert plan.costs.lambda_compute == approx(102 * 0.0000166667)
    assert plan.costs.lambda_requests == approx(0.0000002)
    assert plan.costs.step_functions == 0
    assert plan.costs.s3_requests == approx(1195 * 0.000005)
    assert plan.costs.total == approx(0.0017000034 + 0.0000002 + 0.005975)
    assert plan.costs.storage_per_month == approx(10e9 / 2**30 * 0.023)
    assert (plan.lanes, plan.fits_memory, plan.notes) == (Lanes(20, 8, 28), True, [])


def test_a_single_archive_continues_once_per_840_seconds_of_work() -> None:
    # 20 GiB at 20 MB/s: 1,073.7 s of transfer, two invocations.
    plan = size_archive(20 * GIB, per_worker_bps=20 * 1000**2)
    assert plan.path == "single"
    assert plan.invocations == 2
    assert plan.wall_s == approx(20 * GIB / 20e6 + 2 * 2)


def test_150_gb_fans_out_over_18_batches() -> None:
    plan = size_archive(150 * GB, per_worker_bps=PER_WORKER_BPS, verify_read_bps=VERIFY_READ_BPS)
    # Parts grow to ceil(15,000,000 B / 1 MiB) = 15 MiB; 150e9 / 15 MiB = 9,536.7 -> 9,537.
    # 8 GiB holds 546 of them (8,190 MiB); 9,537 / 546 = 17.5 -> 18 batches, one round.
    assert (plan.path, plan.part_size, plan.parts, plan.batches) == (
        "distributed", 15 * MIB, 9537, 18,
    )  # fmt: skip
    batch_s = 546 * 15 * MIB / 100e6 + 2  # 87.88 s
    verify_s = 150e9 / 200e6 + 1 * 2  # one VerifySha256 invocation: 750 s of reading
    assert plan.batch_s == approx(batch_s)
    assert plan.verify_s == approx(verify_s)
    assert plan.wall_s == approx(5 + batch_s + 30 + verify_s)  # Plan, 1 round, Complete
    busy = 5 + 1500 + 18 * 2 + 30 + verify_s  # 2,323 s
    assert plan.gb_seconds == approx(busy)
    assert plan.invocations == 1 + 18 + 1 + 1
    assert plan.state_transitions == 3 + 18 * 2 + 1 * 2
    assert plan.s3_put_requests == 9537 + 2
    assert plan.costs.lambda_compute == approx(2323 * 0.0000166667)
    assert plan.costs.step_functions == approx(41 * 0.000025)
    assert plan.costs.total == approx(0.0387167441 + 21 * 0.0000002 + 0.001025 + 9539 * 0.000005)
    assert (plan.lanes, plan.min_memory_mb, plan.notes) == (Lanes(20, 8, 28), 256, [])


def test_the_largest_archive_s3_takes() -> None:
    plan = size_archive(
        S3_MAX_OBJECT_SIZE, per_worker_bps=PER_WORKER_BPS, verify_read_bps=VERIFY_READ_BPS
    )
    # 10,000 parts of 5 GiB; at most 1,000 batches (the execution state's limit), so ten
    # parts a batch: 50 rounds of 20 workers. Far above 200 GiB: no read-back.
    assert (plan.part_size, plan.parts, plan.batches) == (5 * GIB, 10_000, 1_000)
    batch_s = 50 * GIB / 100e6 + 2  # 538.87 s, within one invocation's 840 s
    assert plan.verify_s == 0
    assert plan.wall_s == approx(5 + 50 * batch_s + 30)
    assert plan.invocations == 1 + 1_000 + 1
    assert plan.state_transitions == 3 + 2_000
    assert plan.s3_put_requests == 10_002
    # A 5 GiB part cannot fit a 1024 MB function: it needs 5,120 + 256 MB.
    assert (plan.fits_memory, plan.min_memory_mb) == (False, 5376)
    assert plan.notes == [
        "a part of 5 GiB does not fit the 768 MiB of part buffers a 1024 MB function has: "
        "an archive this large needs ArchiverMemorySize 5376 or more"
    ]


def test_ten_tb_needs_more_memory_than_the_default() -> None:
    plan = size_archive(10 * TB)  # parts of ceil(1e9 / 1 MiB) = 954 MiB
    assert (plan.part_size, plan.min_memory_mb, plan.fits_memory) == (954 * MIB, 1210, False)
    assert size_archive(10 * TB, memory_mb=1210).fits_memory


def test_fewer_lanes_than_the_rate_assumes_is_noted() -> None:
    plan = size_archive(1 * TB)  # 96 MiB parts: 8 buffers in 768 MiB
    assert plan.lanes == Lanes(8, 8, 8)
    assert plan.notes == [
        "8 part buffer(s) of 96 MiB fit in 1024 MB: 8 GET(s) and 8 UploadPart(s) at once, "
        "fewer than the rate assumes, so slower than estimated"
    ]


def test_a_batch_longer_than_an_invocation_is_noted() -> None:
    # 10 MiB parts, 819 to a batch: 8,190 MiB at 10 MB/s is 858.8 s, and the 2 s start.
    plan = size_archive(100 * GB, per_worker_bps=10e6)
    assert plan.notes[-1].startswith("a batch takes about 861 s, more than one invocation's 840")


def test_the_threshold_is_inclusive_for_the_distributed_path() -> None:
    assert size_archive(50 * GIB - 1).path == "single"
    assert size_archive(50 * GIB).path == "distributed"
    assert size_archive(50 * GIB, fan_out_threshold_gib=51).path == "single"


def test_more_workers_fewer_rounds() -> None:
    slow, fast = size_archive(1 * TB, workers=20), size_archive(1 * TB, workers=117)
    assert slow.batches == fast.batches == 117  # 9,935 parts of 96 MiB, 85 per batch
    assert slow.wall_s - fast.wall_s == approx(5 * slow.batch_s)  # 6 rounds against 1
    assert slow.gb_seconds == approx(fast.gb_seconds)  # the same work, sooner


def test_without_the_sha256_read_back() -> None:
    plan = size_archive(150 * GB, verify_sha256_up_to=0)
    assert plan.verify_s == 0
    assert (plan.invocations, plan.state_transitions) == (20, 3 + 36)


def test_memory_scales_gb_seconds() -> None:
    small, large = size_archive(150 * GB), size_archive(150 * GB, memory_mb=2048)
    assert large.gb_seconds == approx(2 * small.gb_seconds)
    assert large.costs.lambda_compute == approx(2 * small.costs.lambda_compute)


def test_a_zero_byte_archive_is_one_put() -> None:
    plan = size_archive(0)
    assert (plan.path, plan.parts, plan.s3_put_requests, plan.invocations) == ("single", 1, 1, 1)


@pytest.mark.parametrize(
    ("size", "workers", "memory", "message"),
    [
        (-1, 20, 1024, "is negative"),
        (S3_MAX_OBJECT_SIZE + 1, 20, 1024, "over S3's maximum object size of 48.8 TiB"),
        (GB, 0, 1024, "workers must be 1 to 10,000"),
        (GB, 10_001, 1024, "workers must be 1 to 10,000"),
        (GB, 20, 255, "memory must be 256 to 10240 MB"),
        (GB, 20, 10241, "memory must be 256 to 10240 MB"),
    ],
)
def test_refused(size: int, workers: int, memory: int, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        size_archive(size, workers, memory)


def test_over_the_maximum_is_archive_too_large() -> None:
    with pytest.raises(ArchiveTooLargeError, match=f"{S3_MAX_OBJECT_SIZE:,} bytes"):
        size_archive(S3_MAX_OBJECT_SIZE + 1)


@pytest.mark.parametrize("part_mib", [8, 15, 96, 127, 128, 129, 300, 954, 5120])
def test_min_memory_is_the_least_that_holds_a_part(part_mib: int) -> None:
    least = next(
        mb for mb in range(sizing.MIN_MEMORY_MB, sizing.MAX_MEMORY_MB + 1)
        if default_memory_budget(mb) >= part_mib * MIB
    )  # fmt: skip
    assert min_memory_mb(part_mib * MIB) == least


def test_defaults_are_the_templates_and_the_settings() -> None:
    memory = TEMPLATE["Parameters"]["ArchiverMemorySize"]
    assert (memory["Default"], memory["MinValue"], memory["MaxValue"]) == (
        sizing.DEFAULT_MEMORY_MB, sizing.MIN_MEMORY_MB, sizing.MAX_MEMORY_MB,
    )  # fmt: skip
    parameters = TEMPLATE["Parameters"]
    assert (
        parameters["FanOutThreshold"]["Default"], parameters["DistributedWorkers"]["Default"],
        parameters["DistributedBatchGiB"]["Default"] * GIB,
        parameters["VerifySha256UpToGiB"]["Default"] * GIB,
    ) == (
        sizing.FAN_OUT_THRESHOLD_GIB, sizing.DEFAULT_WORKERS, sizing.BATCH_BYTES,
        DEFAULT_VERIFY_SHA256_UP_TO,
    )  # fmt: skip
    timeout = TEMPLATE["Resources"]["ArchiverFunction"]["Properties"]["Timeout"]
    settings = CliSettings.model_validate({})
    assert timeout - settings.deadline_margin_s == sizing.WORK_WINDOW_S
    plan = size_archive(GIB)
    assert plan.part_size == settings.part_size
    assert (plan.lanes.downloads, plan.lanes.uploads) == (
        settings.concurrency, settings.upload_concurrency,
    )  # fmt: skip


def test_the_lambda_price_is_the_templates_architecture() -> None:
    assert TEMPLATE["Globals"]["Function"]["Architectures"] == ["x86_64"]
    assert sizing.LAMBDA_USD_PER_GB_SECOND == prices.LAMBDA_X86_USD_PER_GB_SECOND
