"""The continuation limit in the archive's steps, against in-memory fakes: at the limit
the deadline fails the archive cleanly; below it the deadline suspends."""

import itertools
from collections.abc import Callable

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.events import ARCHIVE_FAILED, ARCHIVED
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import ArchiveConflictError, ContinuationLimitError
from ft_archiver.service.archive import Archiver, TransferOptions
from ft_archiver.service.control import (
    Archived,
    ArchiveOutcome,
    Delegated,
    Suspended,
    TransferControl,
)
from ft_archiver.service.delegation import Delegation
from tests.support.fakes import FakeArchiveLedger, FakePublisher, FakeStore, FakeTogether

JOB_ID = "ft-0123abcd"
OPTIONS = TransferOptions(
    part_size=1024, part_size_floor=1024, concurrency=1, upload_concurrency=1,
    memory_budget=1 << 20, algorithm=ALGORITHMS["CRC64NVME"],
)  # fmt: skip
JOB = {"id": JOB_ID, "status": "completed", "model_output_name": "acme/m",
       "training_type": {"type": "Lora"}}  # fmt: skip
LIMIT = 3


class World:
    def __init__(self) -> None:
        data = bytes(i % 251 for i in range(3000))  # three parts
        self.store = FakeStore()
        self.publisher = FakePublisher()
        self.ledger = FakeArchiveLedger()
        self.archiver = Archiver(
            FakeTogether(data, JOB, []), self.store, self.publisher, OPTIONS, sha256_state,
            self.store, ledger=self.ledger, deadline_margin_s=1.0, max_continuations=LIMIT,
        )  # fmt: skip

    def archive(self, continuation: int, remaining_s: Callable[[], float]) -> ArchiveOutcome:
        return self.archiver.archive(
            ArchiveRequest(JOB_ID), Destination("b", "models/"),
            TransferControl(remaining_s=remaining_s, continuation=continuation),
        )  # fmt: skip

    @property
    def status(self) -> str:
        [item] = self.ledger.items.values()
        return str(item["status"])


def test_at_the_limit_the_deadline_aborts_releases_and_reports() -> None:
    world = World()
    with pytest.raises(ContinuationLimitError, match=f"more than {LIMIT} continuations"):
        world.archive(continuation=LIMIT, remaining_s=lambda: 0.0)
    [upload] = world.store.uploads
    assert upload.aborted
    assert world.store.objects == {}
    assert world.status == "failed"  # released: a later request starts afresh
    [(detail_type, failed)] = world.publisher.events
    assert (detail_type, failed["error_type"], failed["retryable"]) == (
        ARCHIVE_FAILED, "ContinuationLimitError", False,
    )  # fmt: skip
    assert "raise MaxContinuations" in failed["error"]


def test_below_the_limit_the_deadline_suspends_and_keeps_the_upload() -> None:
    world = World()
    checks = itertools.count()
    # time for the first part (two checks per part taken), then the deadline
    outcome = world.archive(
        continuation=LIMIT - 1, remaining_s=lambda: 60.0 - 60 * (next(checks) >= 2)
    )
    assert outcome == Suspended(parts_done=1, parts=3)
    [upload] = world.store.uploads
    assert not upload.aborted
    assert world.status == "paused"
    assert world.publisher.events == []


def test_at_the_limit_an_archive_that_meets_no_deadline_completes() -> None:
    world = World()
    assert isinstance(world.archive(continuation=LIMIT, remaining_s=lambda: 60.0), Archived)
    assert [detail_type for detail_type, _ in world.publisher.events] == [ARCHIVED]


class Executions:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, name: str, document: str) -> str:
        self.started.append(name)
        return f"arn:aws:states:::execution:archive:{name}"


def test_an_archive_begun_here_and_then_handed_on_aborts_its_upload() -> None:
    world = World()
    checks = itertools.count()
    world.archive(continuation=0, remaining_s=lambda: 60.0 - 60 * (next(checks) >= 2))
    [begun] = world.store.uploads
    assert world.status == "paused"
    assert not begun.aborted
    # FanOutThreshold lowered before the next invocation: the archive is now fanned out
    executions = Executions()
    world.archiver = Archiver(
        FakeTogether(bytes(i % 251 for i in range(3000)), JOB, []), world.store,
        world.publisher, OPTIONS, sha256_state, world.store, ledger=world.ledger,
        delegation=Delegation(executions, threshold_bytes=0),
    )  # fmt: skip
    outcome = world.archive(continuation=1, remaining_s=lambda: 60.0)
    assert isinstance(outcome, Delegated)
    assert len(executions.started) == 1
    assert begun.aborted  # not left open for the bucket's 2-day rule
    assert world.publisher.events == []  # the execution reports the outcome


def test_a_paused_archive_whose_key_was_taken_meanwhile_is_refused_and_its_upload_aborted() -> None:
    """The look before the first part also runs on a continuation: another object put at
    the key between two invocations refuses the archive, and the open upload is aborted
    rather than left for the bucket's rule."""
    world = World()
    checks = itertools.count()
    world.archive(continuation=0, remaining_s=lambda: 60.0 - 60 * (next(checks) >= 2))
    [begun] = world.store.uploads
    assert world.status == "paused"
    spec = begun.spec
    world.store.put_object(spec, b"someone else's", spec.algorithm.compute(b"someone else's"))
    with pytest.raises(ArchiveConflictError, match="already holds another object"):
        world.archive(continuation=1, remaining_s=lambda: 60.0)
    assert begun.aborted
    assert world.status == "failed"
    assert [detail_type for detail_type, _ in world.publisher.events] == [ARCHIVE_FAILED]
