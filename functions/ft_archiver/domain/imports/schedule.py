"""When the import stage looks at a job again, and when it gives up. Pure.

Bedrock emits no EventBridge event for import jobs (its EventBridge page lists model
customization and batch inference state changes only:
https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge.html), and
Step Functions has no ``.sync`` integration for CreateModelImportJob. So the stage polls
GetModelImportJob: each look is one short invocation, and the next is a new message on
ImportQueue with SQS's DelaySeconds (at most 900 s), never a function that sleeps.

An import takes 10 to 60 minutes (a look every minute for the first ten, then every
five). ServiceQuotaExceededException (another import running: one job at a time per
region; or the imported-model quota) is waited out: 5 minutes, doubling to 15.
"""

SQS_MAX_DELAY_S = 900
POLL_FIRST_S = 60
POLL_FIRST_COUNT = 10
POLL_LATER_S = 300
QUOTA_FIRST_S = 300


def poll_delay_s(polls: int, first_s: int = POLL_FIRST_S) -> int:
    """The wait before look number ``polls + 1`` at a running job: ``first_s`` for the
    first ten looks, five times that afterwards (SQS's 900 s at most)."""
    later = first_s * (POLL_LATER_S // POLL_FIRST_S)
    return min(first_s if polls < POLL_FIRST_COUNT else later, SQS_MAX_DELAY_S)


def quota_delay_s(deferrals: int, base_s: int = QUOTA_FIRST_S) -> int:
    """The wait after the ``deferrals``-th refusal for a quota (1 for the first)."""
    doublings = min(max(deferrals, 1) - 1, 4)
    return min(base_s << doublings, SQS_MAX_DELAY_S)


def overdue(since_s: float, now_s: float, max_wait_s: float) -> bool:
    return now_s - since_s > max_wait_s
