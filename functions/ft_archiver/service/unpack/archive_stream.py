"""The pass's input: the verified archive in the bucket read in order as one stream
(``OrderedRangeReader``), then decompressed for tarfile's stream mode (``Decompressed``).

Reading. A decompressor reads one byte after the other; one GET at a time would leave it
waiting on every round trip. Here ``in_flight`` chunks of ``chunk_size`` bytes are
fetched at once, each into a buffer of its own, and handed to the reader in order; a
chunk's buffer takes the next chunk the moment the reader is past it. Memory is
``chunk_size`` times ``in_flight``, whatever the archive's size.

Decompressing. zstd: ``zstandard``'s stream reader, reading across frames (an archive
may be several frames one after the other, as ``zstd -T`` and concatenated files make
it), with the window limited so that an archive needing more memory than the budget is
refused by name rather than by the function running out of memory. gzip: the standard
library's reader, which reads every member of a multi-member file. Every decompressed
byte is counted and offered to ``check`` (the member planner's ``check_stream``), so
that what a decompression bomb produces outside any member's declared size is bounded
too.
"""

import gzip
import hashlib
import io
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Protocol, cast

import zstandard

from ft_archiver.domain.parts import format_size
from ft_archiver.domain.unpack.compression import (
    WINDOW_SHARE,
    Compression,
    long_flag,
    window_words,
)
from ft_archiver.errors import (
    CorruptArchiveError,
    OperationalError,
    TransferCancelledError,
    ZstdWindowTooLargeError,
)


class ChunkRead(Protocol):
    def __call__(self, start: int, into: memoryview) -> None:
        """Fill ``into`` with the archive's bytes from ``start`` on, or raise."""


class _Chunk:
    def __init__(self, buffer: bytearray, view: memoryview, fetched: Future[None]) -> None:
        self.buffer = buffer
        self.view = view
        self.fetched = fetched


class OrderedRangeReader(io.RawIOBase):
    """A file-like object (``readinto``) over ``size`` bytes that ``read`` fetches by
    range. A chunk whose GET fails with a retryable error is asked again, up to
    ``attempts`` times in all; any other failure is raised to the reader, in order.
    ``on_consumed`` hears each chunk as the reader takes it (progress), and the SHA-256
    of what was read (``sha256_hexdigest``) is kept, to prove the bytes were the
    verified archive's."""

    def __init__(
        self,
        read: ChunkRead,
        size: int,
        chunk_size: int,
        in_flight: int,
        *,
        attempts: int = 3,
        on_consumed: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        if chunk_size < 1 or in_flight < 1:
            raise ValueError("chunk_size and in_flight must be at least 1")
        self._read = read
        self.size = size
        self._chunk_size = chunk_size
        self._in_flight = in_flight
        self._attempts = max(1, attempts)
        self._on_consumed = on_consumed
        self._pending: deque[_Chunk] = deque()
        self._current: _Chunk | None = None
        self._offset = 0  # into the current chunk
        self._next_start = 0  # of the next chunk to fetch
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = False
        self._sha256 = hashlib.sha256()
        self.consumed = 0  # bytes handed to the reader
        self.buffers = 0  # allocated so far; never more than ``in_flight``

    def readable(self) -> bool:
        return True

    def readinto(self, into: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("read of a closed OrderedRangeReader")
        target = memoryview(into).cast("B")
        if not len(target):
            return 0
        chunk = self._chunk_with_bytes()
        if chunk is None:
            return 0
        count = min(len(target), len(chunk.view) - self._offset)
        target[:count] = chunk.view[self._offset : self._offset + count]
        self._offset += count
        self.consumed += count
        return count

    def drain(self) -> int:
        """Read to the end (what the decompressor left unread after the tar's end), so
        that the SHA-256 covers the whole archive; the bytes read."""
        drained = 0
        while (chunk := self._chunk_with_bytes()) is not None:
            count = len(chunk.view) - self._offset
            self._offset += count
            self.consumed += count
            drained += count
        return drained

    def sha256_hexdigest(self) -> str:
        """The SHA-256 of the chunks taken so far; the archive's once it is all read."""
        return self._sha256.hexdigest()

    def close(self) -> None:
        """Stop fetching: chunks not yet started are dropped; those under way finish."""
        if self.closed:
            return
        self._stopping = True
        if self._executor is not None:
            for chunk in self._pending:
                chunk.fetched.cancel()
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        self._current = None
        super().close()

    # -- the chunks ----------------------------------------------------------------------

    def _chunk_with_bytes(self) -> _Chunk | None:
        """The chunk the next byte is in; None at the end."""
        if self._executor is None:
            self._start()
        current = self._current
        while current is None or self._offset == len(current.view):
            if current is not None:
                self._current = None
                self._fetch_next(current.buffer)  # the reader is past it: reuse it
            if not self._pending:
                return None
            current = self._pending.popleft()
            current.fetched.result()  # the GET's own error, raised in order
            self._sha256.update(current.view)
            self._current, self._offset = current, 0
            if self._on_consumed is not None:
                self._on_consumed(len(current.view))
        return current

    def _start(self) -> None:
        self._executor = ThreadPoolExecutor(self._in_flight, thread_name_prefix="ft-unpack-get")
        for _ in range(self._in_flight):
            if self._next_start >= self.size:
                break
            self.buffers += 1
            self._fetch_next(bytearray(self._chunk_size))

    def _fetch_next(self, buffer: bytearray) -> None:
        if self._next_start >= self.size or self._executor is None:
            return
        start = self._next_start
        view = memoryview(buffer)[: min(self._chunk_size, self.size - start)]
        self._next_start += len(view)
        self._pending.append(_Chunk(buffer, view, self._executor.submit(self._fetch, start, view)))

    def _fetch(self, start: int, view: memoryview) -> None:
        for attempt in range(1, self._attempts + 1):
            if self._stopping:
                raise TransferCancelledError("reading the archive was stopped")
            try:
                self._read(start, view)
                return
            except OperationalError as exc:
                if not exc.retryable or attempt == self._attempts:
                    raise


# A zstd frame header is at most 18 bytes: magic, descriptor, window, dictionary, size.
ZSTD_HEADER_MAX = 18
# What one read asks the decompressor for (tarfile asks for 10 KiB records at a time;
# larger reads cross into C less often).
READ_SIZE = 1024 * 1024


class RawSource(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...

    def read(self, size: int = -1, /) -> bytes | None: ...


class _HeadTap(io.RawIOBase):
    """The archive's first bytes kept as the decompressor reads them: the window its
    first frame declares, for the message when it is too large."""

    def __init__(self, raw: RawSource) -> None:
        super().__init__()
        self._raw = raw
        self.head = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        count = self._raw.readinto(view) or 0
        if len(self.head) < ZSTD_HEADER_MAX:
            self.head += view[: min(count, ZSTD_HEADER_MAX - len(self.head))]
        return count


class Decompressed(io.RawIOBase):
    """The decompressed stream of an archive; errors of the format become one line
    that says what is wrong with the archive."""

    def __init__(
        self,
        raw: RawSource,
        compression: Compression,
        window_limit: int,
        check: Callable[[int], None] = lambda produced: None,
    ) -> None:
        super().__init__()
        self._tap = _HeadTap(raw)
        self._compression = compression
        self._window_limit = window_limit
        self._check = check
        self.produced = 0
        self._inner: io.BufferedIOBase | zstandard.ZstdDecompressionReader
        if compression is Compression.ZSTD:
            decompressor = zstandard.ZstdDecompressor(max_window_size=window_limit)
            # stream_reader reads its source with read(), which any RawIOBase has
            self._inner = decompressor.stream_reader(
                cast(IO[bytes], self._tap),
                read_size=READ_SIZE,
                read_across_frames=True,
                closefd=False,
            )
        else:
            self._inner = gzip.GzipFile(fileobj=self._tap, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            count = self._inner.readinto(buffer)
        except zstandard.ZstdError as exc:
            raise self._zstd_error(exc) from None
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise CorruptArchiveError(
                f"the archive is not valid gzip ({type(exc).__name__}: {exc})"
            ) from None
        self.produced += count
        self._check(self.produced)
        return count

    def _zstd_error(self, exc: zstandard.ZstdError) -> Exception:
        text = str(exc)
        if "too much memory" not in text and "window" not in text.lower():
            return CorruptArchiveError(f"the archive is not valid zstd ({text})")
        limit = self._window_limit
        needed = _declared_window(bytes(self._tap.head))
        what = (
            f"the archive's zstd frames need a window of {window_words(needed)}"
            if needed is not None and needed > limit
            else f"a zstd frame of the archive needs a window above {window_words(limit)}"
        )
        budget = format_size(WINDOW_SHARE * (needed if needed and needed > limit else limit * 2))
        return ZstdWindowTooLargeError(
            f"{what}; the unpacker decodes windows up to {format_size(limit)} "
            f"(zstd {long_flag(limit)}), a quarter of its memory budget: set "
            f"FT_ARCHIVER_MEMORY_BUDGET to {budget} or more (in Lambda, the function's "
            "memory), or recompress the archive with a smaller --long"
        )

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def _declared_window(head: bytes) -> int | None:
    try:
        return int(zstandard.get_frame_parameters(head).window_size) or None
    except zstandard.ZstdError:
        return None
