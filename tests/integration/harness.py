"""What the integration tests do again and again: archive, then look at S3 and the bus."""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.settings import CliSettings
from ft_archiver.wiring.archiver import build_archiver
from ft_archiver_tools.local.aws import MotoServer, read_events
from ft_archiver_tools.local.resources import LocalResources
from ft_archiver_tools.local.simulator import SimArchive, TogetherSimulator
from tests.support.settings import TEST_TUNING, archiver_variables, settings_from

from .event_schemas import validate_event

PREFIX = "models/"
# What the in-process archives' tests assume ("HTTP 503 to 3 attempts", four lanes).
IN_PROCESS = {**TEST_TUNING, "FT_ARCHIVER_MAX_ATTEMPTS": "3", "FT_ARCHIVER_CONCURRENCY": "4",
              "FT_ARCHIVER_READ_TIMEOUT": "10"}  # fmt: skip


@dataclass
class Harness:
    aws: MotoServer
    together: TogetherSimulator
    stack: LocalResources
    capture_queue_url: str

    @property
    def bucket(self) -> str:
        return self.stack.bucket

    def variables(
        self, tuning: Mapping[str, str], **overrides: str | int | float
    ) -> dict[str, str]:
        """The archiver's variables for this simulator, bucket, PREFIX and bus."""
        return archiver_variables(self.together, bucket=self.bucket, prefix=PREFIX,
                                  bus=self.stack.bus_name, tuning=tuning, **overrides)  # fmt: skip

    def settings(self, **overrides: str | int | float) -> CliSettings:
        return settings_from(self.variables(IN_PROCESS, **overrides))

    def archive(self, request: ArchiveRequest, **overrides: str | int | float) -> ArchivedDetail:
        settings = self.settings(**overrides)
        archiver = build_archiver(settings)
        return archiver.archive(request, Destination(self.bucket, settings.archive_prefix))

    # -- what landed -------------------------------------------------------------------

    def sha256_of(self, key: str) -> str:
        body = self.aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
        return digest.hexdigest()

    def head(self, key: str) -> dict[str, Any]:
        s3 = self.aws.client("s3")
        return dict(s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"))

    def tags(self, key: str) -> dict[str, str]:
        tag_set = self.aws.client("s3").get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def manifest(self, key: str) -> dict[str, Any]:
        """The manifest stored at ``key``, parsed; its Content-Type must say JSON."""
        answer = self.aws.client("s3").get_object(Bucket=self.bucket, Key=key)
        assert answer["ContentType"] == "application/json"
        manifest: dict[str, Any] = json.loads(answer["Body"].read())
        return manifest

    def keys(self) -> list[str]:
        listing = self.aws.client("s3").list_objects_v2(Bucket=self.bucket)
        return [item["Key"] for item in listing.get("Contents", [])]

    def versions(self) -> list[str]:
        """Every object version and delete marker in the bucket: nothing half-written hides."""
        listing = self.aws.client("s3").list_object_versions(Bucket=self.bucket)
        return [item["Key"] for item in listing.get("Versions", [])] + [
            item["Key"] for item in listing.get("DeleteMarkers", [])
        ]

    def open_uploads(self) -> list[dict[str, Any]]:
        listing = self.aws.client("s3").list_multipart_uploads(Bucket=self.bucket)
        return list(listing.get("Uploads", []))

    def events(self, wait_s: float = 3.0) -> list[dict[str, Any]]:
        events = read_events(self.aws, self.capture_queue_url, wait_s)
        for event in events:
            validate_event(event)
        return events

    def assert_nothing_written(self) -> None:
        assert self.keys() == []
        assert self.versions() == []
        assert self.open_uploads() == []

    def assert_archived(
        self, detail: ArchivedDetail, archive: SimArchive, key: str
    ) -> dict[str, Any]:
        """Bytes, key, metadata, tags and the one success event; returns the event."""
        expected = self.together.sha256(archive)
        assert detail.key == key
        assert detail.filename == f"s3://{self.bucket}/{key}"
        assert detail.size == archive.size
        assert detail.sha256 == expected
        assert self.sha256_of(key) == expected
        head = self.head(key)
        assert head["ContentLength"] == archive.size
        assert head["ContentType"] == archive.content_type
        assert head["ChecksumCRC64NVME"] == detail.checksum
        assert head["Metadata"]["fine-tune-id"] == detail.id
        assert head["Metadata"]["checkpoint-type"] == detail.checkpoint_type
        assert head["Metadata"]["checkpoint-step"] == (
            "final" if detail.checkpoint_step is None else str(detail.checkpoint_step)
        )
        assert self.tags(key) == {"sha256": expected}
        assert detail.manifest_key == f"{key}.manifest.json"
        assert self.manifest(detail.manifest_key)["result"]["sha256"] == expected
        assert self.open_uploads() == []
        events = self.events()
        assert [e["detail-type"] for e in events] == ["Fine-tune Archived"]
        assert events[0]["source"] == "ft-archiver"
        assert events[0]["detail"] == detail.model_dump(mode="json")
        return events[0]

    def failure_event(self) -> dict[str, Any]:
        events = self.events()
        assert [e["detail-type"] for e in events] == ["Fine-tune Archive Failed"]
        detail: dict[str, Any] = events[0]["detail"]
        return detail
