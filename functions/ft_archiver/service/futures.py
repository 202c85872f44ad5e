"""The outcome of parallel work: its root cause, not the cancellations it caused."""

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from ft_archiver.cancellation import Cancellation
from ft_archiver.errors import TransferCancelledError


def raise_first_failure(futures: Sequence[Future[Any]], cancel: Cancellation) -> None:
    """The first error that is not a cancellation, else the first cancellation; and when
    nothing failed but ``cancel`` is set, the work was cancelled before it finished."""
    errors = [
        error
        for future in futures
        if not future.cancelled() and (error := future.exception()) is not None
    ]
    for error in errors:
        if not isinstance(error, TransferCancelledError):
            raise error
    if errors:
        raise errors[0]
    if cancel.is_set():
        raise TransferCancelledError("transfer cancelled before every part was uploaded")
