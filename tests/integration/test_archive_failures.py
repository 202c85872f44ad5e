"""Every failure ends with a clear error, no object, no open upload, and the right event."""

from typing import Any

import pytest

from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver.errors import (
    CheckpointTypeNotAllowedError,
    DownloadRefusedError,
    FineTuneNotFoundError,
    InvalidCheckpointTypeError,
    InvalidFineTuneIdError,
    InvalidObjectKeyError,
    StepGivenTwiceError,
    TogetherAuthError,
    TogetherUnavailableError,
    UnsafeDownloadError,
    UnsupportedTrainingTypeError,
)
from ft_archiver_tools.local.simulator import Faults

from .harness import Harness

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("request_args", "error", "message"),
    [
        ({"checkpoint_step": 5}, StepGivenTwiceError, "remove one"),
        ({"checkpoint_type": "lora"}, InvalidCheckpointTypeError, "default, merged, adapter"),
        ({"key": "../escape"}, InvalidObjectKeyError, "'..'"),
    ],
)
def test_rule_errors_before_any_lookup_write_and_emit_nothing(
    harness: Harness, request_args: dict[str, Any], error: type[Exception], message: str
) -> None:
    job = harness.together.add_job("Lora", steps={5: 1024})
    fine_tune_id = f"{job.id}:5" if "checkpoint_step" in request_args else job.id
    before = len(harness.together.log)
    with pytest.raises(error, match=message):
        harness.archive(ArchiveRequest(fine_tune_id, **request_args))
    assert len(harness.together.log) == before  # Together was never asked
    harness.stored.assert_nothing_written()
    assert harness.events.read(wait_s=1) == []


def test_malformed_id_is_refused_before_any_lookup(harness: Harness) -> None:
    with pytest.raises(InvalidFineTuneIdError):
        harness.archive(ArchiveRequest("ft-abc&checkpoint=adapter"))
    harness.stored.assert_nothing_written()
    assert harness.events.read(wait_s=1) == []


def test_full_job_refuses_the_adapter_and_reports_it(harness: Harness) -> None:
    job = harness.together.add_job("Full")
    with pytest.raises(CheckpointTypeNotAllowedError, match="Full fine-tune"):
        harness.archive(ArchiveRequest(job.id, checkpoint_type="adapter"))
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert failed["id"] == job.id
    assert failed["error_type"] == "CheckpointTypeNotAllowedError"
    assert failed["checkpoint_type"] == "adapter"
    assert failed["retryable"] is False


def test_unknown_training_type_is_refused_by_name(harness: Harness) -> None:
    job = harness.together.add_job("Dpo")
    with pytest.raises(UnsupportedTrainingTypeError, match="'Dpo'"):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()
    assert harness.failure_event()["error_type"] == "UnsupportedTrainingTypeError"


def test_unknown_job(harness: Harness) -> None:
    missing = "ft-00000000-0000-0000-0000-000000000000"
    with pytest.raises(FineTuneNotFoundError, match=f"fine-tune {missing} not found"):
        harness.archive(ArchiveRequest(missing))
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert failed["error_type"] == "FineTuneNotFoundError"
    assert failed["retryable"] is False


def test_missing_checkpoint_step(harness: Harness) -> None:
    """Together answers 400 (bad parameters): asking again gets the same answer, so the
    failure is not retryable and says what to ask for instead."""
    job = harness.together.add_job("Lora", steps={10: 1024})
    with pytest.raises(DownloadRefusedError, match=r"HTTP 400.*list its checkpoints") as caught:
        harness.archive(ArchiveRequest(job.id, checkpoint_step=11))
    assert not caught.value.retryable
    harness.stored.assert_nothing_written()
    event = harness.failure_event()
    assert (event["checkpoint_step"], event["retryable"]) == (11, False)
    assert "has no checkpoint step 11" in event["error"]  # Together's own message


def test_a_lora_job_without_a_merged_model_says_to_ask_for_the_adapter(harness: Harness) -> None:
    job = harness.together.add_job("Lora")
    del job.final["merged"]
    with pytest.raises(DownloadRefusedError, match="ask for checkpoint type 'adapter'"):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()
    assert harness.failure_event()["retryable"] is False


def test_rejected_api_key(harness: Harness) -> None:
    job = harness.together.add_job("Lora")
    wrong_key = "wrong-key-do-not-print"
    with pytest.raises(TogetherAuthError, match="the Together API key was rejected") as caught:
        harness.archive(ArchiveRequest(job.id), TOGETHER_API_KEY=wrong_key)
    assert wrong_key not in str(caught.value)
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert failed["error_type"] == "TogetherAuthError"
    assert wrong_key not in str(failed)


def test_source_that_keeps_failing(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=MIB)
    harness.together.set_faults(Faults(fail_first=1000, fail_status=503))
    with pytest.raises(TogetherUnavailableError, match="HTTP 503 to 3 attempts"):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert failed["retryable"] is True
    assert "X-Amz-Signature" not in failed["error"]


def test_source_dropping_every_connection_mid_part_aborts_the_upload(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=3 * MIB)
    harness.together.set_faults(Faults(drop_after_bytes=1000, drop_times=-1))
    with pytest.raises(TogetherUnavailableError):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()
    assert harness.failure_event()["error_type"] == "TogetherUnavailableError"


def test_dropped_connection_mid_part_resumes_and_completes(harness: Harness) -> None:
    job = harness.together.add_job(
        "Lora", size=2 * MIB, model_output_name="resumed", download="redirect"
    )
    archive = harness.together.archive_for(job.id, "merged")
    harness.together.set_faults(Faults(drop_after_bytes=100_000, drop_times=2))
    detail = harness.archive(ArchiveRequest(job.id))
    harness.assert_archived(detail, archive, "models/resumed.tar.zst")
    part_starts = {n * 256 * 1024 for n in range(8)}
    starts = [int(r.range.split("=")[1].split("-")[0])
              for r in harness.together.blob_requests(archive) if r.range]  # fmt: skip
    # each dropped part is asked for again from the byte where it broke, not from its start
    resumed = sorted(start % (256 * 1024) for start in starts if start not in part_starts)
    assert resumed == [100_000, 100_000]


def test_source_ending_early_every_time_keeps_nothing(harness: Harness) -> None:
    """A single-request archive whose body always stops short: never stored."""
    job = harness.together.add_job("Lora", size=200 * 1024)
    harness.together.set_faults(Faults(drop_after_bytes=50_000, drop_times=-1))
    with pytest.raises(TogetherUnavailableError, match="closed the connection at byte"):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()


def test_a_redirect_to_the_metadata_service_fails_without_retry(harness: Harness) -> None:
    job = harness.together.add_job("Lora")
    job.redirect_to = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    with pytest.raises(UnsafeDownloadError, match=r"169\.254\.169\.254, the instance metadata"):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert (failed["error_type"], failed["retryable"]) == ("UnsafeDownloadError", False)
    assert "security-credentials" not in failed["error"]  # the host, never the path
