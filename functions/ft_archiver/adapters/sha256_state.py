"""SHA-256 whose state can be saved and restored, so a resumed archive goes on hashing
where the last invocation stopped instead of reading the finished parts again.

hashlib cannot export its state; OpenSSL's SHA256_CTX (the same code hashlib runs, already
loaded in this process by hashlib) is a plain 112-byte struct that can be. ctypes releases
the GIL for the call, as hashlib does.
"""

import ctypes
import ctypes.util
from collections.abc import Iterator

CTX_SIZE = 112  # sizeof(SHA256_CTX): h[8], Nl, Nh, data[16], num, md_len as 32-bit words


def _candidates() -> Iterator[str | None]:
    # The plain names first: find_library runs ldconfig (or gcc), slow at a cold start.
    yield "libcrypto.so.3"
    yield "libcrypto.so"
    yield ctypes.util.find_library("crypto")


def _load() -> ctypes.CDLL:
    for name in _candidates():
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        for function in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
            getattr(library, function).restype = ctypes.c_int
        return library
    raise OSError("libcrypto (OpenSSL) is not available for resumable SHA-256")


_LIBRARY = _load()


class ResumableSha256:
    def __init__(self, state: bytes | None = None) -> None:
        self._context = ctypes.create_string_buffer(CTX_SIZE + 16)
        if state is None:
            _LIBRARY.SHA256_Init(self._context)
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
        _LIBRARY.SHA256_Update(self._context, pointer, ctypes.c_size_t(len(view)))

    def state(self) -> bytes:
        return self._context.raw[:CTX_SIZE]

    def hexdigest(self) -> str:
        copy = ctypes.create_string_buffer(self.state(), CTX_SIZE + 16)
        digest = ctypes.create_string_buffer(32)
        _LIBRARY.SHA256_Final(digest, copy)
        return digest.raw.hex()
