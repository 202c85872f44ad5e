"""A part's bytes as a seekable stream over its buffer, so botocore sends it without a copy.

Given a bytearray, botocore and urllib3 are fine, but a short last part would need a
slice (a copy); given this stream, every part goes out of the one reused buffer, and a
retry rewinds it with seek(0).
"""

import io


class PartBody(io.RawIOBase):
    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, min(len(self._view), base[whence] + offset))
        return self._position

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        count = min(len(buffer), len(self._view) - self._position)
        buffer[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def read(self, size: int | None = -1) -> memoryview:
        """A slice of the buffer, not a copy: urllib3 hands it straight to sendall()."""
        end = len(self._view) if size is None or size < 0 else self._position + size
        data = self._view[self._position : end]
        self._position += len(data)
        return data
