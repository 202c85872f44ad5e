"""What to archive of a job: the final model, every checkpoint or listed steps, in the
default type, merged, adapter or all that apply. Pure: the checkpoint list comes in.

One selection expands into concrete archive targets, each of which names one object
by the naming rules (step and adapter are part of the name, so targets never collide).
Together's download endpoint ignores the checkpoint type once a step is given, so an
intermediate step is archived once, in the one type asked for (``all`` takes the
default there) and the other types are skipped with that reason.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ft_archiver.domain.checkpoints import (
    CheckpointType,
    JobRef,
    TrainingType,
    parse_checkpoint_type,
    resolve_download,
)
from ft_archiver.domain.job import Checkpoint, FineTuneJob
from ft_archiver.errors import (
    CheckpointTypeNotAllowedError,
    InvalidSelectionError,
    UnknownCheckpointStepError,
)

ALL = "all"
FINAL = "final"
MAX_LISTED_STEPS = 1000
STEP_ONCE = (
    "Together's download endpoint ignores the checkpoint type at an intermediate step: "
    "each step is archived once, in the default type"
)


class TypeChoice(StrEnum):
    DEFAULT = "default"
    MERGED = "merged"
    ADAPTER = "adapter"
    ALL = "all"


@dataclass(frozen=True)
class Selection:
    """``checkpoints``: "final", "all", or ascending steps; ``checkpoint_types``: one choice."""

    checkpoints: str | tuple[int, ...] = FINAL
    checkpoint_types: TypeChoice = TypeChoice.DEFAULT

    @property
    def label(self) -> str:
        """A stable name of the selection, e.g. ``final/default`` or ``100,200/all``."""
        steps = (
            self.checkpoints
            if isinstance(self.checkpoints, str)
            else ",".join(str(step) for step in self.checkpoints)
        )
        return f"{steps}/{self.checkpoint_types.value}"

    @property
    def is_default(self) -> bool:
        return self == Selection()


@dataclass(frozen=True)
class ArchiveTarget:
    """One archive to make: a job, a step (None: the final model) and the requested type."""

    id: str
    checkpoint_step: int | None
    checkpoint_type: str


@dataclass(frozen=True)
class SkippedTarget:
    id: str
    checkpoint_step: int | None
    checkpoint_type: str
    reason: str


@dataclass(frozen=True)
class Expansion:
    targets: tuple[ArchiveTarget, ...]
    skipped: tuple[SkippedTarget, ...]


def parse_checkpoints(value: str | Sequence[int] | None) -> str | tuple[int, ...]:
    """``final`` (also None), ``all`` (any case), or steps as ``100,200`` or a list."""
    if value is None:
        return FINAL
    if isinstance(value, str):
        text = value.strip().lower()
        if text in (FINAL, ALL):
            return text
        pieces = [piece.strip() for piece in text.split(",")]
        if not all(piece.isascii() and piece.isdigit() for piece in pieces):
            raise InvalidSelectionError(
                f"checkpoints {value!r} is not 'final', 'all' or a comma-separated list of "
                "steps such as 100,200"
            )
        value = [int(piece) for piece in pieces]
    steps = list(value)
    if not steps or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in steps):
        raise InvalidSelectionError(
            f"checkpoints {steps!r}: list steps as whole numbers of at least 1"
        )
    if len(steps) > MAX_LISTED_STEPS:
        raise InvalidSelectionError(f"at most {MAX_LISTED_STEPS} steps can be listed")
    return tuple(sorted(set(steps)))


def parse_type_choice(value: str | None) -> TypeChoice:
    """``default`` (also None), ``merged``, ``adapter`` or ``all``, in any case."""
    if value is None:
        return TypeChoice.DEFAULT
    try:
        return TypeChoice(value.strip().lower())
    except ValueError:
        choices = ", ".join(choice.value for choice in TypeChoice)
        raise InvalidSelectionError(f"checkpoint type {value!r} is not one of {choices}") from None


def parse_selection(
    checkpoints: str | Sequence[int] | None, checkpoint_types: str | None
) -> Selection:
    return Selection(parse_checkpoints(checkpoints), parse_type_choice(checkpoint_types))


def _types(job: FineTuneJob, choice: TypeChoice, step: int | None) -> list[str]:
    """The requested types one step of the job expands to; ``all`` means all that apply."""
    if choice is not TypeChoice.ALL:
        return [choice.value]
    if job.training_type == TrainingType.LORA and step is None:
        return [CheckpointType.MERGED.value, CheckpointType.ADAPTER.value]
    return [CheckpointType.DEFAULT.value]


def _steps(
    job: FineTuneJob, checkpoints: Sequence[Checkpoint], wanted: str | tuple[int, ...]
) -> list[int | None]:
    intermediate = sorted({entry.step for entry in checkpoints if entry.intermediate})
    final_steps = {entry.step for entry in checkpoints if not entry.intermediate}
    if wanted == FINAL:
        return [None]
    if wanted == ALL:
        return [None, *intermediate]
    chosen: list[int | None] = []
    for step in wanted:
        if step in intermediate:
            chosen.append(step)
        elif step in final_steps:
            chosen.append(None)  # the entry the API marks final is the final model
        else:
            known = ", ".join(str(s) for s in intermediate) or "none"
            raise UnknownCheckpointStepError(
                f"fine-tune {job.id} has no checkpoint at step {step}; its intermediate "
                f"checkpoints are at steps: {known} (the final model is 'final')"
            )
    unique = set(chosen)
    return ([None] if None in unique else []) + sorted(s for s in unique if s is not None)


def expand_selection(
    job: FineTuneJob, checkpoints: Sequence[Checkpoint], selection: Selection
) -> Expansion:
    """Concrete targets for one job, in order: the final model first, then steps ascending.

    A type that does not apply to the job (merged or adapter of a Full fine-tune) is
    skipped with a reason; a step the job does not have, or a training type that is
    neither Full nor Lora, is an error."""
    targets: list[ArchiveTarget] = []
    skipped: list[SkippedTarget] = []
    for step in _steps(job, checkpoints, selection.checkpoints):
        all_types = selection.checkpoint_types is TypeChoice.ALL
        if step is not None and all_types and job.training_type == TrainingType.LORA:
            skipped.append(SkippedTarget(job.id, step, CheckpointType.ADAPTER.value, STEP_ONCE))
        for requested in _types(job, selection.checkpoint_types, step):
            try:
                resolve_download(
                    JobRef(job.id, step), parse_checkpoint_type(requested), job.training_type
                )
            except CheckpointTypeNotAllowedError as exc:
                skipped.append(SkippedTarget(job.id, step, requested, str(exc)))
                continue
            targets.append(ArchiveTarget(job.id, step, requested))
    return Expansion(tuple(targets), tuple(skipped))
