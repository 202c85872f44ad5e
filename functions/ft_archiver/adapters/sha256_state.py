"""SHA-256 whose state can be saved and restored, so a resumed archive goes on hashing
where the last invocation stopped instead of reading the finished parts again.

hashlib cannot export its state; OpenSSL's SHA256_CTX (the same code hashlib runs, already
loaded in this process by hashlib) is a plain 112-byte struct that can be. ctypes releases
the GIL for the call, as hashlib does.

libcrypto is loaded on first use, not at import, so a function that never hashes (the
webhook) never loads it. Where it cannot be loaded, or lacks a symbol, hashing falls
back to hashlib (logged once) and the digest cannot be saved: an archive must then
finish in one run (no suspension, no resume).

The module itself is the service's ``Digests`` port (``resumable``, ``new_sha256``):
the wiring hands it to the archiver.
"""

import ctypes
import ctypes.util
import hashlib
import logging
from collections.abc import Iterator
from functools import cache

from ft_archiver.service.ports import Sha256

log = logging.getLogger(__name__)

CTX_SIZE = 112  # sizeof(SHA256_CTX): h[8], Nl, Nh, data[16], num, md_len as 32-bit words
FUNCTIONS = ("SHA256_Init", "SHA256_Update", "SHA256_Final")


def _candidates() -> Iterator[str | None]:
    # The plain names first: find_library runs ldconfig (or gcc), slow at a cold start.
    yield "libcrypto.so.3"
    yield "libcrypto.so"
    yield ctypes.util.find_library("crypto")


@cache
def _library() -> ctypes.CDLL | None:
    for name in _candidates():
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
            for function in FUNCTIONS:
                getattr(library, function).restype = ctypes.c_int
        except (OSError, AttributeError):
            continue
        return library
    log.warning(
        "libcrypto (OpenSSL) with SHA256_Init/Update/Final is not available: hashing with "
        "hashlib, whose state cannot be saved; archives cannot be suspended and resumed"
    )
    return None


def resumable() -> bool:
    """Whether a digest's state can be saved here (libcrypto loads)."""
    return _library() is not None


def new_sha256(state: bytes | None = None) -> Sha256:
    """A resumable SHA-256 where libcrypto loads, else hashlib's (which cannot resume)."""
    library = _library()
    if library is not None:
        return ResumableSha256(library, state)
    if state is not None:
        raise ValueError("a saved SHA-256 state cannot be resumed without libcrypto")
    return PlainSha256()


class PlainSha256:
    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def update(self, data: memoryview | bytes | bytearray) -> None:
        self._sha.update(data)

    def state(self) -> bytes:
        return b""

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


class ResumableSha256:
    def __init__(self, library: ctypes.CDLL, state: bytes | None = None) -> None:
        self._library = library
        self._context = ctypes.create_string_buffer(CTX_SIZE + 16)
        if state is None:
            library.SHA256_Init(self._context)
        else:
            if len(state) != CTX_SIZE:
                raise ValueError(f"a SHA-256 state is {CTX_SIZE} bytes, not {len(state)}")
            ctypes.memmove(self._context, state, CTX_SIZE)

    def update(self, data: memoryview | bytes | bytearray) -> None:
        view = memoryview(data).cast("B")
        if not len(view):
            return
        if view.readonly:
            pointer = ctypes.c_char_p(bytes(view))
        else:
            pointer = (ctypes.c_char * len(view)).from_buffer(view)  # type: ignore[assignment]
        self._library.SHA256_Update(self._context, pointer, ctypes.c_size_t(len(view)))

    def state(self) -> bytes:
        return self._context.raw[:CTX_SIZE]

    def hexdigest(self) -> str:
        copy = ctypes.create_string_buffer(self.state(), CTX_SIZE + 16)
        digest = ctypes.create_string_buffer(32)
        self._library.SHA256_Final(digest, copy)
        return digest.raw.hex()
