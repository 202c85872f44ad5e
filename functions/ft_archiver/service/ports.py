"""What the service needs of the outside world: its ports (Protocols) and the plain data
they exchange. Adapters implement these and import them from here; the service imports
no adapter. Nothing here does I/O, and it imports only the domain and pydantic, so that
every function (the webhook too) can load it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from pydantic import BaseModel

from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.checkpoints import DownloadSpec
from ft_archiver.domain.checksums import Buffer, ChecksumMode, CrcAlgorithm
from ft_archiver.domain.held import HeldObject
from ft_archiver.domain.job import Checkpoint, FineTuneJob, JobSummary
from ft_archiver.domain.manifest import Manifest
from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.domain.webhook import SeenWebhook

# -- Together: jobs, checkpoints and the archive's bytes ---------------------------------


@dataclass(frozen=True)
class ArchiveSource:
    """Where the archive's bytes are, learned by the Range probe. The URL is a presigned
    link or carries the API's query: never in a repr, so never in a log line or an
    exception that prints a plan."""

    url: str = field(repr=False)
    size: int
    content_type: str
    etag: str | None
    ranged: bool = True  # the probe was answered 206: the server honours Range
    redirected_host: str | None = None  # the storage host a redirect led to, if any


class CheckpointSource(Protocol):
    def list_checkpoints(self, fine_tune_id: str) -> list[Checkpoint]: ...


class JobLookup(CheckpointSource, Protocol):
    def retrieve(self, fine_tune_id: str) -> FineTuneJob: ...


class JobSource(JobLookup, Protocol):
    """The list's entries carry only ``id``, ``status`` and ``created_at`` as Together
    documents them: a job is retrieved before any rule is applied to it."""

    def list_fine_tunes(self) -> list[JobSummary]: ...


class BackfillSource(JobSource, Protocol):
    def open_download(self, spec: DownloadSpec) -> Any: ...


class FineTuneSource(Protocol):
    def retrieve(self, fine_tune_id: str) -> FineTuneJob: ...

    def list_checkpoints(self, fine_tune_id: str) -> list[Checkpoint]: ...

    def open_download(self, spec: DownloadSpec) -> ArchiveSource: ...

    def read_range(
        self,
        source: ArchiveSource,
        start: int,
        into: memoryview,
        cancel: Cancellation | None = None,
    ) -> None: ...


# -- S3: the archive bucket --------------------------------------------------------------


@dataclass(frozen=True)
class ObjectSpec:
    """Everything about the object but its bytes."""

    bucket: str
    key: str
    content_type: str
    metadata: dict[str, str]
    algorithm: CrcAlgorithm


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    etag: str
    version_id: str | None
    # Found at the key after a refused or failed write, holding the very bytes this
    # archive has: verified, but not known to be this attempt's own write (our own retried
    # write, or the same archive stored before), so ft-archiver never deletes it.
    adopted: bool = False


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    crc: int
    length: int


class PartUpload(Protocol):
    """An open multipart upload; leaving its ``with`` block without completing aborts it."""

    def __enter__(self) -> "PartUpload": ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def upload_part(self, number: int, body: Buffer, crc: int) -> UploadedPart: ...

    def complete(
        self, parts: list[UploadedPart], size: int, crc: int, sha256: str | None = None
    ) -> StoredObject:
        """``sha256``: what a read-back must find where the store checks no checksum
        (ChecksumMode none)."""
        ...

    @property
    def upload_id(self) -> str: ...

    def suspend(self) -> None:
        """Leave the upload open for a later invocation instead of aborting it."""

    def list_parts(self) -> list[UploadedPart]: ...


class ObjectStore(Protocol):
    # What the store is asked to check, and so what proves its objects (ChecksumMode).
    mode: ChecksumMode

    def put_object(
        self, spec: ObjectSpec, body: Buffer, crc: int, *, overwrite: bool = False
    ) -> StoredObject:
        """A new object only (If-None-Match), unless ``overwrite`` (a manifest, written
        beside the archive this run holds). A key that holds other bytes is refused with
        ArchiveConflictError; one that holds these very bytes is answered with that
        object (``adopted``)."""

    def start_multipart(self, spec: ObjectSpec) -> PartUpload: ...

    def resume_multipart(self, spec: ObjectSpec, upload_id: str) -> PartUpload: ...

    def abort_multipart(self, spec: ObjectSpec, upload_id: str) -> None:
        """Abort an upload left open (one already gone is fine); log, never raise."""

    def tag(self, stored: StoredObject, tags: dict[str, str]) -> None: ...


class ArchiveStore(ObjectStore, Protocol):
    """The transfer's store, plus removing an archive that cannot be completed."""

    def delete(self, stored: StoredObject) -> None:
        """Remove this version of the object; log, never raise, if that fails. An
        ``adopted`` object is left in place (logged): ft-archiver deletes only what it
        wrote."""


class HeldArchives(Protocol):
    """What an archive's key holds before the archive is written (domain/held.py)."""

    def held(self, bucket: str, key: str, algorithm: CrcAlgorithm) -> HeldObject | None:
        """The object at the key (HeadObject), None if there is none."""

    def manifest(self, bucket: str, key: str) -> Manifest | None:
        """The manifest at ``key``; None if there is none or it is not one."""


class ArchiveCheck(Protocol):
    def archived_sha256(self, bucket: str, key: str) -> str | None: ...


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class ObjectFacts:
    """What an object says about itself without a manifest."""

    metadata: dict[str, str]
    tags: dict[str, str]


class BucketReader(Protocol):
    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]: ...

    def read(self, bucket: str, key: str) -> bytes | None: ...

    def facts(self, bucket: str, key: str) -> ObjectFacts | None: ...


# -- the state table (the archive ledger and its resume protocol: service/resume.py) ----


class WebhookLedger(Protocol):
    def claim_webhook(
        self, webhook_id: str, body_digest: str, ttl_s: int
    ) -> SeenWebhook | None: ...

    def record_webhook_message(self, webhook_id: str, message_id: str) -> None: ...

    def seen_webhook(self, webhook_id: str) -> SeenWebhook | None: ...

    def forget_webhook(self, webhook_id: str) -> None: ...


class PollLedger(Protocol):
    def baseline_recorded(self, selection: str) -> bool: ...

    def record_baseline(self, selection: str, job_ids: Sequence[str]) -> None: ...

    def known_jobs(self, selection: str, job_ids: Sequence[str]) -> set[str]: ...

    def claim_job(self, selection: str, job_id: str, lease_s: float) -> bool: ...

    def record_enqueued(self, selection: str, job_id: str, archives: int) -> None: ...

    def record_skipped(self, selection: str, job_id: str, reason: str) -> None: ...

    def release_job(self, selection: str, job_id: str) -> None: ...


# -- ArchiveQueue and the event bus ------------------------------------------------------


class ArchiveQueue(Protocol):
    def send(self, message: ArchiveMessage) -> str: ...


class ArchiveRequestQueue(Protocol):
    def send_batch(self, messages: Sequence[ArchiveMessage]) -> list[str]: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: BaseModel) -> str: ...


# -- the archive's SHA-256 ---------------------------------------------------------------


class Sha256(Protocol):
    def update(self, data: memoryview | bytes | bytearray) -> None: ...

    def state(self) -> bytes:
        """The state to resume from; empty where it cannot be saved."""

    def hexdigest(self) -> str: ...


class Digests(Protocol):
    """Where the archive's SHA-256 comes from: one whose state can be saved, so that a
    later invocation resumes hashing where this one stopped, when ``resumable()``."""

    def resumable(self) -> bool: ...

    def new_sha256(self, state: bytes | None = None) -> Sha256: ...
