"""How an archive is compressed, and what decompressing it as a stream may cost. Pure.

The name says it: ft-archiver names an archive ``.tar.gz`` when Together sends a tar
(``x-tar``), ``.tar.zst`` otherwise (DESIGN.md, "name"); the Content-Type decides only
for a name that says neither.

A zstd frame declares the window it was compressed with, and decoding it holds that
much in memory; zstd's own command line refuses a window above 128 MiB (``--long=27``)
unless told ``--long=N``. The unpacker takes a window as large as a quarter of its
memory budget allows (256 MiB of the command line's 1 GiB), and refuses an archive that
needs more with the ``--long`` it was made with and the budget it would take, never by
running out of memory.
"""

from enum import StrEnum

from ft_archiver.domain.parts import GIB, MIB, format_size

# zstd's largest window (ZSTD_WINDOWLOG_MAX on 64-bit, 2**31 bytes, --long=31).
ZSTD_WINDOW_CAP = 2 * GIB
# The limit never goes below the window zstd compresses with at levels up to 19 (8 MiB,
# level 3 is zstd's default), so that such an archive decodes under any budget.
ZSTD_WINDOW_FLOOR = 8 * MIB
# How much of the memory budget the window may take.
WINDOW_SHARE = 4


class Compression(StrEnum):
    ZSTD = "zstd"
    GZIP = "gzip"


def compression_of(key: str, content_type: str | None = None) -> Compression | None:
    """By the key's extension, else by the Content-Type; None when neither says."""
    name = key.lower()
    if name.endswith(".tar.zst"):
        return Compression.ZSTD
    if name.endswith(".tar.gz"):
        return Compression.GZIP
    kind = (content_type or "").lower()
    if "zstd" in kind:
        return Compression.ZSTD
    if "gzip" in kind or "x-tar" in kind:
        return Compression.GZIP
    return None


def zstd_window_limit(budget: int) -> int:
    """The largest window a budget of ``budget`` bytes lets the decoder hold: a quarter
    of it, rounded down to a power of two, between the floor and zstd's largest."""
    limit = ZSTD_WINDOW_FLOOR
    while limit * 2 <= min(budget // WINDOW_SHARE, ZSTD_WINDOW_CAP):
        limit *= 2
    return limit


def long_flag(window: int) -> str:
    """zstd's command-line flag for a window of ``window`` bytes: ``--long=27`` for
    128 MiB (the window log, rounded up)."""
    return f"--long={max(10, (window - 1).bit_length())}"


def window_words(window: int) -> str:
    """A window as a person reads it: ``128 MiB (zstd --long=27)``."""
    return f"{format_size(window)} (zstd {long_flag(window)})"
