"""A model archive, compressed in independent pieces so that any byte range of it can be
made again on its own, without the bytes before it.

- zstd: one frame per ``frame_size`` bytes of tar (``zstandard.ZstdCompressor``, with
  content size and checksum). ``zstd -d`` and ``ZstdDecompressor().stream_reader(...,
  read_across_frames=True)`` read the frames as one stream; each frame's window is at
  most its content, so a 1 MiB frame never needs more than a 1 MiB window.
- gzip (RFC 1952): one member whose deflate stream (RFC 1951) is the concatenation of
  pieces deflated independently, each ended by a sync flush (an empty stored block, so
  byte-aligned and not final) and the last by a final block: what ``pigz --independent``
  writes. Any gzip reader reads it, ``tarfile``'s "r|gz" included. ``gzip_members`` writes
  one whole gzip member per piece instead, which ``gzip``, ``zlib.decompressobj(wbits=31)``
  restarted on its ``unused_data`` and ``tarfile``'s "r:gz" read, but not "r|gz"
  (CPython 3.11's stream mode stops after the first member: "unexpected end of data").

The index (where each compressed piece starts, the SHA-256 of the whole, the tar's CRC-32
for the gzip trailer) is built once, in one pass that holds one piece at a time.
"""

import bisect
import hashlib
import struct
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import zstandard

from ft_archiver_tools.local.model_archive.bodies import ZEROS
from ft_archiver_tools.local.model_archive.files import Member, members
from ft_archiver_tools.local.model_archive.spec import ModelSpec
from ft_archiver_tools.local.model_archive.tar import TarLayout

PIECE = 256 * 1024
CACHED_BYTES = 8 * 1024 * 1024  # recent frames kept (at least the last one)


@dataclass(frozen=True)
class FrameIndex:
    offsets: "array[int]"  # where compressed piece i starts; one more: the total size
    sha256: str  # of the compressed archive
    crc32: int  # of the tar stream (the single gzip member's trailer)

    @property
    def size(self) -> int:
        return self.offsets[-1]


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str


class ModelArchive:
    """The archive of ``spec``: ``members``, the tar (``iter_tar``), the compressed bytes
    (``size``, ``sha256``, ``iter_range``, ``read``), each file's SHA-256 (``digests``).
    Safe to share between threads (the simulator serves ranges concurrently)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.members = members(spec)
        self.tar = TarLayout(self.members)
        self.frames = max(1, -(-self.tar.size // spec.frame_size))
        self._index: FrameIndex | None = None
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0  # bytes in _cache
        self._zero_frame: bytes | None = None
        self._digests: dict[str, FileDigest] = {}
        self._local = threading.local()

    # -- what it holds -----------------------------------------------------------------

    @property
    def content_type(self) -> str:
        return self.spec.content_type

    @property
    def files(self) -> list[Member]:
        """The regular files, in tar order (hostile ones included)."""
        return [member for member in self.members if member.kind == "file"]

    @property
    def hostile(self) -> list[Member]:
        return [member for member in self.members if member.hostile]

    def member(self, name: str) -> Member:
        return next(member for member in self.members if member.name == name)

    def body(self, name: str) -> bytes:
        """A member's body (for small files: ``config.json``, a safetensors header...)."""
        member = self.member(name)
        assert member.body is not None, f"{name} has no body"
        return b"".join(member.body.iter(0, member.size))

    def digest(self, name: str) -> FileDigest:
        """Size and SHA-256 of a file, streamed from its description (once, then kept)."""
        with self._lock:
            known = self._digests.get(name)
        if known is None:
            member = self.member(name)
            hasher = hashlib.sha256()
            if member.body is not None:
                for piece in member.body.iter(0, member.size):
                    hasher.update(piece)
            known = FileDigest(member.size, hasher.hexdigest())
            with self._lock:
                self._digests[name] = known
        return known

    def digests(self) -> dict[str, FileDigest]:
        """Every regular file's size and SHA-256, by its name in the tar."""
        return {member.name: self.digest(member.name) for member in self.files}

    def iter_tar(self, start: int = 0, end: int | None = None) -> Iterator[bytes | memoryview]:
        return self.tar.iter(start, self.tar.size if end is None else end)

    # -- the compressed archive --------------------------------------------------------

    @property
    def index(self) -> FrameIndex:
        """Built on first use, in one pass over the archive."""
        with self._index_lock:
            if self._index is None:
                self._index = self._build_index()
            return self._index

    @property
    def size(self) -> int:
        return self.index.size

    @property
    def sha256(self) -> str:
        return self.index.sha256

    def iter_compressed(self, piece: int = PIECE) -> Iterator[memoryview]:
        return self.iter_range(0, self.size, piece)

    def read(self, start: int, length: int) -> bytes:
        return b"".join(self.iter_range(start, length))

    def iter_range(self, start: int, length: int, piece: int = PIECE) -> Iterator[memoryview]:
        """Compressed bytes ``start`` to ``start + length``, in views of at most ``piece``
        bytes, making again only the frames the range overlaps."""
        offsets = self.index.offsets
        end = min(start + length, self.size)
        n = bisect.bisect_right(offsets, start) - 1
        position = start
        while position < end:
            frame = memoryview(self.frame(n))
            stop = min(end, offsets[n + 1])
            for cut in range(position, stop, piece):
                yield frame[cut - offsets[n] : min(stop, cut + piece) - offsets[n]]
            position = stop
            n += 1

    def frame(self, n: int) -> bytes:
        """The ``n``-th compressed piece (a few recent ones are kept)."""
        with self._lock:
            cached = self._cache.get(n)
            if cached is not None:
                self._cache.move_to_end(n)
                return cached
        last = n == self.frames - 1
        data = self._compress(n, self._chunk(n), self.index.crc32 if last else 0)
        with self._lock:
            if n not in self._cache:  # another thread may have made it meanwhile
                self._cache[n] = data
                self._cached += len(data)
            while len(self._cache) > 1 and self._cached > CACHED_BYTES:
                self._cached -= len(self._cache.popitem(last=False)[1])
        return data

    def _bounds(self, n: int) -> tuple[int, int]:
        start = n * self.spec.frame_size
        return start, min(self.tar.size, start + self.spec.frame_size)

    def _chunk(self, n: int) -> bytes | None:
        """The tar bytes of piece ``n``, or None when they are all zeros."""
        start, end = self._bounds(n)
        return None if self.tar.zeros(start, end) else self.tar.read(start, end)

    def _build_index(self) -> FrameIndex:
        offsets = array("Q", [0])
        digest = hashlib.sha256()
        crc = 0
        for n in range(self.frames):
            chunk = self._chunk(n)
            if self._single_gzip:
                start, end = self._bounds(n)
                crc = zlib.crc32(chunk, crc) if chunk is not None else _zeros_crc(crc, end - start)
            data = self._compress(n, chunk, crc)
            digest.update(data)
            offsets.append(offsets[-1] + len(data))
        return FrameIndex(offsets, digest.hexdigest(), crc)

    @property
    def _single_gzip(self) -> bool:
        return self.spec.compression == "gzip" and not self.spec.gzip_members

    def _compress(self, n: int, chunk: bytes | None, crc: int) -> bytes:
        """Piece ``n`` compressed; ``chunk`` None for zeros; ``crc``: the tar's CRC-32,
        which only the last piece of a single gzip member needs."""
        first, last = n == 0, n == self.frames - 1
        zero_middle = chunk is None and not first and not last
        if zero_middle and self._zero_frame is not None:
            return self._zero_frame
        if chunk is None:
            start, end = self._bounds(n)
            chunk = ZEROS[: end - start] if end - start <= len(ZEROS) else bytes(end - start)
        data = self._codec(chunk, first, last, crc)
        if zero_middle and len(chunk) == self.spec.frame_size:
            self._zero_frame = data  # every zero middle piece is the same
        return data

    def _codec(self, chunk: bytes, first: bool, last: bool, crc: int) -> bytes:
        level = self.spec.level
        if self.spec.compression == "zstd":
            return self._zstd().compress(chunk)
        if self.spec.gzip_members:
            member = zlib.compressobj(level, zlib.DEFLATED, 31)  # a whole gzip member
            return member.compress(chunk) + member.flush()
        raw = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate
        body = raw.compress(chunk) + raw.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        head = _gzip_header(level) if first else b""
        tail = struct.pack("<II", crc, self.tar.size & 0xFFFFFFFF) if last else b""
        return head + body + tail

    def _zstd(self) -> zstandard.ZstdCompressor:
        """One compressor per thread (a ``ZstdCompressor`` is not to be shared)."""
        compressor = getattr(self._local, "zstd", None)
        if compressor is None:
            compressor = zstandard.ZstdCompressor(level=self.spec.level, write_checksum=True)
            self._local.zstd = compressor
        return compressor


def _gzip_header(level: int) -> bytes:
    """RFC 1952: magic, deflate, no flags, no mtime (so the bytes are deterministic), XFL
    (2: best compression, 4: fastest), OS 255 (unknown) as Python's ``gzip`` writes."""
    xfl = 4 if level <= 1 else 2 if level >= 9 else 0
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([xfl, 255])


def _zeros_crc(crc: int, length: int) -> int:
    """``zlib.crc32(bytes(length), crc)`` without reading the zeros: over zeros, CRC-32 is
    an affine map of the running value over GF(2) (what zlib's ``crc32_combine`` uses), so
    33 CRCs of one run of ``length`` zeros give it for every starting value."""
    value, columns = _zeros_map(length)
    for bit, column in enumerate(columns):
        if crc >> bit & 1:
            value ^= column
    return value


@lru_cache(maxsize=8)
def _zeros_map(length: int) -> tuple[int, tuple[int, ...]]:
    def over_zeros(crc: int) -> int:
        view = memoryview(ZEROS)
        for cut in range(0, length, len(ZEROS)):
            crc = zlib.crc32(view[: min(len(ZEROS), length - cut)], crc)
        return crc

    constant = over_zeros(0)
    return constant, tuple(over_zeros(1 << bit) ^ constant for bit in range(32))
