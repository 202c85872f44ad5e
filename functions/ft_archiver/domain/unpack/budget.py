"""How the unpacker spends its memory budget. Pure.

Three things hold memory while an archive is unpacked, each bounded on its own: the
ranged GETs running ahead of the decompressor (chunk times in flight), the zstd decoder's
window, and the part buffers of the file being uploaded (part size times buffers). The
budget is the same one the archiver's part buffers get (FT_ARCHIVER_MEMORY_BUDGET; in
Lambda the function's memory less the runtime's reserve; 1 GiB on the command line).
"""

from dataclasses import dataclass

from ft_archiver.domain.parts import MIB, Lanes, check_part_fits, format_size
from ft_archiver.domain.unpack.compression import zstd_window_limit
from ft_archiver.errors import ConfigurationError

# Ranged GETs of the archive: as large as the archiver's default part, four at once, so
# that the decompressor rarely waits for a round trip.
READ_CHUNK = 8 * MIB
READ_AHEAD = 4


@dataclass(frozen=True)
class UnpackBudget:
    read_chunk: int
    read_ahead: int  # chunks in flight
    window: int  # the largest zstd window decoded
    part_bytes: int  # what the part buffers of the file being written may hold

    @property
    def reading(self) -> int:
        return self.read_chunk * self.read_ahead

    def lanes(self, part_size: int, uploads: int) -> Lanes:
        """One lane reads the file from the stream (in order, so one), ``uploads`` send
        parts; one buffer more than the uploads, so that reading goes on while they
        run, as far as the budget lets."""
        check_part_fits(part_size, self.part_bytes)
        buffers = max(1, min(uploads + 1, self.part_bytes // part_size))
        return Lanes(downloads=1, uploads=max(1, min(uploads, buffers - 1)), buffers=buffers)


def plan_unpack_budget(memory_budget: int, part_size: int) -> UnpackBudget:
    """Up to a quarter for the window (zstd_window_limit), up to four chunks read
    ahead (fewer under a small budget), the rest for part buffers: at least one part."""
    window = zstd_window_limit(memory_budget)
    read_ahead = max(1, min(READ_AHEAD, memory_budget // 16 // READ_CHUNK))
    part_bytes = memory_budget - window - READ_CHUNK * read_ahead
    if part_bytes < part_size:
        raise ConfigurationError(
            f"a memory budget of {format_size(memory_budget)} leaves "
            f"{format_size(max(part_bytes, 0))} for part buffers once the zstd window "
            f"({format_size(window)}) and the reads ahead "
            f"({format_size(READ_CHUNK * read_ahead)}) are counted: less than one part of "
            f"{format_size(part_size)}; raise FT_ARCHIVER_MEMORY_BUDGET"
        )
    return UnpackBudget(READ_CHUNK, read_ahead, window, part_bytes)
