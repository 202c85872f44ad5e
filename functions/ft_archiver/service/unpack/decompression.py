"""The archive's bytes decompressed as a stream, for tarfile's stream mode.

zstd: ``zstandard``'s stream reader, reading across frames (an archive may be several
frames one after the other, as ``zstd -T`` and concatenated files make it), with the
window limited so that an archive needing more memory than the budget is refused by
name rather than by the function running out of memory. gzip: the standard library's
reader, which reads every member of a multi-member file.

Every decompressed byte is counted and offered to ``check`` (the member planner's
``check_stream``), so that what a decompression bomb produces outside any member's
declared size is bounded too.
"""

import gzip
import io
import zlib
from collections.abc import Callable
from typing import IO, Protocol, cast

import zstandard

from ft_archiver.domain.parts import format_size
from ft_archiver.domain.unpack.compression import (
    WINDOW_SHARE,
    Compression,
    long_flag,
    window_words,
)
from ft_archiver.errors import CorruptArchiveError, ZstdWindowTooLargeError

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
