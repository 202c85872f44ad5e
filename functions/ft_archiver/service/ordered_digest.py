"""The archive's SHA-256, fed with parts that arrive in any order and hashed in order."""

import threading
from collections.abc import Callable

from ft_archiver.service.ports import Digests


class OrderedDigest:
    """Hashes parts in part order whichever thread delivers them; the thread that delivers
    the next part drains every part waiting behind it. After each part it reports the
    digest's state, so that a transfer can be resumed from there."""

    def __init__(
        self,
        on_hashed: Callable[[int, bytes], None],
        state: bytes | None = None,
        first: int = 1,
        *,
        digests: Digests,
    ) -> None:
        self._sha = digests.new_sha256(state)
        self._next = first
        self._pending: dict[int, memoryview] = {}
        self._draining = False
        self._lock = threading.Lock()
        self._on_hashed = on_hashed
        self.hashed_bytes = 0

    def add(self, number: int, data: memoryview) -> None:
        with self._lock:
            self._pending[number] = data
        while True:
            with self._lock:
                if self._draining or self._next not in self._pending:
                    return
                self._draining = True
                number = self._next
                data = self._pending.pop(number)
            try:
                self._sha.update(data)  # releases the GIL: other parts keep moving
                state = self._sha.state()
            finally:
                with self._lock:
                    self._next += 1
                    self._draining = False
                    self.hashed_bytes += len(data)
            self._on_hashed(number, state)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()
