"""In-memory fakes of the archiver's ports: for narrow unit tests of the engine and of
the archive's order of steps (``log`` records them, shared between fakes), and for the
benchmarks' intake trials."""

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from ft_archiver.cancellation import Cancellation
from ft_archiver.domain.activity import ArchiveActivity
from ft_archiver.domain.checkpoints import DownloadSpec
from ft_archiver.domain.checksums import Buffer, ChecksumMode, CrcAlgorithm
from ft_archiver.domain.distributed import BatchItem
from ft_archiver.domain.held import HeldObject
from ft_archiver.domain.job import Checkpoint, FineTuneJob
from ft_archiver.domain.manifest import Manifest
from ft_archiver.domain.webhook import SeenWebhook
from ft_archiver.errors import StorageError, TogetherUnavailableError, UploadGoneError
from ft_archiver.service.distributed.ports import PartDigest
from ft_archiver.service.ports import ArchiveSource, ObjectSpec, StoredObject, UploadedPart
from ft_archiver.service.resume import Claim, FinishedArchive, FreshStart, Resume, SavedProgress


class FakeUpload:
    def __init__(self, store: "FakeStore", spec: ObjectSpec) -> None:
        self.store = store
        self.spec = spec
        self.parts: dict[int, bytes] = {}
        self.completed = False  # completed, or left open: not aborted on exit
        self.completed_upload = False
        self.aborted = False
        self._lock = threading.Lock()

    def __enter__(self) -> "FakeUpload":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.completed:
            self.aborted = True

    @property
    def upload_id(self) -> str:
        number = self.store.uploads.index(self) + 1
        return "fake-upload" if number == 1 else f"fake-upload-{number}"

    def suspend(self) -> None:
        self.completed = True

    def list_parts(self) -> list[UploadedPart]:
        if self.completed_upload:
            raise UploadGoneError("S3 ListParts: NoSuchUpload (completed)")
        return [
            UploadedPart(n, f'"etag-{n}"', self.spec.algorithm.compute(b), len(b))
            for n, b in sorted(self.parts.items())
        ]

    def upload_part(self, number: int, body: Buffer, crc: int) -> UploadedPart:
        if self.store.fail_part == number:
            raise RuntimeError(f"part {number} refused")
        time.sleep(self.store.upload_delay.get(number, 0.0))
        assert crc == self.spec.algorithm.compute(body)
        with self._lock:
            self.parts[number] = bytes(body)
        return UploadedPart(number, f'"etag-{number}"', crc, len(body))

    def complete(
        self, parts: list[UploadedPart], size: int, crc: int, sha256: str | None = None
    ) -> StoredObject:
        data = b"".join(self.parts[p.number] for p in sorted(parts, key=lambda p: p.number))
        assert len(data) == size
        assert crc == self.spec.algorithm.compute(data)
        self.completed = self.completed_upload = True
        self.store.objects[self.spec.key] = data
        self.store.specs[self.spec.key] = self.spec
        stored = StoredObject(self.spec.bucket, self.spec.key, '"etag-x"', "v-multipart")
        self.store.written[self.spec.key] = stored
        return stored


class FakeStore:
    mode: ChecksumMode = "full-object"

    def __init__(self, log: list[str] | None = None) -> None:
        self.objects: dict[str, bytes] = {}
        self.specs: dict[str, ObjectSpec] = {}
        self.written: dict[str, StoredObject] = {}
        self.uploads: list[FakeUpload] = []
        self.fail_part: int | None = None
        self.fail_put_key: str | None = None
        self.fail_put_error: type[StorageError] = StorageError
        self.upload_delay: dict[int, float] = {}
        self.log = log if log is not None else []

    def put_object(
        self, spec: ObjectSpec, body: Buffer, crc: int, *, overwrite: bool = False
    ) -> StoredObject:
        self.log.append(f"put {spec.key}")
        if spec.key == self.fail_put_key:
            raise self.fail_put_error(
                f"S3 PutObject of s3://{spec.bucket}/{spec.key} failed (Fake)"
            )
        assert crc == spec.algorithm.compute(body)
        self.objects[spec.key] = bytes(body)
        self.specs[spec.key] = spec
        self.written[spec.key] = StoredObject(spec.bucket, spec.key, '"etag-single"', "v-single")
        return self.written[spec.key]

    def start_multipart(self, spec: ObjectSpec) -> FakeUpload:
        upload = FakeUpload(self, spec)
        self.uploads.append(upload)
        return upload

    def resume_multipart(self, spec: ObjectSpec, upload_id: str) -> FakeUpload:
        upload = self.uploads[-1]
        upload.completed = False  # a new handle: left without suspend or complete, it aborts
        return upload

    def abort_multipart(self, spec: ObjectSpec, upload_id: str) -> None:
        for upload in self.uploads:
            if upload.upload_id == upload_id:
                upload.aborted = True

    def tag(self, stored: StoredObject, tags: dict[str, str]) -> None:
        self.log.append(f"tag {stored.key}")

    def delete(self, stored: StoredObject) -> None:
        self.log.append(f"delete {stored.key}")
        self.objects.pop(stored.key, None)

    def find_verified(self, spec: ObjectSpec, size: int, crc: int) -> StoredObject | None:
        data = self.objects.get(spec.key)
        if data is None or len(data) != size or spec.algorithm.compute(data) != crc:
            return None
        return StoredObject(spec.bucket, spec.key, '"etag-x"', "v-multipart")

    def held(self, bucket: str, key: str, algorithm: CrcAlgorithm) -> HeldObject | None:
        """HeldArchives: the object as HeadObject would describe it."""
        if key not in self.objects:
            return None
        data, stored, spec = self.objects[key], self.written[key], self.specs[key]
        checksum = algorithm.encode(algorithm.compute(data))
        return HeldObject(len(data), stored.etag, stored.version_id, spec.metadata, checksum)

    def manifest(self, bucket: str, key: str) -> Manifest | None:
        document = self.objects.get(key)
        return None if document is None else Manifest.model_validate_json(document)

    def read_into(self, stored: StoredObject, start: int, into: memoryview) -> None:
        into[:] = self.objects[stored.key][start : start + len(into)]


class FakePartDigests:
    """The state table's part digests of distributed archives, in memory."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int], dict[int, PartDigest]] = {}

    def record(self, archive: str, batch: BatchItem, number: int, digest: PartDigest) -> None:
        self.items.setdefault((archive, batch.first), {})[number] = digest

    def recorded(self, archive: str, batch: BatchItem) -> dict[int, PartDigest]:
        return dict(self.items.get((archive, batch.first), {}))

    def all(self, archive: str, batches: Sequence[BatchItem]) -> dict[int, PartDigest]:
        found: dict[int, PartDigest] = {}
        for batch in batches:
            found.update(self.recorded(archive, batch))
        return found

    def forget(self, archive: str, batches: Sequence[BatchItem]) -> None:
        for batch in batches:
            self.items.pop((archive, batch.first), None)


class FakeTogether:
    """One job with one archive (``data``) and its checkpoint list."""

    def __init__(
        self,
        data: bytes,
        job: dict[str, Any],
        checkpoints: list[dict[str, Any]],
        log: list[str] | None = None,
    ) -> None:
        self.data = data
        self.job = job
        self.checkpoints = checkpoints
        self.fail_checkpoints = False
        self.log = log if log is not None else []

    def retrieve(self, fine_tune_id: str) -> FineTuneJob:
        self.log.append("retrieve")
        return FineTuneJob.model_validate(self.job)

    def list_checkpoints(self, fine_tune_id: str) -> list[Checkpoint]:
        self.log.append("list_checkpoints")
        if self.fail_checkpoints:
            raise TogetherUnavailableError("checkpoints answered HTTP 503 to 3 attempts")
        return [Checkpoint.model_validate(entry) for entry in self.checkpoints]

    def open_download(self, spec: DownloadSpec) -> ArchiveSource:
        self.log.append("open_download")
        return ArchiveSource("https://storage.invalid/a", len(self.data), "application/zstd", '"e"')

    def read_range(
        self,
        source: ArchiveSource,
        start: int,
        into: memoryview,
        cancel: Cancellation | None = None,
    ) -> None:
        into[:] = self.data[start : start + len(into)]


class FakePublisher:
    def __init__(self, log: list[str] | None = None) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.log = log if log is not None else []

    def publish(self, detail_type: str, detail: BaseModel) -> str:
        self.log.append(f"publish {detail_type}")
        self.events.append((detail_type, detail.model_dump(mode="json")))
        return f"event-{len(self.events)}"


class FakeArchiveLedger:
    """The archive half of the state table: claims, progress, results, and whether they
    went out (leases are not kept: every claim of an unfinished archive succeeds)."""

    def __init__(self, log: list[str] | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.log = log if log is not None else []
        self.activities: list[ArchiveActivity] = []

    def claim_archive(
        self, key: str, owner: str, lease_s: float, ttl_s: int, reopen: bool = False
    ) -> Claim:
        item = self.items.get(key)
        if item is not None and item["status"] == "done" and not reopen:
            return FinishedArchive(item["detail"], item["published"])
        progress: SavedProgress | None = (item or {}).get("progress")
        self.items[key] = {"status": "running", "owner": owner}
        if progress is None:
            return FreshStart()
        self.items[key]["progress"] = progress
        return Resume(progress)

    def save_progress(self, key: str, owner: str, progress: SavedProgress) -> None:
        self.items[key]["progress"] = progress

    def pause_archive(self, key: str, owner: str) -> None:
        self.items[key]["status"] = "paused"

    def extend_lease(self, key: str, owner: str, lease_s: float) -> None:
        self.log.append("extend_lease")

    def record_plan(self, key: str, owner: str, plan: dict[str, Any]) -> dict[str, Any]:
        in_force: dict[str, Any] = self.items[key].setdefault("plan", plan)
        return in_force

    def recorded_plan(self, key: str, owner: str) -> dict[str, Any] | None:
        item = self.items.get(key, {})
        plan: dict[str, Any] | None = item.get("plan") if item.get("owner") == owner else None
        return plan

    def finish_archive(self, key: str, owner: str, detail: dict[str, Any]) -> None:
        self.log.append("finish_archive")
        self.items[key] = {"status": "done", "detail": detail, "published": False}

    def mark_published(self, key: str) -> None:
        self.log.append("mark_published")
        self.items[key]["published"] = True

    def describe_archive(self, key: str, owner: str, activity: ArchiveActivity) -> None:
        self.activities.append(activity)

    def touch_archive(self, key: str, owner: str) -> None:
        self.items.setdefault(key, {})["touched"] = True

    def release_archive(self, key: str, owner: str, error: str) -> None:
        self.log.append("release_archive")
        self.items[key]["status"] = "failed"
        self.items[key]["error"] = error
        self.items[key].pop("progress", None)


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    def send(self, message: Any) -> str:
        self.messages.append(message)
        return f"m-{len(self.messages)}"


class FakeLedger:
    def __init__(self) -> None:
        self.seen: dict[str, SeenWebhook] = {}

    def claim_webhook(self, webhook_id: str, body_digest: str, ttl_s: int) -> SeenWebhook | None:
        if webhook_id in self.seen:
            return self.seen[webhook_id]
        self.seen[webhook_id] = SeenWebhook(body_digest, None)
        return None

    def record_webhook_message(self, webhook_id: str, message_id: str) -> None:
        self.seen[webhook_id] = replace(self.seen[webhook_id], message_id=message_id)

    def seen_webhook(self, webhook_id: str) -> SeenWebhook | None:
        return self.seen.get(webhook_id)

    def forget_webhook(self, webhook_id: str) -> None:
        self.seen.pop(webhook_id, None)
