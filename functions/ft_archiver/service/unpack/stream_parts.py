"""One file of the tar stream as the transfer engine's part source.

The engine (service/transfer.py) asks a ``RangeReader`` for each part by its offset. An
archive answers with a ranged GET in any order; a file inside a tar stream can only be
read front to back. Run with a single download lane, the engine asks for the parts in
order, so the stream answers each by reading on: the one multipart writer serves both.
"""

import tarfile
from collections.abc import Callable
from typing import Protocol

from ft_archiver.cancellation import Cancellation
from ft_archiver.errors import CorruptArchiveError, IntegrityError, TransferCancelledError

# Read from the stream at most this much at a time, so that a cancel is seen between.
READ_STEP = 1024 * 1024


class ByteStream(Protocol):
    """What tarfile's ``extractfile`` gives for a member in a stream."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


# How many of a file's first bytes to keep, given those kept so far: a .safetensors
# header says its own length in its first 8 bytes.
HeadWanted = Callable[[bytearray], int]


def no_head(head: bytearray) -> int:
    return 0


class StreamParts:
    """Parts of ``size`` bytes of ``stream``, asked for in order. A part that starts
    past the position (a resumed upload skips the parts S3 holds) is reached by reading
    over the bytes before it. The file's first bytes are kept (``head``), as many as
    ``head_wanted`` asks for: what a check of the file reads (a .safetensors header, a
    config.json) without a second pass."""

    def __init__(self, stream: ByteStream, size: int, head_wanted: HeadWanted = no_head) -> None:
        self._stream = stream
        self.size = size
        self._head_wanted = head_wanted
        self.head = bytearray()
        self.position = 0

    def __call__(self, start: int, into: memoryview, cancel: Cancellation) -> None:
        if start < self.position:
            raise IntegrityError(
                f"part at byte {start:,} asked after byte {self.position:,}: a stream "
                "cannot go back"
            )
        if start + len(into) > self.size:
            raise IntegrityError(f"part at byte {start:,} ends past the file's {self.size:,}")
        if start > self.position:
            self.skip(start - self.position, cancel)
        self._fill(into, cancel)

    def skip(self, count: int, cancel: Cancellation) -> None:
        """Read over ``count`` bytes (kept only as far as the head wants them)."""
        scratch = bytearray(min(READ_STEP, count))
        while count:
            view = memoryview(scratch)[: min(len(scratch), count)]
            self._fill(view, cancel)
            count -= len(view)

    def skip_rest(self, cancel: Cancellation) -> None:
        self.skip(self.size - self.position, cancel)

    def _fill(self, into: memoryview, cancel: Cancellation) -> None:
        filled = 0
        while filled < len(into):
            if cancel.is_set():
                raise TransferCancelledError("the unpack was stopped")
            step = into[filled : filled + READ_STEP]
            try:
                count = self._stream.readinto(step)
            except tarfile.TarError as exc:  # tarfile's "unexpected end of data"
                raise CorruptArchiveError(f"the archive is cut short ({exc})") from None
            if not count:  # the tar said more: the archive is cut short
                raise CorruptArchiveError(
                    f"the archive's file ended after {self.position + filled:,} of its "
                    f"{self.size:,} bytes"
                )
            self._keep_head(step[:count], self.position + filled)
            filled += count
        self.position += filled

    def _keep_head(self, data: memoryview, at: int) -> None:
        taken = 0
        while at + taken == len(self.head) and taken < len(data):
            wanted = min(self._head_wanted(self.head), self.size) - len(self.head)
            if wanted <= 0:
                return
            piece = data[taken : taken + wanted]
            self.head += piece
            taken += len(piece)
