import hashlib
import os
from collections.abc import Iterator

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.sha256_state import CTX_SIZE, new_sha256
from tests.support.interpreter import run_fresh


def test_matches_hashlib_across_a_save_and_restore() -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    first = new_sha256()
    first.update(memoryview(bytearray(data[:1_000_003])))
    resumed = new_sha256(first.state())
    resumed.update(data[1_000_003:])
    assert resumed.hexdigest() == hashlib.sha256(data).hexdigest()
    assert len(first.state()) == CTX_SIZE


def test_hexdigest_does_not_end_the_hash() -> None:
    digest = new_sha256()
    digest.update(b"abc")
    assert digest.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    digest.update(b"def")
    assert digest.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_a_wrong_state_is_refused() -> None:
    with pytest.raises(ValueError, match="112 bytes"):
        new_sha256(b"short")


@pytest.fixture
def no_libcrypto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sha256_state, "_candidates", lambda: iter(["libnot-there.so.9", None]))
    sha256_state._library.cache_clear()
    yield
    sha256_state._library.cache_clear()


def test_without_libcrypto_hashing_falls_back_to_hashlib_and_says_so_once(
    no_libcrypto: None, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = new_sha256(), new_sha256()
    first.update(b"abc")
    second.update(memoryview(bytearray(b"abc")))
    assert first.hexdigest() == second.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    assert first.state() == b""  # nothing to save
    assert not sha256_state.resumable()
    warnings = [r for r in caplog.records if "libcrypto" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"


def test_without_libcrypto_a_saved_state_is_refused(no_libcrypto: None) -> None:
    with pytest.raises(ValueError, match="without libcrypto"):
        new_sha256(b"x" * CTX_SIZE)


def test_the_webhook_function_never_loads_libcrypto() -> None:
    probe = (
        "import ft_archiver.handlers.webhook, ft_archiver.handlers.archiver\n"
        "from ft_archiver.adapters import sha256_state as s\n"
        "print(s._library.cache_info().currsize)"
    )
    assert run_fresh(probe).strip() == "0"  # loaded on the first hash, not at import
