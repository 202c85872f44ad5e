"""CRC checksums as S3 wants them: per part, then combined without re-reading (a
full-object checksum), or the checksum of the parts' checksums (a composite one); and
the three ways a store can be asked to prove an object's bytes (``ChecksumMode``)."""

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from awscrt import checksums as crt

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True)
class CrcAlgorithm:
    name: str  # as S3 spells it: CRC64NVME, CRC32C, CRC32
    width_bytes: int
    _compute: Callable[[Buffer, int], int]
    _combine: Callable[[int, int, int], int]

    def compute(self, data: Buffer, previous: int = 0) -> int:
        return self._compute(data, previous)

    def extend(self, crc: int, next_crc: int, next_length: int) -> int:
        """CRC of A||B from CRC(A), CRC(B) and len(B)."""
        return self._combine(crc, next_crc, next_length)

    def combine(self, parts: Iterable[tuple[int, int]]) -> int:
        """CRC of the concatenation, from (crc, length) of each part in order."""
        total = 0
        for crc, length in parts:
            total = self._combine(total, crc, length)
        return total

    def encode(self, crc: int) -> str:
        """S3's wire form: base64 of the big-endian CRC."""
        return base64.b64encode(crc.to_bytes(self.width_bytes, "big")).decode("ascii")

    def decode(self, encoded: str) -> int:
        return int.from_bytes(base64.b64decode(encoded), "big")

    @property
    def s3_field(self) -> str:
        """The boto3 parameter and response field: ChecksumCRC64NVME and so on."""
        return f"Checksum{self.name}"

    def composite(self, part_crcs: Iterable[int]) -> str:
        """S3's COMPOSITE checksum of a multipart object: the checksum of the parts'
        checksums (big-endian bytes, in part order), then ``-`` and the part count."""
        crcs = list(part_crcs)
        joined = b"".join(crc.to_bytes(self.width_bytes, "big") for crc in crcs)
        return f"{self.encode(self.compute(joined))}-{len(crcs)}"


ALGORITHMS = {
    "CRC64NVME": CrcAlgorithm("CRC64NVME", 8, crt.crc64nvme, crt.combine_crc64nvme),
    "CRC32C": CrcAlgorithm("CRC32C", 4, crt.crc32c, crt.combine_crc32c),
    "CRC32": CrcAlgorithm("CRC32", 4, crt.crc32, crt.combine_crc32),
}


# What the store is asked to check, and so how an archive's bytes are proven:
# full-object: S3 checks each part's CRC and the whole object's (CRC64NVME, CRC32C or
#   CRC32), HeadObject shows the value; composite: S3 checks each part's CRC (CRC32C or
#   CRC32) and keeps the checksum of those; none: nothing is sent, and the object is read
#   back and its SHA-256 compared, for stores that check no checksum.
ChecksumMode = Literal["full-object", "composite", "none"]
CHECKSUM_MODES: tuple[str, ...] = get_args(ChecksumMode)
# S3 has no composite CRC64NVME: it is full-object only.
COMPOSITE_ALGORITHMS = ("CRC32C", "CRC32")

# How an archive's bytes were proven, by mode: what the event and the manifest say.
Proof = Literal["full-object-checksum", "composite-checksum", "sha256-read-back"]
PROOF_OF_MODE: dict[str, Proof] = {
    "full-object": "full-object-checksum",
    "composite": "composite-checksum",
    "none": "sha256-read-back",
}
