import hashlib
import os

import pytest

from ft_archiver.adapters.sha256_state import CTX_SIZE, ResumableSha256


def test_matches_hashlib_across_a_save_and_restore() -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    first = ResumableSha256()
    first.update(memoryview(bytearray(data[:1_000_003])))
    resumed = ResumableSha256(first.state())
    resumed.update(data[1_000_003:])
    assert resumed.hexdigest() == hashlib.sha256(data).hexdigest()
    assert len(first.state()) == CTX_SIZE


def test_hexdigest_does_not_end_the_hash() -> None:
    digest = ResumableSha256()
    digest.update(b"abc")
    assert digest.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    digest.update(b"def")
    assert digest.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_a_wrong_state_is_refused() -> None:
    with pytest.raises(ValueError, match="112 bytes"):
        ResumableSha256(b"short")
