"""An archive whose parts cannot fit the function's memory is refused before any upload."""

from dataclasses import replace

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.domain.events import ARCHIVE_FAILED
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import ConfigurationError
from ft_archiver.service.archive import Archiver
from tests.support.fakes import FakeArchiveLedger, FakePublisher, FakeStore, FakeTogether

from .test_archive_manifest import JOB, OPTIONS


def test_a_part_that_cannot_fit_the_buffers_fails_cleanly_before_the_upload() -> None:
    store, publisher, ledger = FakeStore(), FakePublisher(), FakeArchiveLedger()
    options = replace(OPTIONS, memory_budget=OPTIONS.part_size - 1)
    data = bytes(3 * OPTIONS.part_size)
    archiver = Archiver(FakeTogether(data, JOB, []), store, publisher, options, sha256_state, store,
                        ledger=ledger)  # fmt: skip
    with pytest.raises(ConfigurationError, match="needs ArchiverMemorySize"):
        archiver.archive(ArchiveRequest(str(JOB["id"])), Destination("b", "models/"))
    assert store.uploads == []
    assert [t for t, _ in publisher.events] == [ARCHIVE_FAILED]
    assert [item["status"] for item in ledger.items.values()] == ["failed"]
