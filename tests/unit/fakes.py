"""In-memory fakes of the transfer's ports, for narrow unit tests of the engine."""

import threading
import time
from dataclasses import replace
from types import TracebackType
from typing import Any

from ft_archiver.adapters.s3 import ObjectSpec, StoredObject, UploadedPart
from ft_archiver.domain.checksums import Buffer
from ft_archiver.domain.webhook import SeenWebhook


class FakeUpload:
    def __init__(self, store: "FakeStore", spec: ObjectSpec) -> None:
        self.store = store
        self.spec = spec
        self.parts: dict[int, bytes] = {}
        self.completed = False
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
        return "fake-upload"

    def suspend(self) -> None:
        self.completed = True

    def list_parts(self) -> list[UploadedPart]:
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

    def complete(self, parts: list[UploadedPart], size: int, crc: int) -> StoredObject:
        data = b"".join(self.parts[p.number] for p in sorted(parts, key=lambda p: p.number))
        assert len(data) == size
        assert crc == self.spec.algorithm.compute(data)
        self.completed = True
        self.store.objects[self.spec.key] = data
        return StoredObject(self.spec.bucket, self.spec.key, '"etag-x"', None)


class FakeStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.uploads: list[FakeUpload] = []
        self.fail_part: int | None = None
        self.upload_delay: dict[int, float] = {}

    def put_object(self, spec: ObjectSpec, body: Buffer, crc: int) -> StoredObject:
        self.objects[spec.key] = bytes(body)
        return StoredObject(spec.bucket, spec.key, '"etag-single"', None)

    def start_multipart(self, spec: ObjectSpec) -> FakeUpload:
        upload = FakeUpload(self, spec)
        self.uploads.append(upload)
        return upload

    def resume_multipart(self, spec: ObjectSpec, upload_id: str) -> FakeUpload:
        return self.uploads[-1]

    def tag(self, stored: StoredObject, tags: dict[str, str]) -> None:
        pass


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
