"""The resume protocol: what the state table keeps between the invocations of one archive.

An archive is claimed before any byte moves. The claim is one of three:

- ``FreshStart``: nothing is known; start a new upload.
- ``Resume``: an earlier invocation saved its progress (``SavedProgress``); go on from
  there if it belongs to the very object, size and source version this run found.
- ``FinishedArchive``: it is done; at most its success event is still owed.

While parts finish, the transfer reports each longer unbroken run of parts from part 1
(a ``ResumePoint``) and the lease saves it. At the deadline the lease is paused, so the
next invocation may claim it at once; on failure it is released (the upload was aborted,
no progress survives); on success it is finished with the event's detail.

Without a state table (the command line), ``NoLedger`` keeps nothing and every claim is
a fresh start, so the archiver never asks whether there is a ledger.
"""

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from ft_archiver.domain.activity import ArchiveActivity
from ft_archiver.errors import ArchiverError, failure_report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResumePoint:
    """Where a transfer can be taken up again: its upload, how many parts (1..k) it had
    finished, the SHA-256 state after part k, and the full-object CRC of parts 1..k.
    ``part_crcs``: in ChecksumMode composite, each of those parts' CRC (big-endian, in
    order), which Complete must list and not every store's ListParts returns."""

    upload_id: str
    parts_done: int
    digest_state: bytes
    prefix_crc: int
    part_crcs: bytes = b""


@dataclass(frozen=True)
class SavedProgress:
    """A resume point, and the object, size and source version it belongs to."""

    key: str
    size: int
    source_etag: str | None
    point: ResumePoint

    def belongs_to(self, key: str, size: int, source_etag: str | None) -> bool:
        return (self.key, self.size, self.source_etag) == (key, size, source_etag)

    def to_document(self) -> dict[str, Any]:
        """The stored form; its field names are those of every earlier release, so an
        archive paused by one release is resumed by the next."""
        return {
            "key": self.key,
            "size": self.size,
            "source_etag": self.source_etag,
            "upload_id": self.point.upload_id,
            "done": self.point.parts_done,
            "digest_state": base64.b64encode(self.point.digest_state).decode("ascii"),
            "prefix_crc": self.point.prefix_crc,
            **(
                {"part_crcs": base64.b64encode(self.point.part_crcs).decode("ascii")}
                if self.point.part_crcs
                else {}
            ),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "SavedProgress | None":
        """None for a document this release cannot read: the archive then starts over."""
        try:
            point = ResumePoint(
                str(document["upload_id"]),
                int(document["done"]),
                base64.b64decode(document["digest_state"], validate=True),
                int(document["prefix_crc"]),
                base64.b64decode(document.get("part_crcs", ""), validate=True),
            )
            return cls(str(document["key"]), int(document["size"]), document["source_etag"], point)
        except (KeyError, TypeError, ValueError, binascii.Error):
            log.warning("saved progress in an unknown form was ignored; starting over")
            return None


@dataclass(frozen=True)
class FreshStart:
    """No progress is known: a new upload."""


@dataclass(frozen=True)
class Resume:
    progress: SavedProgress


@dataclass(frozen=True)
class FinishedArchive:
    """An archive already completed: its event detail, and whether the event went out."""

    detail: dict[str, Any]
    published: bool


Claim = FreshStart | Resume | FinishedArchive


class ArchiveLedger(Protocol):
    """Idempotency, leases and progress: one archiver per request at a time, one success
    event per archive, and the point a later invocation resumes from."""

    def claim_archive(
        self, key: str, owner: str, lease_s: float, ttl_s: int, reopen: bool = False
    ) -> Claim:
        """Raises ArchiveInProgressError while another owner holds a live lease.
        ``reopen`` (``--force``): a finished archive is claimed afresh, its result and
        the note that its event went out dropped, instead of answered."""

    def save_progress(self, key: str, owner: str, progress: SavedProgress) -> None: ...

    def pause_archive(self, key: str, owner: str) -> None: ...

    def extend_lease(self, key: str, owner: str, lease_s: float) -> None: ...

    def record_plan(self, key: str, owner: str, plan: dict[str, Any]) -> dict[str, Any]:
        """A distributed archive's plan (its upload, parts and batches), beside its lease,
        unless one is recorded there already: the plan in force, this one or that one.
        A claim starts without a plan."""

    def recorded_plan(self, key: str, owner: str) -> dict[str, Any] | None:
        """The plan recorded under this owner's lease, if any."""

    def describe_archive(self, key: str, owner: str, activity: ArchiveActivity) -> None:
        """What the archive is (for ``status``): after each invocation's plan."""

    def touch_archive(self, key: str, owner: str) -> None:
        """The archive was seen moving (for ``status``): a distributed batch's end."""

    def finish_archive(self, key: str, owner: str, detail: dict[str, Any]) -> None: ...

    def mark_published(self, key: str) -> None: ...

    def release_archive(self, key: str, owner: str, error: str) -> None:
        """``error``: what failed, one line for ``status`` (never a secret: no
        exception of ours carries one)."""


class NoLedger:
    """The ledger of a run without a state table: it remembers nothing."""

    def claim_archive(
        self, key: str, owner: str, lease_s: float, ttl_s: int, reopen: bool = False
    ) -> Claim:
        return FreshStart()

    def save_progress(self, key: str, owner: str, progress: SavedProgress) -> None:
        pass

    def pause_archive(self, key: str, owner: str) -> None:
        pass

    def extend_lease(self, key: str, owner: str, lease_s: float) -> None:
        pass

    def record_plan(self, key: str, owner: str, plan: dict[str, Any]) -> dict[str, Any]:
        return plan

    def recorded_plan(self, key: str, owner: str) -> dict[str, Any] | None:
        return None

    def describe_archive(self, key: str, owner: str, activity: ArchiveActivity) -> None:
        pass

    def touch_archive(self, key: str, owner: str) -> None:
        pass

    def finish_archive(self, key: str, owner: str, detail: dict[str, Any]) -> None:
        pass

    def mark_published(self, key: str) -> None:
        pass

    def release_archive(self, key: str, owner: str, error: str) -> None:
        pass


@dataclass(frozen=True)
class Lease:
    """One claim on one archive: the ledger's calls with its key and owner bound."""

    ledger: ArchiveLedger
    key: str
    owner: str

    def save(self, progress: SavedProgress) -> None:
        self.ledger.save_progress(self.key, self.owner, progress)

    def pause(self) -> None:
        self.ledger.pause_archive(self.key, self.owner)

    def extend(self, lease_s: float) -> None:
        self.ledger.extend_lease(self.key, self.owner, lease_s)

    def record_plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        return self.ledger.record_plan(self.key, self.owner, plan)

    def recorded_plan(self) -> dict[str, Any] | None:
        return self.ledger.recorded_plan(self.key, self.owner)

    def describe(self, activity: ArchiveActivity) -> None:
        """Shown by ``status`` only: a failure to write it is logged, never fatal."""
        try:
            self.ledger.describe_archive(self.key, self.owner, activity)
        except ArchiverError as exc:
            log.warning("could not describe %s for status (%s)", self.key, exc)

    def touch(self) -> None:
        """Shown by ``status`` only: a failure to write it is logged, never fatal."""
        try:
            self.ledger.touch_archive(self.key, self.owner)
        except ArchiverError as exc:
            log.warning("could not mark %s seen for status (%s)", self.key, exc)

    def finish(self, detail: dict[str, Any]) -> None:
        self.ledger.finish_archive(self.key, self.owner, detail)

    def mark_published(self) -> None:
        self.ledger.mark_published(self.key)

    def release(self, error: str) -> None:
        """After a failure (``failure_line``); if even that fails, the lease expires."""
        try:
            self.ledger.release_archive(self.key, self.owner, error)
        except ArchiverError as exc:
            log.warning("could not release the lease on %s (%s); it expires", self.key, exc)


UNCLAIMED = Lease(NoLedger(), "", "")

FAILURE_LINE_CHARS = 500


def failure_of(exc: BaseException) -> str:
    """``exc`` as ``status`` shows it, named as the failure event names it: our errors by
    type and message (they carry no secret), anything else by its type only."""
    message, _ = failure_report(exc)
    kind = type(exc).__name__
    return kind if message == kind else failure_line(kind, message)


def failure_line(kind: str, message: str) -> str:
    """A failure as ``status`` shows it: its kind and message, one line, bounded."""
    text = " ".join(f"{kind}: {message}".split())
    return text if len(text) <= FAILURE_LINE_CHARS else text[: FAILURE_LINE_CHARS - 1] + "…"
