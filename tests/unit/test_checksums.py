import base64
import os
import zlib

import pytest

from ft_archiver.domain.checksums import ALGORITHMS


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_combined_part_crcs_equal_the_whole(name: str) -> None:
    algorithm = ALGORITHMS[name]
    data = os.urandom(300_001)
    parts = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    combined = algorithm.combine((algorithm.compute(p), len(p)) for p in parts)
    assert combined == algorithm.compute(data)


def test_crc32_matches_zlib() -> None:
    data = b"ft-archiver"
    assert ALGORITHMS["CRC32"].compute(data) == zlib.crc32(data)


def test_encoding_is_big_endian_base64_of_the_width() -> None:
    algorithm = ALGORITHMS["CRC64NVME"]
    assert base64.b64decode(algorithm.encode(1)) == b"\x00" * 7 + b"\x01"
    assert algorithm.s3_field == "ChecksumCRC64NVME"
    assert len(base64.b64decode(ALGORITHMS["CRC32C"].encode(1))) == 4


def test_empty_input_combines_to_zero() -> None:
    assert ALGORITHMS["CRC32C"].combine([]) == 0 == ALGORITHMS["CRC32C"].compute(b"")
