"""What the integration tests do again and again: archive, in-process or as the command,
then look at S3 and the bus."""

import json
import os
import subprocess
import sys
from typing import Any

from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.service.control import without_deadline
from ft_archiver.settings import CliSettings
from ft_archiver.wiring.archiver import build_archiver
from ft_archiver_tools.local.simulator import SimArchive
from tests.support.sandbox import Sandbox
from tests.support.settings import TEST_TUNING, settings_from

PREFIX = "models/"
# What the in-process archives' tests assume ("HTTP 503 to 3 attempts", four lanes).
IN_PROCESS = {**TEST_TUNING, "FT_ARCHIVER_MAX_ATTEMPTS": "3", "FT_ARCHIVER_CONCURRENCY": "4",
              "FT_ARCHIVER_READ_TIMEOUT": "10"}  # fmt: skip


class Harness(Sandbox):
    """A sandbox whose tests run the archiver themselves, in-process or as the command."""

    prefix = PREFIX

    def settings(self, **overrides: str | int | float) -> CliSettings:
        return settings_from(self.variables(IN_PROCESS, **overrides))

    def archive(
        self, request: ArchiveRequest, *, force: bool = False, **overrides: str | int | float
    ) -> ArchivedDetail:
        settings = self.settings(**overrides)
        archiver = build_archiver(settings)
        where = Destination(self.bucket, settings.archive_prefix)
        return without_deadline(archiver.archive(request, where, force=force)).detail

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


# -- the command, as a user runs it ------------------------------------------------------


def cli_env(harness: Harness, **extra: str) -> dict[str, str]:
    """The command's environment: this process's, then the archiver's for the harness."""
    return {**os.environ, **harness.variables(TEST_TUNING, **extra)}


def run(harness: Harness, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", *args],
        env=cli_env(harness, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """The command's ``--json`` output: a JSON document a line."""
    return [json.loads(line) for line in text.splitlines()]
