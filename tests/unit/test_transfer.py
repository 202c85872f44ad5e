"""The transfer engine against in-memory fakes: ordering, bounded buffers, clean failure."""

import hashlib
import os
import threading
import time
from collections.abc import Callable

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.parts import Lanes, plan_parts
from ft_archiver.errors import TransferCancelledError
from ft_archiver.service import transfer
from ft_archiver.service.control import Suspended
from ft_archiver.service.ordered_digest import OrderedDigest
from ft_archiver.service.part_buffers import BufferPool
from ft_archiver.service.ports import ObjectSpec
from ft_archiver.service.resume import ResumePoint
from ft_archiver.service.transfer import transfer_multipart, transfer_single
from tests.support.fakes import FakeStore

PART = 64 * 1024
DEFAULT_LANES = Lanes(downloads=4, uploads=4, buffers=8)
SPEC = ObjectSpec("bucket", "key", "application/zstd", {}, ALGORITHMS["CRC64NVME"])


class Hooks:
    """The transfer's caller: records resume points, suspends when ``suspend`` says so."""

    def __init__(self, suspend: Callable[[], bool] = lambda: False) -> None:
        self.cancel = threading.Event()
        self.points: list[ResumePoint] = []
        self.progressed = 0
        self._suspend = suspend

    def on_progress(self, nbytes: int) -> None:
        self.progressed += nbytes

    def on_resume_point(self, point: ResumePoint) -> None:
        self.points.append(point)

    def should_suspend(self) -> bool:
        return self._suspend()


class Source:
    """Serves ``data`` by range, with a delay per part to shuffle completion order."""

    def __init__(self, data: bytes, delays: dict[int, float] | None = None) -> None:
        self.data = data
        self.delays = delays or {}
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def __call__(self, start: int, into: memoryview, cancel: Cancellation) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delays.get(start // PART, 0.0))
            into[:] = self.data[start : start + len(into)]
        finally:
            with self._lock:
                self.active -= 1


def run(
    data: bytes, source: Source, store: FakeStore, lanes: Lanes = DEFAULT_LANES
) -> transfer.TransferResult:
    plan = plan_parts(len(data), PART, min_part_size=PART)
    result = transfer_multipart(store, SPEC, plan, source, lanes, Hooks(), digests=sha256_state)
    assert isinstance(result, transfer.TransferResult)
    return result


def test_parts_finishing_out_of_order_give_the_right_object_and_digest() -> None:
    data = os.urandom(10 * PART + 123)
    source = Source(data, delays={0: 0.05, 1: 0.03, 2: 0.0, 5: 0.02})
    store = FakeStore()
    result = run(data, source, store)
    assert store.objects["key"] == data
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.crc == SPEC.algorithm.compute(data)
    assert result.parts == 11


def test_at_most_lanes_buffers_are_ever_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[BufferPool] = []

    def recording_pool(capacity: int, size: int) -> BufferPool:
        pool = BufferPool(capacity, size)
        pools.append(pool)
        return pool

    monkeypatch.setattr(transfer, "BufferPool", recording_pool)
    data = os.urandom(40 * PART)
    # Part 0 is slow: later parts finish but must wait for it to be hashed.
    source = Source(data, delays={0: 0.2})
    store = FakeStore()
    store.upload_delay = {n: 0.005 for n in range(1, 41)}
    run(data, source, store, Lanes(downloads=2, uploads=2, buffers=3))
    assert pools[0].allocated <= 3
    assert source.max_active <= 2


def test_a_failed_part_aborts_and_raises_the_root_cause() -> None:
    data = os.urandom(12 * PART)
    store = FakeStore()
    store.fail_part = 5
    with pytest.raises(RuntimeError, match="part 5 refused"):
        run(data, Source(data), store)
    assert store.uploads[0].aborted
    assert "key" not in store.objects


def test_keyboard_interrupt_in_a_read_aborts_the_upload() -> None:
    data = os.urandom(12 * PART)

    def interrupted(start: int, into: memoryview, cancel: Cancellation) -> None:
        if start >= 6 * PART:
            raise KeyboardInterrupt
        into[:] = data[start : start + len(into)]

    store = FakeStore()
    with pytest.raises(KeyboardInterrupt):
        run(data, interrupted, store)  # type: ignore[arg-type]
    assert store.uploads[0].aborted
    assert not store.uploads[0].completed


def test_the_callers_cancel_cancels_the_transfer() -> None:
    data = os.urandom(12 * PART)
    hooks = Hooks()
    hooks.cancel.set()
    store = FakeStore()
    plan = plan_parts(len(data), PART, min_part_size=PART)
    with pytest.raises(TransferCancelledError):
        transfer_multipart(
            store, SPEC, plan, Source(data), Lanes(2, 2, 2), hooks, digests=sha256_state
        )
    assert store.uploads[0].aborted


def test_single_request_reads_once_and_records_the_digest() -> None:
    data = os.urandom(PART - 1)
    store = FakeStore()
    puts: list[ObjectSpec] = []
    original = store.put_object

    def recording_put(spec: ObjectSpec, body: bytes, crc: int) -> object:
        puts.append(spec)
        return original(spec, body, crc)

    store.put_object = recording_put  # type: ignore[method-assign,assignment]
    result = transfer_single(store, SPEC, len(data), Source(data), threading.Event())
    assert store.objects["key"] == data
    assert puts[0].metadata["sha256"] == hashlib.sha256(data).hexdigest() == result.sha256


def test_zero_bytes_make_an_empty_object_without_reading() -> None:
    def never(start: int, into: memoryview, cancel: Cancellation) -> None:
        raise AssertionError("nothing to read")

    store = FakeStore()
    result = transfer_single(store, SPEC, 0, never, threading.Event())
    assert store.objects["key"] == b""
    assert result.sha256 == hashlib.sha256(b"").hexdigest()


def test_ordered_digest_hashes_in_part_order_whatever_the_arrival() -> None:
    chunks = {n: os.urandom(1000) for n in range(1, 8)}
    hashed: list[int] = []
    digest = OrderedDigest(lambda number, state: hashed.append(number), digests=sha256_state)
    for number in [3, 1, 7, 2, 5, 4, 6]:
        digest.add(number, memoryview(chunks[number]))
    assert hashed == list(range(1, 8))
    assert (
        digest.hexdigest() == hashlib.sha256(b"".join(chunks[n] for n in range(1, 8))).hexdigest()
    )


def test_a_deadline_reached_before_any_part_finished_is_an_error_not_a_pause() -> None:
    from ft_archiver.errors import NoProgressError

    data = os.urandom(6 * PART)
    store = FakeStore()
    plan = plan_parts(len(data), PART, min_part_size=PART)
    with pytest.raises(NoProgressError, match="no part finished"):
        transfer_multipart(
            store, SPEC, plan, Source(data), DEFAULT_LANES, Hooks(suspend=lambda: True),
            digests=sha256_state,
        )  # fmt: skip
    assert store.uploads[0].aborted


def test_a_deadline_after_some_parts_suspends_and_keeps_the_upload() -> None:
    data = os.urandom(8 * PART)
    store = FakeStore()
    plan = plan_parts(len(data), PART, min_part_size=PART)
    calls = iter(range(100))
    hooks = Hooks(suspend=lambda: next(calls) >= 6)  # two checks per part taken
    outcome = transfer_multipart(
        store, SPEC, plan, Source(data), Lanes(1, 1, 1), hooks, digests=sha256_state
    )
    assert not store.uploads[0].aborted
    parts_done = [point.parts_done for point in hooks.points]
    assert parts_done == sorted(parts_done)
    assert outcome == Suspended(parts_done[-1], 8)
    assert parts_done[-1] >= 2
