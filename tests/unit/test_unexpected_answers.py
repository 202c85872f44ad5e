"""What counts as an answer Together does not document, and how the functions count it."""

import pytest

from ft_archiver.domain.job import Checkpoint, FineTuneJob, JobSummary
from ft_archiver.domain.unexpected import (
    UnexpectedAnswer,
    in_checkpoints,
    in_job,
    in_list_entries,
)
from ft_archiver.observability import count_unexpected_answer, metrics


def entry(**fields: object) -> JobSummary:
    return JobSummary.model_validate({"id": "ft-1", **fields})


def test_every_documented_status_is_expected_and_others_are_not() -> None:
    documented = ["pending", "queued", "running", "compressing", "uploading",
                  "cancel_requested", "cancelled", "error", "user_error", "completed"]  # fmt: skip
    entries = [entry(status=s, created_at="2026-11-01T00:00:00Z") for s in documented]
    assert in_list_entries(entries) == []
    [odd] = in_list_entries([entry(status="paused", created_at="2026-11-01T00:00:00Z")])
    assert (odd.answer, odd.job_id, odd.field, odd.found) == ("list", "ft-1", "status", "'paused'")


def test_a_missing_status_or_creation_time_is_unexpected() -> None:
    found = in_list_entries([entry()])
    assert [(f.field, f.found) for f in found] == [("status", "missing"), ("created_at", "missing")]


@pytest.mark.parametrize(
    ("training_type", "unexpected"),
    [({"type": "Full"}, False), ({"type": ""}, False), ({"type": "Lora", "lora_r": 8}, False),
     ({"type": "Distilled"}, True), (None, True)],
)  # fmt: skip
def test_a_completed_job_no_rule_can_route_is_unexpected(
    training_type: object, unexpected: bool
) -> None:
    job = FineTuneJob.model_validate(
        {"id": "ft-1", "status": "completed", "training_type": training_type}
    )
    assert bool(in_job(job)) is unexpected


def test_a_running_job_without_a_training_type_is_not_yet_unexpected() -> None:
    assert in_job(FineTuneJob.model_validate({"id": "ft-1", "status": "running"})) == []


def test_the_four_documented_checkpoint_types_are_expected() -> None:
    kinds = ["Intermediate", "Final", "Final Merged", "Final Adapter", "final adapter"]
    checkpoints = [Checkpoint(step=n, checkpoint_type=k) for n, k in enumerate(kinds)]
    assert in_checkpoints("ft-1", checkpoints) == []
    [odd] = in_checkpoints("ft-1", [Checkpoint(step=9, checkpoint_type="Final Distilled")])
    assert odd.describe() == (
        "Together's checkpoints answer for fine-tune ft-1 has checkpoint_type 'Final Distilled'"
    )


def test_the_functions_count_each_answer_and_log_it_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics.clear_metrics()
    count_unexpected_answer(UnexpectedAnswer("list", "ft-1", "status", "'paused'"))
    count_unexpected_answer(UnexpectedAnswer("list", "ft-2", "status", "'paused'"))
    assert metrics.metric_set["UnexpectedTogetherAnswer"]["Value"] == [1.0, 1.0]
    lines = [r for r in caplog.records if r.getMessage().startswith("unexpected Together")]
    assert [r.__dict__["unexpected_answer"]["job_id"] for r in lines] == ["ft-1", "ft-2"]
    assert all(r.levelname == "WARNING" for r in lines)
    metrics.clear_metrics()
