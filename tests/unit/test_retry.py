from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from ft_archiver.adapters.retry import RetryPolicy, parse_retry_after


def test_retry_after_seconds() -> None:
    assert parse_retry_after("3") == 3.0


def test_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    waited = parse_retry_after(when)
    assert waited is not None
    assert 25 <= waited <= 31


def test_retry_after_garbage_is_ignored() -> None:
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_honours_retry_after_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=0.5, max_delay_s=10)
    assert policy.backoff(1, "4") == 4.0
    assert policy.backoff(1, "400") == 10


def test_backoff_is_jittered_and_bounded() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=1, max_delay_s=3)
    delays = [policy.backoff(attempt) for attempt in range(1, 10) for _ in range(20)]
    assert all(0 <= d <= 3 for d in delays)
    assert len(set(delays)) > 1
