"""Together's fine-tune ID and checkpoint rules, as the official SDK's ``download`` applies them.

The SDK's defects are deliberately not copied: its double-step message prints ``{id}``
literally, and it silently ignores a training type it does not know.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from ft_archiver.errors import (
    CheckpointTypeNotAllowedError,
    InvalidCheckpointStepError,
    InvalidCheckpointTypeError,
    InvalidFineTuneIdError,
    StepGivenTwiceError,
    UnsupportedTrainingTypeError,
)

# The SDK matches r"^ft-[\dabcdef-]+:\d+$" with re.match; fullmatch and ASCII digits
# close its two gaps (a trailing newline, non-ASCII digits).
COMPOUND_ID = re.compile(r"ft-[0-9a-f-]+:[0-9]+", re.ASCII)
PLAIN_ID = re.compile(r"ft-[0-9A-Za-z-]+", re.ASCII)
MAX_STEP = 2**31 - 1
MAX_ID_LENGTH = 128


class CheckpointType(StrEnum):
    """What the caller asks for."""

    DEFAULT = "default"
    MERGED = "merged"
    ADAPTER = "adapter"


class TrainingType(StrEnum):
    FULL = "Full"
    LORA = "Lora"


# The value of the download query's ``checkpoint`` parameter for a Full job.
FULL_MODEL_CHECKPOINT = "model_output_path"


@dataclass(frozen=True)
class JobRef:
    """A fine-tune ID without its step suffix, and the step to download (None: final)."""

    id: str
    checkpoint_step: int | None


@dataclass(frozen=True)
class DownloadSpec:
    """What to ask Together's download endpoint for."""

    id: str
    checkpoint_step: int | None
    training_type: TrainingType
    checkpoint: str  # merged, adapter or model_output_path: the resolved type

    @property
    def is_adapter(self) -> bool:
        return self.checkpoint == CheckpointType.ADAPTER.value

    def query(self) -> dict[str, str]:
        """Query parameters in the SDK's order: ft_id, checkpoint_step, checkpoint."""
        params = {"ft_id": self.id}
        if self.checkpoint_step is not None:
            params["checkpoint_step"] = str(self.checkpoint_step)
        params["checkpoint"] = self.checkpoint
        return params


def instead(spec: DownloadSpec) -> str:
    """What to ask for when Together's download refuses a request that passed the rules
    (HTTP 400: parameters that name nothing): asking again gets the same answer."""
    if spec.checkpoint_step is not None:
        return (
            f"fine-tune {spec.id} may have no checkpoint at step {spec.checkpoint_step}: list "
            "its checkpoints (GET /fine-tunes/{id}/checkpoints) and ask for one of their "
            "steps, or for the final model without a step"
        )
    if spec.checkpoint == CheckpointType.MERGED.value:
        return (
            f"LoRA fine-tune {spec.id} may have no merged model: ask for checkpoint type "
            "'adapter' instead"
        )
    if spec.checkpoint == CheckpointType.ADAPTER.value:
        return f"ask for checkpoint type 'merged' (or 'default') of fine-tune {spec.id} instead"
    return f"check that fine-tune {spec.id} has completed and has a final model to download"


def _validate_step(step: int) -> int:
    if isinstance(step, bool) or not 0 <= step <= MAX_STEP:
        raise InvalidCheckpointStepError(
            f"checkpoint step {step!r} is out of range: use a whole number from 0 to {MAX_STEP}"
        )
    return step


def parse_job_ref(fine_tune_id: str, checkpoint_step: int | None = None) -> JobRef:
    """Split a compound ``ft-...:STEP`` ID; refuse a step given twice or an unusable ID."""
    if len(fine_tune_id) > MAX_ID_LENGTH:
        raise InvalidFineTuneIdError(
            f"fine-tune ID is {len(fine_tune_id)} characters long; "
            f"Together IDs are at most {MAX_ID_LENGTH}"
        )
    if COMPOUND_ID.fullmatch(fine_tune_id):
        job_id, step_text = fine_tune_id.split(":")
        if checkpoint_step is not None:
            raise StepGivenTwiceError(
                f"fine-tune ID {fine_tune_id!r} already names checkpoint step {step_text} "
                f"after its ':', and checkpoint_step={checkpoint_step} was given too; "
                "remove one of the two"
            )
        return JobRef(job_id, _validate_step(int(step_text)))
    if ":" in fine_tune_id:
        raise InvalidFineTuneIdError(
            f"fine-tune ID {fine_tune_id!r} has a ':' but is not of the form "
            "ft-<lower-case hex and dashes>:<step>; fix the ID or pass the step separately"
        )
    if not PLAIN_ID.fullmatch(fine_tune_id):
        raise InvalidFineTuneIdError(
            f"{fine_tune_id!r} is not a fine-tune ID: expected 'ft-' followed by "
            "letters, digits and dashes, optionally ':<step>'"
        )
    step = None if checkpoint_step is None else _validate_step(checkpoint_step)
    return JobRef(fine_tune_id, step)


def parse_checkpoint_type(value: str | None) -> CheckpointType:
    """Case-insensitive, like the SDK; None means default."""
    if value is None:
        return CheckpointType.DEFAULT
    try:
        return CheckpointType(value.lower())
    except ValueError:
        choices = ", ".join(t.value for t in CheckpointType)
        raise InvalidCheckpointTypeError(
            f"invalid checkpoint type {value!r}: choose one of {choices}"
        ) from None


def resolve_download(
    ref: JobRef, requested: CheckpointType, training_type: str | None
) -> DownloadSpec:
    """Route by the job's training type: Full takes only default, Lora turns default into merged."""
    if training_type == TrainingType.FULL:
        if requested is not CheckpointType.DEFAULT:
            raise CheckpointTypeNotAllowedError(
                f"fine-tune {ref.id} is a Full fine-tune: only the 'default' checkpoint type "
                f"can be downloaded, not {requested.value!r}"
            )
        return DownloadSpec(ref.id, ref.checkpoint_step, TrainingType.FULL, FULL_MODEL_CHECKPOINT)
    if training_type == TrainingType.LORA:
        resolved = CheckpointType.MERGED if requested is CheckpointType.DEFAULT else requested
        return DownloadSpec(ref.id, ref.checkpoint_step, TrainingType.LORA, resolved.value)
    raise UnsupportedTrainingTypeError(
        f"fine-tune {ref.id} has training type {training_type!r}; only 'Full' and 'Lora' "
        "fine-tunes can be downloaded"
    )
