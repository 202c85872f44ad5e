"""An archive request, where it goes, and the rules it must pass before any lookup.

Pure: the webhook refuses a request with these rules (400) before anything is queued,
and the archiver applies them again to whatever arrives from the queue; the
idempotency key names one archive whoever asked for it.
"""

from dataclasses import dataclass

from ft_archiver.domain.checkpoints import (
    DownloadSpec,
    JobRef,
    parse_checkpoint_type,
    parse_job_ref,
)
from ft_archiver.domain.naming import confine_key, validate_key


@dataclass(frozen=True)
class ArchiveRequest:
    """What a webhook or a command line asks for."""

    fine_tune_id: str
    checkpoint_step: int | None = None
    checkpoint_type: str | None = None
    key: str | None = None  # overrides {prefix}{filename}


@dataclass(frozen=True)
class Destination:
    bucket: str
    prefix: str = ""
    # Explicit keys from messages (webhook, queue) must be in a folder under the prefix
    # (``confine_key``); an operator's ``--key`` on the command line may be anywhere.
    confine_keys: bool = False


@dataclass(frozen=True)
class ValidatedRequest:
    """A request that passed every rule needing no job lookup."""

    ref: JobRef
    requested_type: str
    key: str | None


def validate_request(request: ArchiveRequest, confine_to: str | None = None) -> ValidatedRequest:
    """The rules a webhook can refuse with 400 before anything is queued. With
    ``confine_to`` (the archive prefix), an explicit key must be in a folder under it."""
    ref = parse_job_ref(request.fine_tune_id, request.checkpoint_step)
    requested = parse_checkpoint_type(request.checkpoint_type)
    key = request.key
    if key is not None:
        key = validate_key(key) if confine_to is None else confine_key(key, confine_to)
    return ValidatedRequest(ref, requested.value, key)


def idempotency_key(spec: DownloadSpec, destination: Destination, key: str | None) -> str:
    """One archive = one job, step and resolved type into one place."""
    step = "final" if spec.checkpoint_step is None else str(spec.checkpoint_step)
    place = f"key={key}" if key is not None else f"prefix={destination.prefix}"
    return f"{spec.id}#{step}#{spec.checkpoint}#{destination.bucket}#{place}"
