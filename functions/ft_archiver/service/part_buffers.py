"""The buffers of one multipart transfer: at most ``capacity`` of them ever exist.

A part's buffer is held twice, by its upload and by the digest; it goes back to the pool
only when both are done with it, in whichever order they finish.
"""

import threading

from ft_archiver.cancellation import Cancellation
from ft_archiver.errors import TransferCancelledError

HOLDERS_PER_PART = 2  # the upload and the digest


class BufferPool:
    """At most ``capacity`` buffers of ``size`` bytes; allocated on first use, then reused."""

    def __init__(self, capacity: int, size: int) -> None:
        self.capacity = capacity
        self.size = size
        self.allocated = 0
        self._free: list[bytearray] = []
        self._slots = threading.Semaphore(capacity)
        self._lock = threading.Lock()

    def acquire(self, cancel: Cancellation) -> bytearray:
        while not self._slots.acquire(timeout=0.05):
            if cancel.is_set():
                raise TransferCancelledError("transfer cancelled")
        with self._lock:
            if self._free:
                return self._free.pop()
            self.allocated += 1
        return bytearray(self.size)

    def release(self, buffer: bytearray) -> None:
        with self._lock:
            self._free.append(buffer)
        self._slots.release()


class PartBuffers:
    """Which part holds which buffer, and how many of its holders are not done yet."""

    def __init__(self, pool: BufferPool) -> None:
        self._pool = pool
        self._buffers: dict[int, bytearray] = {}
        self._holds: dict[int, int] = {}
        self._lock = threading.Lock()

    def lend(self, number: int, buffer: bytearray) -> None:
        with self._lock:
            self._buffers[number] = buffer
            self._holds[number] = HOLDERS_PER_PART

    def done_with(self, number: int, holders: int = 1) -> None:
        """``holders`` of part ``number`` are done; the last one frees its buffer."""
        with self._lock:
            self._holds[number] -= holders
            if self._holds[number]:
                return
            del self._holds[number]
            buffer = self._buffers.pop(number)
        self._pool.release(buffer)
