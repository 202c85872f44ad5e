"""What a long-running step asks to know whether it should stop (a threading.Event fits)."""

from typing import Protocol


class Cancellation(Protocol):
    def is_set(self) -> bool: ...
