import itertools

import pytest

from ft_archiver.domain.parts import (
    GIB,
    MIB,
    PART_SIZE_FLOOR,
    RUNTIME_RESERVE,
    S3_MAX_PARTS,
    Lanes,
    default_memory_budget,
    parse_size,
    plan_lanes,
    plan_parts,
)
from ft_archiver.errors import ArchiveTooLargeError, ConfigurationError
from ft_archiver.settings import CliSettings

TIB = 1024 * GIB


def test_ranges_cover_the_archive_exactly() -> None:
    plan = plan_parts(40 * MIB + 3, 16 * MIB)
    ranges = list(plan.ranges())
    assert [r.number for r in ranges] == [1, 2, 3]
    assert ranges[-1].length == 8 * MIB + 3
    assert sum(r.length for r in ranges) == plan.size
    assert all(b.start == a.end + 1 for a, b in itertools.pairwise(ranges))


def test_small_archive_is_a_single_request() -> None:
    assert plan_parts(16 * MIB, 16 * MIB).single_request
    assert plan_parts(0).single_request
    assert not plan_parts(16 * MIB + 1, 16 * MIB).single_request


def test_part_size_grows_to_fit_ten_thousand_parts() -> None:
    size = 300 * 10**9  # 300 GB
    plan = plan_parts(size, 16 * MIB)
    assert plan.count <= S3_MAX_PARTS
    assert plan.part_size % MIB == 0
    assert plan.part_size == 29 * MIB


def test_part_size_is_never_shrunk() -> None:
    assert plan_parts(10 * GIB, 64 * MIB).part_size == 64 * MIB


def test_archive_beyond_s3_limits_is_refused() -> None:
    with pytest.raises(ArchiveTooLargeError):
        plan_parts(S3_MAX_PARTS * 5 * GIB + 1)


def test_part_size_below_the_floor_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"8 MiB \(ft-archiver's smallest part\)"):
        plan_parts(100 * MIB, PART_SIZE_FLOOR - 1)


def test_floor_can_be_lowered_for_emulators() -> None:
    assert plan_parts(10 * MIB, 256 * 1024, min_part_size=64 * 1024).count == 40


def test_a_buffer_per_lane_within_the_memory_budget() -> None:
    assert plan_lanes(8, 8, 8 * MIB, GIB) == Lanes(8, 8, 16)
    assert plan_lanes(8, 8, 128 * MIB, GIB) == Lanes(8, 8, 8)
    assert plan_lanes(8, 8, 512 * MIB, GIB) == Lanes(2, 2, 2)
    assert plan_lanes(8, 8, 5 * GIB, GIB) == Lanes(1, 1, 1)


@pytest.mark.parametrize(
    ("function_mb", "budget"),
    [(None, GIB), (1024, 768 * MIB), (10240, 9984 * MIB), (512, 256 * MIB), (256, 128 * MIB)],
)
def test_the_budget_leaves_the_runtime_its_reserve(function_mb: int | None, budget: int) -> None:
    assert default_memory_budget(function_mb) == budget


@pytest.mark.parametrize(
    ("size", "part_size", "lanes"),
    [
        # 52 MiB parts: 14 buffers (728 MiB) instead of the 20 (1040 MiB) a fixed 1 GiB
        # budget allowed, which with the runtime exceeded the function's 1024 MB.
        (500 * GIB, 52 * MIB, Lanes(downloads=14, uploads=8, buffers=14)),
        # 525 MiB parts: one at a time (a second would not fit).
        (5 * TIB, 525 * MIB, Lanes(downloads=1, uploads=1, buffers=1)),
    ],
)
def test_the_plan_at_the_default_1024_mb_fits_the_function(
    size: int, part_size: int, lanes: Lanes
) -> None:
    settings = CliSettings.model_validate({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"})
    plan = plan_parts(size, settings.part_size, settings.part_size_floor)
    planned = plan_lanes(
        settings.concurrency, settings.upload_concurrency, plan.part_size, settings.memory_budget
    )
    assert (plan.part_size, planned) == (part_size, lanes)
    assert plan.part_size * planned.buffers + RUNTIME_RESERVE <= 1024 * MIB


def test_a_larger_function_runs_huge_parts_in_parallel() -> None:
    settings = CliSettings.model_validate({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"})
    plan = plan_parts(5 * TIB, settings.part_size, settings.part_size_floor)
    planned = plan_lanes(
        settings.concurrency, settings.upload_concurrency, plan.part_size, settings.memory_budget
    )
    assert planned == Lanes(downloads=19, uploads=8, buffers=19)
    assert plan.part_size * planned.buffers + RUNTIME_RESERVE <= 10240 * MIB


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("16MiB", 16 * MIB), ("8 MB", 8_000_000), ("1048576", MIB), ("1.5GiB", 3 * GIB // 2),
        ("150GB", 150 * 10**9), ("1TB", 10**12), ("10 tb", 10**13), ("2TiB", 2 * TIB),
        ("2T", 2 * TIB), ("48.8TiB", 53_656_167_435_468), ("500MiB", 500 * MIB),
        ("4.35GB", 4_350_000_000), ("53687091200000", 53_687_091_200_000), ("1e3GB", 10**12),
    ],
)  # fmt: skip
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "12XB", "", "GB", "1.5.5GB", "0x10", "5 . 5 MB"])
def test_parse_size_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        parse_size(text)


def test_parse_size_refuses_an_absurd_exponent_at_once() -> None:
    with pytest.raises(ValueError, match="far larger than any size"):
        parse_size("1e999999999")


def test_a_part_larger_than_the_memory_budget_is_refused_before_any_transfer() -> None:
    from ft_archiver.domain.parts import check_part_fits

    check_part_fits(768 * MIB, 768 * MIB)  # one buffer: fits
    with pytest.raises(ConfigurationError, match=r"needs ArchiverMemorySize 1210 or more"):
        check_part_fits(954 * MIB, 768 * MIB)  # 10 TB in parts at 1024 MB
