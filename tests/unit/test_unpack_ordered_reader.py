"""The ordered ranged reader: bytes in order whatever order the GETs finish in, never
more than ``in_flight`` chunks in memory, failures raised in order, retryable ones asked
again."""

import hashlib
import io
import random
import threading
import time

import pytest

from ft_archiver.errors import StorageAccessDeniedError, StorageError
from ft_archiver.service.unpack.archive_stream import OrderedRangeReader

DATA = random.Random(7).randbytes(100_003)


class Ranges:
    """A source of DATA by range that records what was asked and how many GETs ran at
    once; ``delays`` slows chosen starts, ``failures`` fails them (a count each)."""

    def __init__(self, data: bytes = DATA) -> None:
        self.data = data
        self.asked: list[int] = []
        self.delays: dict[int, float] = {}
        self.failures: dict[int, tuple[int, Exception]] = {}
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self, start: int, into: memoryview) -> None:
        with self._lock:
            self.asked.append(start)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(self.delays.get(start, 0.0))
            count, error = self.failures.get(start, (0, None))
            if count and error is not None:
                self.failures[start] = (count - 1, error)
                raise error
            into[:] = self.data[start : start + len(into)]
        finally:
            with self._lock:
                self.running -= 1


def test_reads_every_byte_in_order_when_later_chunks_finish_first() -> None:
    source = Ranges()
    source.delays = {0: 0.2, 1000: 0.1}  # the first chunks arrive last
    with OrderedRangeReader(source, len(DATA), 1000, 4) as reader:
        assert io.BufferedReader(reader, 777).read() == DATA
        assert reader.sha256_hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert sorted(source.asked) == list(range(0, len(DATA), 1000))


def test_memory_is_chunk_times_in_flight() -> None:
    source = Ranges()
    with OrderedRangeReader(source, len(DATA), 1000, 3) as reader:
        while reader.read(50):
            pass
    assert reader.buffers == 3
    assert source.most_running <= 3


def test_a_small_archive_allocates_no_more_buffers_than_chunks() -> None:
    with OrderedRangeReader(Ranges(DATA[:10]), 10, 1000, 4) as reader:
        assert reader.read() == DATA[:10]
    assert reader.buffers == 1


def test_an_empty_archive_reads_as_end_of_file() -> None:
    with OrderedRangeReader(Ranges(b""), 0, 1000, 4) as reader:
        assert reader.read(10) == b""
        assert reader.drain() == 0


def test_drain_reads_the_rest_so_the_digest_covers_the_whole_archive() -> None:
    with OrderedRangeReader(Ranges(), len(DATA), 4096, 2) as reader:
        assert reader.read(10) == DATA[:10]
        assert reader.drain() == len(DATA) - 10
        assert reader.consumed == len(DATA)
        assert reader.sha256_hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_progress_hears_each_chunk_as_it_is_taken() -> None:
    heard: list[int] = []
    with OrderedRangeReader(Ranges(), len(DATA), 40_000, 2, on_consumed=heard.append) as reader:
        reader.drain()
    assert heard == [40_000, 40_000, 20_003]


def test_a_retryable_failure_is_asked_again() -> None:
    source = Ranges()
    source.failures = {2000: (2, StorageError("S3 GetObject failed (SlowDown)"))}
    with OrderedRangeReader(source, len(DATA), 1000, 4, attempts=3) as reader:
        assert reader.read() == DATA
    assert source.asked.count(2000) == 3


def test_a_failure_is_raised_when_the_reader_reaches_its_chunk() -> None:
    source = Ranges()
    source.failures = {3000: (1, StorageAccessDeniedError("S3 GetObject was refused"))}
    with OrderedRangeReader(source, len(DATA), 1000, 4) as reader:
        before = b"".join(reader.read(1000) or b"" for _ in range(3))
        assert before == DATA[:3000]  # the chunks before it are delivered
        with pytest.raises(StorageAccessDeniedError, match="refused"):
            reader.read(1)
    assert source.asked.count(3000) == 1  # not retryable: asked once


def test_retries_give_up_after_the_attempts() -> None:
    source = Ranges()
    source.failures = {0: (5, StorageError("S3 GetObject failed (InternalError)"))}
    with (
        OrderedRangeReader(source, len(DATA), 1000, 2, attempts=2) as reader,
        pytest.raises(StorageError, match="InternalError"),
    ):
        reader.read(1)
    assert source.asked.count(0) == 2


def test_close_stops_fetching() -> None:
    source = Ranges()
    reader = OrderedRangeReader(source, len(DATA), 1000, 2)
    assert reader.read(1) == DATA[:1]
    reader.close()
    asked = len(source.asked)
    time.sleep(0.05)
    assert len(source.asked) == asked <= 3
    with pytest.raises(ValueError, match="closed"):
        reader.readinto(bytearray(1))
