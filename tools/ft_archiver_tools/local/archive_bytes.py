"""Deterministic archive bytes of any size, generated on demand from a seed.

Every 4 KiB chunk starts with (seed, chunk index), so no two chunks of an archive are
equal: misordered, duplicated or dropped parts change the SHA-256.
"""

import hashlib
import random
import struct
from collections.abc import Iterator
from functools import lru_cache

CHUNK = 4096
BLOCK = 1024 * 1024
STAMP = struct.Struct("<QQ")


@lru_cache(maxsize=8)
def _pattern(seed: int) -> bytes:
    return random.Random(seed).randbytes(BLOCK)


def block(seed: int, index: int) -> bytes:
    """The ``index``-th MiB of the archive with this seed (before truncation to its size)."""
    return bytes(_stamped(seed, index))


def _stamped(seed: int, index: int) -> bytearray:
    data = bytearray(_pattern(seed))
    first_chunk = index * (BLOCK // CHUNK)
    for n in range(BLOCK // CHUNK):
        STAMP.pack_into(data, n * CHUNK, seed, first_chunk + n)
    return data


def iter_range(seed: int, start: int, length: int, piece: int = 256 * 1024) -> Iterator[memoryview]:
    """Bytes ``start`` to ``start + length`` in pieces of at most ``piece`` bytes (views
    of one generated MiB, not copies)."""
    end = start + length
    position = start
    while position < end:
        index, offset = divmod(position, BLOCK)
        data = memoryview(_stamped(seed, index))  # a fresh MiB: its views need no copy
        stop = min(BLOCK, offset + (end - position))
        for cut in range(offset, stop, piece):
            yield data[cut : min(stop, cut + piece)]
        position += stop - offset


def read(seed: int, start: int, length: int) -> bytes:
    return b"".join(iter_range(seed, start, length))


def sha256(seed: int, size: int) -> str:
    digest = hashlib.sha256()
    for piece in iter_range(seed, 0, size, BLOCK):
        digest.update(piece)
    return digest.hexdigest()
