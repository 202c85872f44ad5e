"""What the distributed steps need beyond the archiver's ports."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ft_archiver.domain.distributed import BatchItem
from ft_archiver.service.ports import ObjectSpec, StoredObject


@dataclass(frozen=True)
class PartDigest:
    """What a finished part's bytes hashed to: its CRC as sent with UploadPart (ListParts
    need not return it) and its SHA-256."""

    crc: int
    sha256: str


class PartDigests(Protocol):
    """Each finished part's digests, kept per batch: a part is finished once recorded,
    and a retried batch fetches only the parts not recorded yet."""

    def record(self, archive: str, batch: BatchItem, number: int, digest: PartDigest) -> None: ...

    def recorded(self, archive: str, batch: BatchItem) -> dict[int, PartDigest]: ...

    def all(self, archive: str, batches: Sequence[BatchItem]) -> dict[int, PartDigest]: ...

    def forget(self, archive: str, batches: Sequence[BatchItem]) -> None: ...


class CompletedObjects(Protocol):
    def find_verified(self, spec: ObjectSpec, size: int, crc: int) -> StoredObject | None:
        """The object as an earlier attempt completed it: this size and full-object CRC."""


class ObjectReader(Protocol):
    def read_into(self, stored: StoredObject, start: int, into: memoryview) -> None:
        """Fill ``into`` with the stored object's bytes from ``start`` on, or raise."""


class ExecutionStarter(Protocol):
    def start(self, name: str, document: str) -> str:
        """Start an execution named ``name`` (the same name twice: the same execution);
        its ARN."""
