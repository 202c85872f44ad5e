"""Answers from Together that its documentation does not describe.

An unknown status, an unknown checkpoint type, a training type that is neither Full nor
Lora, a required field missing: each is a sign that Together changed something. Nothing
here refuses the answer (a status added later is simply not ``completed``); the findings
are reported, logged once and counted (``UnexpectedTogetherAnswer``), so that a change on
Together's side is seen the day it happens, not when someone notices an empty bucket.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ft_archiver.domain.checkpoints import TrainingType
from ft_archiver.domain.job import Checkpoint, FineTuneJob, JobStatus, JobSummary

# FineTuneCheckpoint.checkpoint_type as the 1.x SDK names them
# (together-python, src/together/types/finetune.py, FinetuneCheckpoint).
FINAL_TYPES = frozenset({"final", "final merged", "final adapter"})
STATUSES = frozenset(status.value for status in JobStatus)


@dataclass(frozen=True)
class UnexpectedAnswer:
    """One finding: which answer, which job, which field, and what it held (never more
    than a short text: a credential never sits in these fields)."""

    answer: str  # "list", "retrieve" or "checkpoints"
    job_id: str | None
    field: str
    found: str

    def describe(self) -> str:
        job = f" for fine-tune {self.job_id}" if self.job_id else ""
        return f"Together's {self.answer} answer{job} has {self.field} {self.found}"


def _shown(value: object) -> str:
    return "missing" if value is None else repr(value)[:80]


def in_list_entries(entries: Iterable[JobSummary]) -> list[UnexpectedAnswer]:
    """Entries of ``GET /fine-tunes`` whose status is unknown or missing, or without the
    ``created_at`` the spec requires."""
    found: list[UnexpectedAnswer] = []
    for entry in entries:
        found.extend(_status("list", entry))
        if entry.created_at is None:
            found.append(UnexpectedAnswer("list", entry.id, "created_at", "missing"))
    return found


def in_job(job: FineTuneJob) -> list[UnexpectedAnswer]:
    """``GET /fine-tunes/{id}``: an unknown status, or a completed job whose training type
    is neither Full nor Lora (nor the legacy ``""``), which no rule can route."""
    found = _status("retrieve", job)
    known = {kind.value for kind in TrainingType}
    if job.completed and job.training_type not in known:
        raw = job.document.get("training_type")
        found.append(UnexpectedAnswer("retrieve", job.id, "training_type", _shown(raw)))
    return found


def in_checkpoints(job_id: str, checkpoints: Sequence[Checkpoint]) -> list[UnexpectedAnswer]:
    """Checkpoint types other than Intermediate, Final, Final Merged and Final Adapter."""
    return [
        UnexpectedAnswer("checkpoints", job_id, "checkpoint_type", _shown(entry.checkpoint_type))
        for entry in checkpoints
        if not entry.intermediate and entry.checkpoint_type.strip().lower() not in FINAL_TYPES
    ]


def _status(answer: str, job: JobSummary) -> list[UnexpectedAnswer]:
    if job.status is None or job.status.lower() not in STATUSES:
        return [UnexpectedAnswer(answer, job.id, "status", _shown(job.status))]
    return []
