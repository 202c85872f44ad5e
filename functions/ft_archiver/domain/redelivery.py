"""When a failed ArchiveQueue message is received again.

Lambda's event source mapping leaves a failed message invisible for the queue's
visibility timeout (5400 s, 6 x the function's 900 s, as Lambda asks), which would make
every retry wait 90 minutes. The archiver sets the delay itself instead
(ChangeMessageVisibility), from the message's ApproximateReceiveCount.
"""

import math

RETRY_FIRST_S = 60
RETRY_MAX_S = 900  # one function timeout
SQS_MAX_VISIBILITY_S = 12 * 3600


def retry_delay_s(receive_count: int) -> int:
    """A retryable failure: 1, 2, 4 and 8 minutes after the 1st to 4th receive, then 15."""
    doublings = min(max(receive_count, 1) - 1, 8)
    return min(RETRY_MAX_S, RETRY_FIRST_S << doublings)


def lease_wait_s(receive_count: int, lease_s: float) -> int:
    """A request whose archive another invocation holds. That invocation's own message
    carries the archive to its end (over continuations, for as long as it takes), so
    this delivery is only the safety net for a holder that never comes back, such as a
    command-line run killed for good. It looks again once the lease could have expired,
    then every 12 hours (SQS's longest visibility), so that its five receives outlast
    the longest chain of continuations instead of landing in the dead-letter queue while
    the archive is still running."""
    if receive_count <= 1:
        return min(SQS_MAX_VISIBILITY_S, math.ceil(lease_s))
    return SQS_MAX_VISIBILITY_S
