"""Every row of Together's rules table (DESIGN.md), with the SDK's edge cases."""

import pytest

from ft_archiver.domain.checkpoints import (
    MAX_STEP,
    CheckpointType,
    JobRef,
    parse_checkpoint_type,
    parse_job_ref,
    resolve_download,
)
from ft_archiver.errors import (
    CheckpointTypeNotAllowedError,
    InvalidCheckpointStepError,
    InvalidCheckpointTypeError,
    InvalidFineTuneIdError,
    RuleError,
    StepGivenTwiceError,
    UnsupportedTrainingTypeError,
)

JOB = "ft-4f1c2a9e-0b7d-4c1e-9a3f-2d8b6e5c1a70"


def test_plain_id_has_no_step() -> None:
    assert parse_job_ref(JOB) == JobRef(JOB, None)


def test_compound_id_splits_off_the_step() -> None:
    assert parse_job_ref(f"{JOB}:100") == JobRef(JOB, 100)


def test_compound_id_step_zero_is_a_step() -> None:
    # The SDK checks `is not None`: step 0 goes into the query.
    ref = parse_job_ref(f"{JOB}:0")
    assert ref == JobRef(JOB, 0)


def test_explicit_step_is_kept() -> None:
    assert parse_job_ref(JOB, 250) == JobRef(JOB, 250)


def test_step_given_twice_is_refused_with_both_values() -> None:
    with pytest.raises(StepGivenTwiceError) as caught:
        parse_job_ref(f"{JOB}:100", 100)
    message = str(caught.value)
    assert JOB in message
    assert "{id}" not in message  # the SDK's defect: it prints the placeholder
    assert "100" in message
    assert "remove one" in message


def test_uppercase_hex_in_a_compound_id_is_not_compound() -> None:
    # The SDK's pattern is lower-case only, so this is no compound ID; a ':' can
    # never be part of a job ID, so we refuse it instead of asking Together for it.
    with pytest.raises(InvalidFineTuneIdError, match="lower-case hex"):
        parse_job_ref(f"{JOB.upper().replace('FT-', 'ft-')}:5")


@pytest.mark.parametrize(
    "bad",
    [f"{JOB}:", f"{JOB}:abc", f"{JOB}:-1", f"{JOB}:5:6", "ft-xyz:5", f"{JOB}:5\n", f"{JOB}:٣"],
)
def test_colon_ids_that_do_not_match_the_pattern_are_refused(bad: str) -> None:
    with pytest.raises(InvalidFineTuneIdError):
        parse_job_ref(bad)


@pytest.mark.parametrize(
    "bad", ["", "ft-", "model-123", "ft-abc&checkpoint=adapter", "ft-../x", "ft-a b", "ft-é"]
)
def test_non_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidFineTuneIdError):
        parse_job_ref(bad)


def test_uppercase_plain_id_is_passed_on() -> None:
    assert parse_job_ref("ft-ABC-123").id == "ft-ABC-123"


@pytest.mark.parametrize("step", [-1, MAX_STEP + 1, 10**30])
def test_out_of_range_steps_are_refused(step: int) -> None:
    with pytest.raises(InvalidCheckpointStepError):
        parse_job_ref(JOB, step)


def test_huge_compound_step_is_refused() -> None:
    with pytest.raises(InvalidCheckpointStepError):
        parse_job_ref(f"{JOB}:{10**30}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, CheckpointType.DEFAULT),
        ("default", CheckpointType.DEFAULT),
        ("MERGED", CheckpointType.MERGED),
        ("Adapter", CheckpointType.ADAPTER),
    ],
)
def test_checkpoint_type_is_case_insensitive(text: str | None, expected: CheckpointType) -> None:
    assert parse_checkpoint_type(text) is expected


def test_unknown_checkpoint_type_lists_the_three() -> None:
    with pytest.raises(InvalidCheckpointTypeError) as caught:
        parse_checkpoint_type("lora")
    assert "'lora'" in str(caught.value)
    assert "default, merged, adapter" in str(caught.value)


def test_full_default_downloads_model_output_path() -> None:
    spec = resolve_download(JobRef(JOB, None), CheckpointType.DEFAULT, "Full")
    assert spec.checkpoint == "model_output_path"
    assert spec.query() == {"ft_id": JOB, "checkpoint": "model_output_path"}


@pytest.mark.parametrize("kind", [CheckpointType.MERGED, CheckpointType.ADAPTER])
def test_full_allows_only_default(kind: CheckpointType) -> None:
    with pytest.raises(CheckpointTypeNotAllowedError, match="Full fine-tune"):
        resolve_download(JobRef(JOB, None), kind, "Full")


def test_lora_default_becomes_merged() -> None:
    spec = resolve_download(JobRef(JOB, None), CheckpointType.DEFAULT, "Lora")
    assert spec.checkpoint == "merged"
    assert not spec.is_adapter


def test_lora_adapter_stays_adapter() -> None:
    spec = resolve_download(JobRef(JOB, None), CheckpointType.ADAPTER, "Lora")
    assert spec.checkpoint == "adapter"
    assert spec.is_adapter


def test_step_goes_into_the_query_in_the_sdk_order() -> None:
    spec = resolve_download(JobRef(JOB, 0), CheckpointType.MERGED, "Lora")
    assert list(spec.query().items()) == [
        ("ft_id", JOB),
        ("checkpoint_step", "0"),
        ("checkpoint", "merged"),
    ]


@pytest.mark.parametrize("training_type", [None, "Dpo", "lora", ""])
def test_other_training_types_are_refused_by_name(training_type: str | None) -> None:
    with pytest.raises(UnsupportedTrainingTypeError) as caught:
        resolve_download(JobRef(JOB, None), CheckpointType.DEFAULT, training_type)
    assert repr(training_type) in str(caught.value)
    assert "'Full' and 'Lora'" in str(caught.value)


def test_rule_errors_are_not_retryable_value_errors() -> None:
    assert issubclass(StepGivenTwiceError, RuleError)
    assert issubclass(RuleError, ValueError)
    assert RuleError("x").retryable is False
