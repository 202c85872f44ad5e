"""A one-line progress bar for terminals; silent elsewhere."""

import sys
import threading
import time
from typing import TextIO

MIB = 1024 * 1024


class ProgressBar:
    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._width = width
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, delta: int) -> None:
        with self._lock:
            if self._closed:  # a worker still reporting after the bar was finished
                return
            self.done += delta
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or self.done >= self.total:
                self._last_draw = now
                self._stream.write("\r" + self.render(now))
                self._stream.flush()

    def render(self, now: float) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * self._width)
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else 0.0
        return (
            f"[{'#' * filled}{'.' * (self._width - filled)}] {fraction:4.0%} "
            f"{self.done / MIB:,.1f}/{self.total / MIB:,.1f} MiB "
            f"{rate / MIB:,.1f} MiB/s ETA {eta:,.0f}s "
        )

    def finish(self) -> None:
        """End the line; the bar draws nothing after this, whoever calls it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stream.write("\n")
            self._stream.flush()
