"""The tar stream of a list of members, with random access: headers as Python's
``tarfile`` writes them (``TarInfo.tobuf(PAX_FORMAT)``: ustar, with a pax extended
header where ustar cannot say it, e.g. a size of 8 GiB or more), each body padded to a
512-byte block, two zero blocks at the end, and the whole padded to a record of 20
blocks as ``tarfile`` and GNU tar do. Only the headers are held; bodies are read on
demand."""

import bisect
import tarfile
from collections.abc import Iterator

from ft_archiver_tools.local.model_archive.bodies import Body, Inline, Piece, Zeros
from ft_archiver_tools.local.model_archive.files import Member


class TarLayout:
    def __init__(self, members: tuple[Member, ...]) -> None:
        self.members = members
        self._starts: list[int] = []
        self._bodies: list[Body] = []
        self.data_offsets: dict[str, int] = {}  # member name -> where its body starts
        for member in members:
            header = member.tarinfo().tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            self._add(Inline(header))
            self.data_offsets[member.name] = self.size
            if member.body is not None and member.body.size:
                self._add(member.body)
                self._add(Zeros(-member.body.size % tarfile.BLOCKSIZE))
        end = self.size + 2 * tarfile.BLOCKSIZE
        self._add(Zeros(end + (-end % tarfile.RECORDSIZE) - self.size))

    @property
    def size(self) -> int:
        if not self._starts:
            return 0
        return self._starts[-1] + self._bodies[-1].size

    def _add(self, body: Body) -> None:
        if body.size:
            self._starts.append(self.size)
            self._bodies.append(body)

    def iter(self, start: int, end: int) -> Iterator[Piece]:
        """Bytes ``start`` to ``end`` of the tar, in pieces."""
        end = min(end, self.size)
        n = bisect.bisect_right(self._starts, start) - 1
        position = start
        while position < end:
            begin, body = self._starts[n], self._bodies[n]
            stop = min(end, begin + body.size)
            yield from body.iter(position - begin, stop - begin)
            position = stop
            n += 1

    def read(self, start: int, end: int) -> bytes:
        return b"".join(self.iter(start, end))

    def zeros(self, start: int, end: int) -> bool:
        """Whether bytes ``start`` to ``end`` are all zeros by construction (inside
        padding or a bomb), so their compressed form need not be computed again."""
        n = bisect.bisect_right(self._starts, start) - 1
        while n < len(self._starts) and self._starts[n] < end:
            if not self._bodies[n].zeros:
                return False
            n += 1
        return True
