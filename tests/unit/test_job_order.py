"""The order list_fine_tunes returns jobs in, whatever order Together sent them."""

from ft_archiver.adapters.together.answers import oldest_first
from ft_archiver.domain.job import FineTuneJob


def job(job_id: str, created_at: str | None) -> FineTuneJob:
    return FineTuneJob.model_validate({"id": job_id, "created_at": created_at})


def ids(jobs: list[FineTuneJob]) -> list[str]:
    return [j.id for j in jobs]


def test_newest_first_comes_back_oldest_first() -> None:
    sent = [job("c", "2026-11-03T00:00:00Z"), job("b", "2026-11-02T00:00:00Z"),
            job("a", "2026-11-01T00:00:00Z")]  # fmt: skip
    assert ids(oldest_first(sent)) == ["a", "b", "c"]


def test_instants_are_compared_not_texts() -> None:
    # As text, "2026-11-01T20..." sorts before "2026-11-02T00..."; as instants it is later.
    sent = [job("late", "2026-11-01T20:00:00-05:00"), job("early", "2026-11-02T00:00:00Z")]
    assert ids(oldest_first(sent)) == ["early", "late"]


def test_a_time_without_offset_is_utc() -> None:
    sent = [job("naive", "2026-11-02T01:00:00"), job("paris", "2026-11-02T01:30:00+01:00")]
    assert ids(oldest_first(sent)) == ["paris", "naive"]


def test_fractions_of_a_second_order_too() -> None:
    sent = [job("b", "2026-11-02T00:00:00.5Z"), job("a", "2026-11-02T00:00:00.123456789Z")]
    assert ids(oldest_first(sent)) == ["a", "b"]


def test_the_same_instant_keeps_the_order_given() -> None:
    tokyo, utc = job("tokyo", "2026-11-02T09:00:00+09:00"), job("utc", "2026-11-02T00:00:00Z")
    assert ids(oldest_first([tokyo, utc])) == ["tokyo", "utc"]
    assert ids(oldest_first([utc, tokyo])) == ["utc", "tokyo"]


def test_jobs_without_a_readable_time_come_first_in_the_order_given() -> None:
    sent = [job("new", "2026-11-02T00:00:00Z"), job("missing", None), job("old", "2026-11-01"),
            job("garbled", "yesterday"), job("empty", "")]  # fmt: skip
    assert ids(oldest_first(sent)) == ["missing", "garbled", "empty", "old", "new"]


def test_nothing_in_nothing_out() -> None:
    assert oldest_first([]) == []
