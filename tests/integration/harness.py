"""What the integration tests do again and again: archive, then look at S3 and the bus."""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.settings import CliSettings
from ft_archiver.wiring.archiver import build_archiver
from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.resources import LocalResources
from ft_archiver_tools.local.simulator import SimArchive, TogetherSimulator
from tests.support.bucket import BucketInspector
from tests.support.events import EventCapture
from tests.support.settings import TEST_TUNING, archiver_variables, settings_from

PREFIX = "models/"
# What the in-process archives' tests assume ("HTTP 503 to 3 attempts", four lanes).
IN_PROCESS = {**TEST_TUNING, "FT_ARCHIVER_MAX_ATTEMPTS": "3", "FT_ARCHIVER_CONCURRENCY": "4",
              "FT_ARCHIVER_READ_TIMEOUT": "10"}  # fmt: skip


@dataclass
class Harness:
    aws: MotoServer
    together: TogetherSimulator
    stack: LocalResources
    events: EventCapture

    @property
    def bucket(self) -> str:
        return self.stack.bucket

    @cached_property
    def stored(self) -> BucketInspector:
        return BucketInspector(self.aws.client("s3"), self.bucket)

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

    def assert_archived(
        self, detail: ArchivedDetail, archive: SimArchive, key: str
    ) -> dict[str, Any]:
        """Bytes, key, metadata, tags and the one success event; returns the event."""
        expected = self.together.sha256(archive)
        assert detail.key == key
        assert detail.filename == f"s3://{self.bucket}/{key}"
        assert detail.size == archive.size
        assert detail.sha256 == expected
        assert self.stored.sha256_of(key) == expected
        head = self.stored.head(key)
        assert head["ContentLength"] == archive.size
        assert head["ContentType"] == archive.content_type
        assert head["ChecksumCRC64NVME"] == detail.checksum
        assert head["Metadata"]["fine-tune-id"] == detail.id
        assert head["Metadata"]["checkpoint-type"] == detail.checkpoint_type
        assert head["Metadata"]["checkpoint-step"] == (
            "final" if detail.checkpoint_step is None else str(detail.checkpoint_step)
        )
        assert self.stored.tags(key) == {"sha256": expected}
        assert detail.manifest_key == f"{key}.manifest.json"
        assert self.stored.manifest(detail.manifest_key)["result"]["sha256"] == expected
        assert self.stored.open_uploads() == []
        events = self.events.read()
        assert [e["detail-type"] for e in events] == ["Fine-tune Archived"]
        assert events[0]["source"] == "ft-archiver"
        assert events[0]["detail"] == detail.model_dump(mode="json")
        return events[0]

    def failure_event(self) -> dict[str, Any]:
        events = self.events.read()
        assert [e["detail-type"] for e in events] == ["Fine-tune Archive Failed"]
        detail: dict[str, Any] = events[0]["detail"]
        return detail
