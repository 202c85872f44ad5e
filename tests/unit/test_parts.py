import itertools

import pytest

from ft_archiver.domain.parts import (
    GIB,
    MIB,
    PART_SIZE_FLOOR,
    S3_MAX_PARTS,
    Lanes,
    parse_size,
    plan_lanes,
    plan_parts,
)
from ft_archiver.errors import ArchiveTooLargeError, ConfigurationError


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
    ("text", "size"),
    [("16MiB", 16 * MIB), ("8 MB", 8_000_000), ("1048576", MIB), ("1.5GiB", 3 * GIB // 2)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="cannot read"):
        parse_size("lots")
