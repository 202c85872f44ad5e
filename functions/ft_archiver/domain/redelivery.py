"""When a failed ArchiveQueue message is received again.

Lambda's event source mapping leaves a failed message invisible for the queue's
visibility timeout (5400 s, 6 x the function's 900 s, as Lambda asks), which would make
every retry wait 90 minutes. The archiver sets the delay itself instead
(ChangeMessageVisibility), from the message's ApproximateReceiveCount.

A request whose archive another invocation holds is not a failure and is not retried
this way: it is asked again in a fresh message (``Settings.lease_wait_s`` later), so that
waiting on a long archive neither uses up its receives nor ages in the queue.
"""

RETRY_FIRST_S = 60
RETRY_MAX_S = 900  # one function timeout
SQS_MAX_DELAY_S = 900  # SendMessage's DelaySeconds at most


def retry_delay_s(receive_count: int) -> int:
    """A retryable failure: 1, 2, 4 and 8 minutes after the 1st to 4th receive, then 15."""
    doublings = min(max(receive_count, 1) - 1, 8)
    return min(RETRY_MAX_S, RETRY_FIRST_S << doublings)
