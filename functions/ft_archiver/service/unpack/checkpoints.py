"""The incomplete index written now and then while a pass runs.

A run that fails or stops at its deadline writes the index itself; a run killed without
warning (a Lambda out of memory, SIGKILL, a host gone) writes nothing more. So that such
a run still leaves what it verified, the pass records its progress: after a file is
stored, and after each part of a large file (its upload then open, where the next run
resumes it), at most once every ``every_s`` seconds. What a kill loses is the work since
the last record: at most ``every_s`` seconds of it.
"""

import logging
import threading
import time
from collections.abc import Callable

from ft_archiver.domain.unpack.index import OpenUpload

log = logging.getLogger(__name__)

# Writes the incomplete index: the files verified so far, and the upload under way.
WriteProgress = Callable[[OpenUpload | None], None]


class ProgressCheckpoints:
    def __init__(
        self,
        write: WriteProgress,
        every_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._every_s = every_s
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()  # parts report from the upload threads

    def file_stored(self) -> None:
        self._maybe(None)

    def part_stored(self, upload: OpenUpload) -> None:
        self._maybe(upload)

    def _maybe(self, upload: OpenUpload | None) -> None:
        if self._clock() - self._last < self._every_s:
            return
        if not self._lock.acquire(blocking=False):  # another thread is recording it
            return
        try:
            self._last = self._clock()
            self._write(upload)
        except Exception as exc:  # the unpack goes on; a kill now would lose more
            log.warning("could not record the unpack's progress (%s)", exc)
        finally:
            self._lock.release()
