"""Batches of consecutive parts: every part exactly once, in order, within the batch size."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ft_archiver.domain.batches import MAX_BATCHES, Batch, parts_per_batch, plan_batches
from ft_archiver.domain.parts import GIB, MIB, S3_MAX_PART_SIZE, S3_MAX_PARTS, PartPlan, plan_parts
from ft_archiver.errors import ConfigurationError

BATCH = 8 * GIB


def check_cover(plan: PartPlan, batches: list[Batch], batch_bytes: int) -> None:
    """The invariants every plan of batches keeps."""
    numbers = [n for b in batches for n in range(b.first_part, b.last_part + 1)]
    assert numbers == list(range(1, plan.count + 1))  # every part once, in order
    assert batches[0].start == 0
    assert all(b.start == a.end + 1 for a, b in itertools.pairwise(batches))  # contiguous
    assert sum(b.length for b in batches) == plan.size
    ranges = {r.number: r for r in plan.ranges()}
    for batch in batches:
        assert batch.parts >= 1
        assert batch.start == ranges[batch.first_part].start
        numbered = range(batch.first_part, batch.last_part + 1)
        assert batch.length == sum(ranges[n].length for n in numbered)
        assert batch.length <= batch_bytes or batch.parts <= -(-plan.count // MAX_BATCHES)
    per_batch = max(1, batch_bytes // plan.part_size, -(-plan.count // MAX_BATCHES))
    assert len(batches) == -(-plan.count // per_batch)
    assert len(batches) <= MAX_BATCHES
    # Every batch but the last is full: no run is cut short before the end.
    assert all(b.parts == per_batch for b in batches[:-1])


@settings(max_examples=500, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=S3_MAX_PARTS * S3_MAX_PART_SIZE),
    part_mib=st.integers(min_value=8, max_value=5 * 1024),
    batch_bytes=st.integers(min_value=1, max_value=64 * GIB),
)
def test_batches_cover_every_part_once_in_order(size: int, part_mib: int, batch_bytes: int) -> None:
    plan = plan_parts(size, part_mib * MIB)
    check_cover(plan, plan_batches(plan, batch_bytes), batch_bytes)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.integers(min_value=1, max_value=S3_MAX_PARTS),
    tail=st.integers(min_value=0, max_value=8 * MIB - 1),
    per_batch=st.integers(min_value=1, max_value=S3_MAX_PARTS + 1),
)
def test_batch_count_is_the_parts_over_parts_per_batch_rounded_up(
    parts: int, tail: int, per_batch: int
) -> None:
    # ``parts`` whole 8 MiB parts, or ``parts - 1`` and a shorter last one.
    size = parts * 8 * MIB if tail == 0 else (parts - 1) * 8 * MIB + tail
    plan = PartPlan(size, 8 * MIB)
    batches = plan_batches(plan, per_batch * 8 * MIB)
    assert plan.count == parts
    assert len(batches) == -(-parts // max(per_batch, -(-parts // MAX_BATCHES)))
    check_cover(plan, batches, per_batch * 8 * MIB)


def test_eight_gib_batches_of_the_default_parts() -> None:
    plan = plan_parts(20 * GIB + 3)  # 8 MiB parts: 2,560 full ones and 3 bytes
    batches = plan_batches(plan, BATCH)
    assert parts_per_batch(plan, BATCH) == 1024
    assert batches == [
        Batch(1, 1024, 0, 8 * GIB),
        Batch(1025, 2048, 8 * GIB, 8 * GIB),
        Batch(2049, 2561, 16 * GIB, 4 * GIB + 3),
    ]


def test_ten_thousand_parts_of_eight_mib() -> None:
    plan = plan_parts(S3_MAX_PARTS * 8 * MIB)
    assert (plan.part_size, plan.count) == (8 * MIB, S3_MAX_PARTS)
    batches = plan_batches(plan, BATCH)
    assert len(batches) == 10  # 9 of 1,024 parts, then 784
    assert batches[-1] == Batch(9217, 10_000, 9216 * 8 * MIB, 784 * 8 * MIB)
    check_cover(plan, batches, BATCH)


def test_the_largest_archive_s3_takes_is_at_most_max_batches() -> None:
    """10,000 parts of 5 GiB: a part is larger than half a batch, but a batch per part
    would not fit the execution's state: ten parts a batch."""
    plan = plan_parts(S3_MAX_PARTS * S3_MAX_PART_SIZE)
    assert (plan.part_size, plan.count) == (S3_MAX_PART_SIZE, S3_MAX_PARTS)
    batches = plan_batches(plan, BATCH)
    assert len(batches) == MAX_BATCHES == 1000
    assert batches[-1] == Batch(9_991, 10_000, 9_990 * S3_MAX_PART_SIZE, 10 * S3_MAX_PART_SIZE)
    check_cover(plan, batches, BATCH)


def test_a_part_larger_than_a_batch_is_a_batch_of_its_own() -> None:
    plan = PartPlan(3 * GIB, GIB)
    assert plan_batches(plan, 512 * MIB) == [
        Batch(1, 1, 0, GIB), Batch(2, 2, GIB, GIB), Batch(3, 3, 2 * GIB, GIB),
    ]  # fmt: skip


@pytest.mark.parametrize("size", [0, 1, 8 * MIB])
def test_an_archive_of_one_part_or_none_is_one_batch(size: int) -> None:
    plan = plan_parts(size)
    assert plan_batches(plan, BATCH) == [Batch(1, 1, 0, size)]


def test_a_zero_byte_archive_is_one_empty_batch() -> None:
    (batch,) = plan_batches(plan_parts(0), BATCH)
    assert (batch.parts, batch.length, batch.end) == (1, 0, -1)


@pytest.mark.parametrize("batch_bytes", [0, -1])
def test_a_batch_size_must_be_positive(batch_bytes: int) -> None:
    with pytest.raises(ConfigurationError, match="not a positive number of bytes"):
        plan_batches(plan_parts(GIB), batch_bytes)
