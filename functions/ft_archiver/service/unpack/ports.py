"""What the unpacker needs of the bucket beyond the archiver's ports (service/ports.py,
whose ArchiveStore writes the files): the archive as stored, its bytes by range, and the
objects and index an earlier run left."""

from dataclasses import dataclass, field
from typing import Protocol

from ft_archiver.service.ports import ObjectSpec, StoredObject


@dataclass(frozen=True)
class StoredArchive:
    """HeadObject (its user metadata too) and the tags of the archive to unpack."""

    stored: StoredObject
    size: int
    content_type: str
    tags: dict[str, str]
    metadata: dict[str, str] = field(default_factory=dict)


class ArchiveObjects(Protocol):
    def describe(self, bucket: str, key: str) -> StoredArchive | None:
        """The archive's current version, or None when the key holds no object."""

    def read_into(self, stored: StoredObject, start: int, into: memoryview) -> None:
        """Fill ``into`` with this version's bytes from ``start`` on (a ranged GET)."""


class UnpackedObjects(Protocol):
    def find_verified(self, spec: ObjectSpec, size: int, crc: int) -> StoredObject | None:
        """The object at ``spec.key`` if it holds ``size`` bytes with this full-object
        checksum, else None."""

    def read(self, bucket: str, key: str) -> bytes | None:
        """A small object's bytes (the index); None when there is none."""
