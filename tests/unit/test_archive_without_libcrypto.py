"""Without libcrypto the digest cannot be saved: the archive finishes in one run instead
of suspending into a continuation that could not resume it."""

from collections.abc import Callable, Iterator

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.service.control import Archived, Suspended, TransferControl

from .test_archive_manifest import World


@pytest.fixture
def no_libcrypto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sha256_state, "_candidates", lambda: iter(["libnot-there.so.9"]))
    sha256_state._library.cache_clear()
    yield
    sha256_state._library.cache_clear()


def deadline_after_some_parts() -> Callable[[], float]:
    """Time left: plenty for the first few checks, then below any margin."""
    calls = iter(range(1000))
    return lambda: 100.0 if next(calls) < 6 else 0.0


def test_a_run_past_its_deadline_finishes_instead_of_suspending(no_libcrypto: None) -> None:
    world = World(size=8000)  # eight parts
    outcome = world.archiver.archive(
        ArchiveRequest("ft-0123abcd"), Destination("b", "models/"),
        TransferControl(remaining_s=deadline_after_some_parts()),
    )  # fmt: skip
    assert isinstance(outcome, Archived)
    detail = outcome.detail
    assert detail.parts == 8
    assert [item["status"] for item in world.ledger.items.values()] == ["done"]
    assert world.store.objects[detail.key] == bytes(i % 251 for i in range(8000))


def test_with_libcrypto_the_same_run_suspends() -> None:
    world = World(size=8000)
    outcome = world.archiver.archive(
        ArchiveRequest("ft-0123abcd"), Destination("b", "models/"),
        TransferControl(remaining_s=deadline_after_some_parts()),
    )  # fmt: skip
    assert isinstance(outcome, Suspended)
    assert [item["status"] for item in world.ledger.items.values()] == ["paused"]
