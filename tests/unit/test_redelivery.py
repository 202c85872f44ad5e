"""When a failed ArchiveQueue message comes back: the delays the archiver sets."""

from ft_archiver.domain.redelivery import retry_delay_s

MAX_RECEIVES = 5  # the queue's maxReceiveCount


def test_a_retryable_failure_comes_back_after_1_2_4_8_minutes_then_15() -> None:
    assert [retry_delay_s(n) for n in range(1, 8)] == [60, 120, 240, 480, 900, 900, 900]


def test_a_failing_request_reaches_the_dead_letter_queue_in_a_quarter_hour() -> None:
    # The waits between the five receives: 15 minutes in all, not 4 x 90.
    assert sum(retry_delay_s(n) for n in range(1, MAX_RECEIVES)) == 15 * 60


def test_a_receive_count_that_is_missing_or_huge_stays_in_bounds() -> None:
    assert retry_delay_s(0) == 60
    assert retry_delay_s(10_000) == 900
