"""The selection, row by row: which archives one job expands to."""

import pytest

from ft_archiver.domain.checkpoints import DownloadSpec, TrainingType
from ft_archiver.domain.job import Checkpoint, FineTuneJob
from ft_archiver.domain.naming import archive_filename
from ft_archiver.domain.selection import (
    ArchiveTarget,
    Selection,
    TypeChoice,
    expand_selection,
    parse_checkpoints,
    parse_selection,
    parse_type_choice,
)
from ft_archiver.errors import InvalidSelectionError, UnknownCheckpointStepError

JOB = "ft-4f1c2a9e-0b7d-4c1e-9a3f-2d8b6e5c1a70"


def job(training_type: str = "Lora") -> FineTuneJob:
    return FineTuneJob.model_validate(
        {"id": JOB, "status": "completed", "training_type": {"type": training_type}}
    )


def entries(*steps: int, final: int | None = 400) -> list[Checkpoint]:
    listed = [Checkpoint(step=s, checkpoint_type="Intermediate") for s in steps]
    if final is not None:
        listed.append(Checkpoint(step=final, checkpoint_type="Final"))
    return listed


def targets(
    training_type: str, checkpoints: list[Checkpoint], selection: Selection
) -> list[tuple[int | None, str]]:
    expansion = expand_selection(job(training_type), checkpoints, selection)
    assert all(t.id == JOB for t in expansion.targets)
    return [(t.checkpoint_step, t.checkpoint_type) for t in expansion.targets]


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "final"),
        ("final", "final"),
        ("ALL", "all"),
        (" all ", "all"),
        ("300,100,200", (100, 200, 300)),
        ("100, 100", (100,)),
        ([200, 100], (100, 200)),
    ],
)
def test_checkpoints_vocabulary(text: str | list[int] | None, expected: object) -> None:
    assert parse_checkpoints(text) == expected


@pytest.mark.parametrize(
    "text", ["", "latest", "1,,2", "-5", "0", "1.5", "\uff11\uff12", [0], [True], []]
)
def test_checkpoints_outside_the_vocabulary_are_refused(text: str | list[int]) -> None:
    with pytest.raises(InvalidSelectionError, match=r"checkpoints|steps"):
        parse_checkpoints(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, TypeChoice.DEFAULT), ("Merged", TypeChoice.MERGED), ("ADAPTER", TypeChoice.ADAPTER),
     ("all", TypeChoice.ALL)],
)  # fmt: skip
def test_type_vocabulary(text: str | None, expected: TypeChoice) -> None:
    assert parse_type_choice(text) == expected


def test_unknown_type_lists_the_choices() -> None:
    with pytest.raises(InvalidSelectionError, match="default, merged, adapter, all"):
        parse_type_choice("lora")


def test_label_names_the_selection_stably() -> None:
    assert Selection().label == "final/default"
    assert parse_selection("200,100", "ALL").label == "100,200/all"
    assert Selection().is_default
    assert not parse_selection("all", None).is_default


# -- expansion ---------------------------------------------------------------------------


def test_default_selection_is_the_final_model_in_the_default_type() -> None:
    assert targets("Lora", entries(100), Selection()) == [(None, "default")]


def test_all_types_of_a_lora_final_model_are_merged_and_adapter() -> None:
    selection = Selection(checkpoint_types=TypeChoice.ALL)
    assert targets("Lora", entries(), selection) == [(None, "merged"), (None, "adapter")]


def test_all_types_of_a_full_final_model_is_the_full_model() -> None:
    selection = Selection(checkpoint_types=TypeChoice.ALL)
    expansion = expand_selection(job("Full"), entries(), selection)
    assert [(t.checkpoint_step, t.checkpoint_type) for t in expansion.targets] == [
        (None, "default")
    ]
    assert expansion.skipped == ()


@pytest.mark.parametrize("kind", [TypeChoice.MERGED, TypeChoice.ADAPTER])
def test_a_type_that_does_not_apply_is_skipped_with_a_reason(kind: TypeChoice) -> None:
    expansion = expand_selection(job("Full"), entries(100), Selection("all", kind))
    assert expansion.targets == ()
    assert [(s.checkpoint_step, s.checkpoint_type) for s in expansion.skipped] == [
        (None, kind.value), (100, kind.value),
    ]  # fmt: skip
    assert all("Full fine-tune" in s.reason for s in expansion.skipped)


def test_every_checkpoint_is_the_final_model_then_steps_ascending() -> None:
    listed = [Checkpoint(step=400, checkpoint_type="Final"), *entries(300, 100, 200, final=None)]
    assert targets("Lora", listed, Selection("all")) == [
        (None, "default"), (100, "default"), (200, "default"), (300, "default"),
    ]  # fmt: skip


def test_a_job_without_intermediate_checkpoints_gives_the_final_model_only() -> None:
    assert targets("Full", entries(), Selection("all")) == [(None, "default")]
    assert targets("Full", [], Selection("all")) == [(None, "default")]


def test_all_types_at_a_step_archive_it_once_and_say_why() -> None:
    expansion = expand_selection(job("Lora"), entries(100), Selection("all", TypeChoice.ALL))
    assert [(t.checkpoint_step, t.checkpoint_type) for t in expansion.targets] == [
        (None, "merged"), (None, "adapter"), (100, "default"),
    ]  # fmt: skip
    assert [(s.checkpoint_step, s.checkpoint_type) for s in expansion.skipped] == [(100, "adapter")]
    assert "ignores the checkpoint type" in expansion.skipped[0].reason


def test_an_explicit_type_is_kept_at_steps() -> None:
    assert targets("Lora", entries(100), Selection((100,), TypeChoice.ADAPTER)) == [
        (100, "adapter")
    ]


def test_listed_steps_are_archived_in_order() -> None:
    assert targets("Lora", entries(300, 100, 200), Selection((200, 100))) == [
        (100, "default"), (200, "default"),
    ]  # fmt: skip


def test_the_final_entry_step_means_the_final_model() -> None:
    assert targets("Lora", entries(100, final=400), Selection((400, 100))) == [
        (None, "default"), (100, "default"),
    ]  # fmt: skip


def test_a_step_that_does_not_exist_names_the_steps_that_do() -> None:
    with pytest.raises(UnknownCheckpointStepError, match=r"step 150.*100, 200"):
        expand_selection(job(), entries(200, 100), Selection((150,)))


def test_a_step_of_a_job_without_checkpoints_says_there_are_none() -> None:
    with pytest.raises(UnknownCheckpointStepError, match="steps: none"):
        expand_selection(job(), entries(), Selection((5,)))


def test_targets_never_share_a_file_name() -> None:
    expansion = expand_selection(job("Lora"), entries(100, 200), Selection("all", TypeChoice.ALL))
    names = set()
    for target in expansion.targets:
        resolved = "adapter" if target.checkpoint_type == "adapter" else "merged"
        spec = DownloadSpec(JOB, target.checkpoint_step, TrainingType.LORA, resolved)
        names.add(archive_filename(spec, "acme/model", None))
    assert len(names) == len(expansion.targets) == 4


def test_target_is_a_plain_value() -> None:
    assert ArchiveTarget(JOB, None, "default") == ArchiveTarget(JOB, None, "default")
