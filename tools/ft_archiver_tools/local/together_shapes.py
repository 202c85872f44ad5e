"""The JSON the Together simulator serves, each shape with the source that documents it.

Sources (read 2026-12-02):
- togethercomputer/openapi, ``openapi.yaml``: schemas ``FinetuneTruncatedList`` and
  ``FinetuneResponseTruncated`` (``GET /fine-tunes``: only ``id``, ``status``,
  ``created_at``, ``updated_at`` required; the example entry has no ``training_type`` and
  no entry has ``model_output_path``), ``FinetuneResponse`` (``GET /fine-tunes/{id}``),
  ``FinetuneListCheckpoints``/``FineTuneCheckpoint`` (``step``, ``path``, ``created_at``,
  ``checkpoint_type``, all required), ``FullTrainingType``/``LoRATrainingType``
  (``lora_r`` and ``lora_alpha`` required), ``ErrorData`` (``{"error": {"message",
  "type", "param", "code"}}``, ``type`` and ``message`` required) and the path
  ``/finetune/download`` (200 ``application/octet-stream``, 400 bad parameters, 404
  unknown fine-tune).
- togethercomputer/together-python (the 1.x SDK), ``src/together/types/finetune.py``:
  ``FinetuneResponse.validate_training_type`` reads ``{"type": ""}`` as Full (older
  jobs); ``FinetuneCheckpoint`` names the checkpoint types "Intermediate", "Final",
  "Final Merged" and "Final Adapter"; ``src/together/filemanager.py``: the size comes
  from ``Content-Range`` of a ``Range: bytes=0-1`` GET, the name's extension from
  ``Content-Type`` (``x-tar``: ``.tar.gz``).
- The current SDK (``together`` 3.1.1 on PyPI, generated from the spec by Stainless):
  ``types/fine_tuning_list_response.py`` requires ``user_id`` on a list entry and
  ``types/finetune_response.py`` on a job; its HTTP client follows redirects.

The richer shapes our client once relied on (a list entry with ``training_type``, a
single ``Final`` checkpoint for LoRA jobs, a download that always redirects) stay
available as ``Shapes`` options; they are what Together served to some accounts, and
nothing may break for a user who still gets them.
"""

from dataclasses import dataclass
from typing import Any, Literal

ListEntries = Literal["truncated", "with-training-type"]
LoraFinals = Literal["merged-and-adapter", "final"]
Downloads = Literal["mixed", "redirect", "direct"]
SIM_WANDB_KEY = "sim-wandb-key-never-archived"
SIM_USER = "user_0123456789abcdef"


@dataclass(frozen=True)
class Shapes:
    """What the simulator's answers look like. The defaults are Together's documented
    shapes; each other value is a richer shape kept for the accounts that see it."""

    # "truncated": FinetuneResponseTruncated as documented, without training_type.
    list_entries: ListEntries = "truncated"
    # "merged-and-adapter": a LoRA job's finals are "Final Merged" and "Final Adapter".
    lora_finals: LoraFinals = "merged-and-adapter"
    # "mixed": every second job's download is a 302 to storage, the others are answered
    # 200/206 by the API host itself; "redirect" and "direct" make every job the same.
    downloads: Downloads = "mixed"
    # Every second Full job reports the legacy training type {"type": ""}.
    legacy_full_types: bool = True


def training_type(kind: str, legacy: bool) -> dict[str, Any]:
    """``FullTrainingType`` / ``LoRATrainingType``; ``{"type": ""}`` for a legacy Full job.
    ``kind`` is anything else to test a type Together does not document."""
    if kind == "Lora":
        return {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                "lora_trainable_modules": "all-linear"}  # fmt: skip
    if kind == "Full" and legacy:
        return {"type": ""}
    return {"type": kind}


def job_document(
    job_id: str,
    status: str,
    created_at: str,
    model_output_name: str | None,
    trained: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """``GET /fine-tunes/{id}``: ``FinetuneResponse``."""
    document = {
        "id": job_id,
        "status": status,
        "user_id": SIM_USER,
        "model": "meta-llama/Meta-Llama-3-8B",
        "model_output_name": model_output_name,
        "model_output_path": f"s3://together-sim/finetune/{job_id}/final",
        "training_type": trained,
        "training_file": "file-0123456789abcdef",
        "n_epochs": 1,
        "n_checkpoints": 1,
        "created_at": created_at,
        "updated_at": created_at,
        # A credential-named field, as a job answer may carry one: never archived.
        "wandb_project_name": "sim-project",
        "wandb_api_key": SIM_WANDB_KEY,
    }
    if model_output_name is None:
        del document["model_output_name"]  # the spec's fields are optional, never null
    return {**document, **extra}


def list_entry(job: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    """One ``FinetuneResponseTruncated`` of ``GET /fine-tunes``, cut from the job's
    document: the spec's example fields, never ``model_output_path`` nor the job's
    settings; ``training_type`` only with ``list_entries="with-training-type"``."""
    kept = ["id", "status", "created_at", "updated_at", "user_id", "model",
            "model_output_name", "n_epochs", "training_file", "wandb_project_name"]  # fmt: skip
    if shapes.list_entries == "with-training-type":
        kept.append("training_type")
    return {name: job[name] for name in kept if name in job}


def checkpoint(step: int, kind: str, created_at: str, path: str) -> dict[str, Any]:
    """One ``FineTuneCheckpoint``."""
    return {"step": step, "path": path, "created_at": created_at, "checkpoint_type": kind}


def final_checkpoint_types(lora: bool, shapes: Shapes) -> list[str]:
    if lora and shapes.lora_finals == "merged-and-adapter":
        return ["Final Merged", "Final Adapter"]
    return ["Final"]


def error(status: int, message: str) -> dict[str, Any]:
    """``ErrorData``; the type names follow the 1.x SDK's error classes by status."""
    kinds = {400: "invalid_request_error", 401: "authentication_error",
             404: "invalid_request_error", 429: "rate_limit_error"}  # fmt: skip
    return {"error": {"message": message, "type": kinds.get(status, "server_error"),
                      "param": None, "code": None}}  # fmt: skip
