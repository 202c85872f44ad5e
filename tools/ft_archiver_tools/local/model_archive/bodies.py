"""Member bodies with random access: ``iter(start, end)`` yields that byte range in
pieces (views where it can), so no body is ever held whole unless it is small."""

from collections.abc import Iterator
from dataclasses import dataclass

from ft_archiver_tools.local import archive_bytes

ZEROS = bytes(archive_bytes.BLOCK)
Piece = bytes | memoryview


@dataclass(frozen=True)
class Inline:
    """A small body held as it is: JSON documents, tar headers, a safetensors header."""

    data: bytes
    zeros = False

    @property
    def size(self) -> int:
        return len(self.data)

    def iter(self, start: int, end: int) -> Iterator[Piece]:
        if end > start:
            yield memoryview(self.data)[start:end]


@dataclass(frozen=True)
class Pseudo:
    """``prefix`` then ``length`` pseudo-random bytes of ``archive_bytes`` with ``seed``:
    a safetensors file (its header, then its byte buffer) or a .bin file (no prefix)."""

    seed: int
    length: int
    prefix: bytes = b""
    zeros = False

    @property
    def size(self) -> int:
        return len(self.prefix) + self.length

    def iter(self, start: int, end: int) -> Iterator[Piece]:
        head = len(self.prefix)
        if start < head:
            yield memoryview(self.prefix)[start : min(end, head)]
        begin = max(start, head) - head
        if end - head > begin:
            yield from archive_bytes.iter_range(self.seed, begin, end - head - begin)


@dataclass(frozen=True)
class Zeros:
    """``size`` zero bytes: tar padding, the end of archive, a decompression bomb."""

    length: int
    zeros = True

    @property
    def size(self) -> int:
        return self.length

    def iter(self, start: int, end: int) -> Iterator[Piece]:
        view = memoryview(ZEROS)
        for cut in range(start, end, len(ZEROS)):
            yield view[: min(len(ZEROS), end - cut)]


Body = Inline | Pseudo | Zeros
