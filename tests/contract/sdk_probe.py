"""What one of Together's official Python SDKs makes of a Together API: run by the python
of an SDK's own virtualenv (``.venv-together1``: ``together`` 1.x, ``.venv-together3``:
``together`` 3.x), never by the project's, and importing nothing of ft-archiver.

    python sdk_probe.py BASE_URL --plan PLAN_JSON [--api-key-env NAME]

``BASE_URL`` is the API base with its ``/v1`` (``http://127.0.0.1:PORT/v1``, as the 1.x
SDK's ``base_url`` and ours take it). The API key is read from the environment variable
``--api-key-env`` names (never printed). ``PLAN_JSON``:
``{"downloads": [{"id", "checkpoint_type", "checkpoint_step"}], "unknown_job": "ft-..."}``.

Over real HTTP the probe lists the jobs, retrieves each, lists each one's checkpoints, asks
the download endpoint for the metadata of each planned download (the URL built the way
the SDK's own download builds it), and retrieves and downloads an unknown job. It prints
one JSON document: per endpoint what the SDK parsed, the strict validation of the raw JSON
with the SDK's pydantic response model, and the fields of the SDK's models.

Sources (the SDK code is called, never copied):
- 1.x: togethercomputer/together-python ``src/together/resources/finetune.py``
  (``FineTuning.list``/``retrieve``/``list_checkpoints``/``download``,
  ``_parse_raw_checkpoints``), ``src/together/filemanager.py``
  (``DownloadManager.get_file_metadata``), ``src/together/types/finetune.py``,
  ``src/together/types/error.py`` (``TogetherErrorResponse``).
- 3.x (Stainless-generated, ``together`` 3.1.1 on PyPI): ``resources/fine_tuning.py``
  (paths start with ``/v1/``, so its ``base_url`` is the host without ``/v1``),
  ``lib/cli/api/fine_tuning/download.py`` (the only download in 3.x that builds the URL
  from the job: the CLI's), ``lib/resources/files.py`` (``DownloadManager``),
  ``types/fine_tuning_list_response.py``, ``types/finetune_response.py``,
  ``types/fine_tuning_list_checkpoints_response.py``.
"""

import argparse
import contextlib
import importlib.metadata
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

# Both SDKs may greet on import (1.x prints a banner to stderr unless TOGETHER_NO_BANNER
# is set); whatever they print goes to stderr, so that stdout is the JSON document alone.
os.environ.setdefault("TOGETHER_NO_BANNER", "1")
with contextlib.redirect_stdout(sys.stderr):
    import pydantic
    import together

Result = dict[str, Any]
# Where the SDK has no pydantic model of the raw answer to validate it with.
NO_MODEL: Result = {"ok": None, "model": None}


def failure(exc: BaseException) -> Result:
    return {"ok": False, "error": {"class": type(exc).__name__, "message": str(exc)[:800]}}


def strict(model: Any, raw: Any) -> Result:
    """``model.model_validate(raw)``: ok, or the location and kind of every error."""
    try:
        model.model_validate(raw)
    except pydantic.ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "type": e["type"]} for e in exc.errors()]
        return {"ok": False, "errors": errors}
    return {"ok": True}


def fields(model: Any) -> list[dict[str, str | None]]:
    """The model's fields: attribute name and the JSON key (alias) it is read from."""
    return [{"name": name, "alias": info.alias} for name, info in model.model_fields.items()]


def class_name(value: Any) -> str | None:
    return None if value is None else type(value).__name__


def text(value: Any) -> Any:
    """An enum member as its value (1.x's statuses are ``FinetuneJobStatus``)."""
    return getattr(value, "value", value)


def raw_json(api_base: str, path: str, api_key: str) -> Any:
    """The answer's JSON as served, for strict validation (stdlib only)."""
    request = urllib.request.Request(  # noqa: S310 (the simulator's http URL)
        api_base.rstrip("/") + path, headers={"Authorization": f"Bearer {api_key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


class RecordingDict(dict[str, Any]):
    """A raw checkpoint that remembers which keys were read from it."""

    def __init__(self, value: dict[str, Any], read: set[str]) -> None:
        super().__init__(value)
        self.read = read

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


class Probe:
    """What both SDKs do alike: the list and a job, parsed by the SDK's client and
    validated strictly beside it. ``output_name`` is where each SDK keeps the name."""

    api_base: str
    api_key: str
    client: Any
    list_model: Any
    job_model: Any

    def output_name(self, job: Any) -> Any:
        raise NotImplementedError

    def list(self) -> Result:
        raw = raw_json(self.api_base, "/fine-tunes", self.api_key)
        try:
            answer = self.client.fine_tuning.list()
            jobs = [
                {"id": job.id, "status": text(job.status),
                 "training_type": class_name(job.training_type)}
                for job in answer.data or []
            ]  # fmt: skip
            parsed: Result = {"ok": True, "jobs": jobs}
        except Exception as exc:
            parsed = failure(exc)
        return {"parsed": parsed, "strict": strict(self.list_model, raw)}

    def retrieve(self, job_id: str) -> Result:
        raw = raw_json(self.api_base, f"/fine-tunes/{job_id}", self.api_key)
        try:
            job = self.client.fine_tuning.retrieve(job_id)
            parsed: Result = {
                "ok": True, "id": job.id, "status": text(job.status),
                "training_type": class_name(job.training_type),
                "training_type_value": getattr(job.training_type, "type", None),
                "model_output_name": self.output_name(job),
            }  # fmt: skip
        except Exception as exc:
            parsed = failure(exc)
        return {"parsed": parsed, "strict": strict(self.job_model, raw)}


class Probe1(Probe):
    """The 1.x SDK: ``together.Together(api_key=..., base_url=...)``; its ``client.client``
    is the ``TogetherClient`` dataclass that ``DownloadManager`` takes
    (together-python ``src/together/client.py``, ``src/together/types/abstract.py``)."""

    def __init__(self, api_base: str, api_key: str) -> None:
        from together.types.finetune import FinetuneList, FinetuneResponse

        self.api_base, self.api_key = api_base, api_key
        self.client = together.Together(api_key=api_key, base_url=api_base, max_retries=0)
        self.list_model, self.job_model = FinetuneList, FinetuneResponse

    def output_name(self, job: Any) -> Any:
        return job.output_name

    def checkpoints(self, job_id: str) -> Result:
        # list_checkpoints returns FinetuneCheckpoint(type, timestamp, name) built by
        # _parse_raw_checkpoints from the raw entries; it is the parse, there is no
        # response model to validate the raw answer with.
        try:
            entries = self.client.fine_tuning.list_checkpoints(job_id)
            seen = [{"type": c.type, "created_at": c.timestamp, "name": c.name} for c in entries]
            parsed: Result = {"ok": True, "checkpoints": seen}
        except Exception as exc:
            parsed = failure(exc)
        return {"parsed": parsed, "strict": NO_MODEL}

    def download(self, job_id: str, checkpoint_type: str, step: int | None) -> Result:
        """``FineTuning.download`` up to its ``DownloadManager.download``, whose
        ``get_file_metadata`` is called instead (the size and the name, no bytes)."""
        from together.filemanager import DownloadManager
        from together.types.finetune import FullTrainingType, LoRATrainingType
        from together.utils import normalize_key

        url = f"finetune/download?ft_id={job_id}"
        if step is not None:
            url += f"&checkpoint_step={step}"
        try:
            job = self.client.fine_tuning.retrieve(job_id)
            kind = checkpoint_type.lower()
            if isinstance(job.training_type, FullTrainingType):
                url += "&checkpoint=model_output_path"
            elif isinstance(job.training_type, LoRATrainingType):
                url += f"&checkpoint={'merged' if kind == 'default' else kind}"
            remote_name = normalize_key(job.output_name or job_id)
            path, size = DownloadManager(self.client.client).get_file_metadata(
                url, output=None, remote_name=remote_name, fetch_metadata=True
            )
        except Exception as exc:
            return {**failure(exc), "url": url}
        return {"ok": True, "url": url, "filename": str(path), "size": size}

    def error(self, job_id: str) -> Result:
        """An unknown job: the SDK's error parsing (``APIRequestor.handle_error_response``
        reads ``{"error": {...}}`` into ``TogetherErrorResponse``)."""
        from together.filemanager import DownloadManager
        from together.types.error import TogetherErrorResponse

        raw = error_body(self.api_base, f"/fine-tunes/{job_id}", self.api_key)
        found: Result = {"strict": strict(TogetherErrorResponse, raw.get("error"))}
        try:
            self.client.fine_tuning.retrieve(job_id)
            found["retrieve"] = {"raised": None}
        except Exception as exc:
            response = getattr(exc, "api_response", None)
            found["retrieve"] = {
                "raised": type(exc).__name__, "http_status": getattr(exc, "http_status", None),
                "message": getattr(response, "message", None),
                "error_type": getattr(response, "type_", None),
            }  # fmt: skip
        try:
            url = f"finetune/download?ft_id={job_id}&checkpoint=model_output_path"
            DownloadManager(self.client.client).get_file_metadata(
                url, output=None, remote_name=job_id, fetch_metadata=True
            )
            found["download"] = {"raised": None}
        except Exception as exc:
            status = getattr(exc, "http_status", None)
            found["download"] = {"raised": type(exc).__name__, "http_status": status}
        return found

    def models(self) -> Result:
        from together.resources.finetune import _parse_raw_checkpoints
        from together.types.finetune import FinetuneCheckpoint

        # The keys list_checkpoints reads from a raw entry: _parse_raw_checkpoints run on
        # an entry that records every key asked of it.
        read: set[str] = set()
        entry = {"step": 1, "checkpoint_type": "Final", "created_at": "x", "path": "p"}
        _parse_raw_checkpoints([RecordingDict(entry, read)], "ft-0")
        return {
            # GET /fine-tunes: FinetuneList.data is a list of FinetuneResponse.
            "list_entry": fields(self.job_model),
            "job": fields(self.job_model),
            "checkpoint": fields(FinetuneCheckpoint),
            "checkpoint_raw_keys_read": sorted(read),
        }


class Probe3(Probe):
    """The 3.x SDK (Stainless): it builds models without validation (``construct``), so
    its parse is lenient; the raw answer is validated strictly beside it."""

    def __init__(self, api_base: str, api_key: str) -> None:
        from together.types.fine_tuning_list_checkpoints_response import (
            FineTuningListCheckpointsResponse,
        )
        from together.types.fine_tuning_list_response import Data, FineTuningListResponse
        from together.types.finetune_response import FinetuneResponse

        self.api_base, self.api_key = api_base, api_key
        # Its paths are "/v1/fine-tunes", ...: the base URL is the host alone.
        host = api_base.rstrip("/").removesuffix("/v1")
        self.client = together.Together(api_key=api_key, base_url=host, max_retries=0)
        self.list_model, self.entry_model = FineTuningListResponse, Data
        self.job_model, self.checkpoints_model = FinetuneResponse, FineTuningListCheckpointsResponse

    def output_name(self, job: Any) -> Any:
        return job.x_model_output_name

    def checkpoints(self, job_id: str) -> Result:
        raw = raw_json(self.api_base, f"/fine-tunes/{job_id}/checkpoints", self.api_key)
        try:
            answer = self.client.fine_tuning.list_checkpoints(job_id)
            seen = [
                {"type": c.checkpoint_type, "step": c.step, "created_at": c.created_at,
                 "path": c.path}
                for c in answer.data
            ]  # fmt: skip
            parsed: Result = {"ok": True, "checkpoints": seen}
        except Exception as exc:
            parsed = failure(exc)
        return {"parsed": parsed, "strict": strict(self.checkpoints_model, raw)}

    def download(self, job_id: str, checkpoint_type: str, step: int | None) -> Result:
        """The CLI's ``download`` (lib/cli/api/fine_tuning/download.py) up to its
        ``DownloadManager.download``, whose ``get_file_metadata`` is called instead."""
        from together.lib import DownloadManager
        from together.types.finetune_response import (
            TrainingTypeFullTrainingType,
            TrainingTypeLoRaTrainingType,
        )

        url = None
        try:
            job = self.client.fine_tuning.retrieve(job_id)
            kind = checkpoint_type.lower()
            if isinstance(job.training_type, TrainingTypeFullTrainingType):
                kind = "model_output_path"
            elif isinstance(job.training_type, TrainingTypeLoRaTrainingType):
                kind = "merged" if kind == "default" else kind
            if job.x_model_output_name is None:
                # The CLI refuses before any download request.
                return {"ok": False, "refused": "no model_output_name", "url": None}
            url = f"/v1/finetune/download?ft_id={job_id}&checkpoint={kind}"
            if step is not None:
                url += f"&checkpoint_step={step}"
            path, size = DownloadManager(self.client).get_file_metadata(
                url, output=None, remote_name=job.x_model_output_name, fetch_metadata=True
            )
        except Exception as exc:
            return {**failure(exc), "url": url}
        return {"ok": True, "url": url, "filename": str(path), "size": size}

    def error(self, job_id: str) -> Result:
        """An unknown job: ``APIStatusError`` (``NotFoundError``) with the JSON body."""
        from together.lib import DownloadManager

        found: Result = {"strict": NO_MODEL}  # 3.x has no model of the error body
        try:
            self.client.fine_tuning.retrieve(job_id)
            found["retrieve"] = {"raised": None}
        except together.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            error = body.get("error")
            error = error if isinstance(error, dict) else {}
            found["retrieve"] = {
                "raised": type(exc).__name__, "http_status": exc.status_code,
                "message": error.get("message"), "error_type": error.get("type"),
            }  # fmt: skip
        except Exception as exc:
            found["retrieve"] = {"raised": type(exc).__name__, "http_status": None}
        try:
            url = f"/v1/finetune/download?ft_id={job_id}&checkpoint=model_output_path"
            DownloadManager(self.client).get_file_metadata(
                url, output=None, remote_name=job_id, fetch_metadata=True
            )
            found["download"] = {"raised": None}
        except together.APIStatusError as exc:
            found["download"] = {"raised": type(exc).__name__, "http_status": exc.status_code}
        except Exception as exc:
            found["download"] = {"raised": type(exc).__name__, "http_status": None}
        return found

    def models(self) -> Result:
        from together.types.fine_tuning_list_checkpoints_response import Data as Checkpoint

        return {
            "list_entry": fields(self.entry_model),
            "job": fields(self.job_model),
            "checkpoint": fields(Checkpoint),
        }


def error_body(api_base: str, path: str, api_key: str) -> dict[str, Any]:
    """The JSON of an error answer, as served."""
    try:
        raw_json(api_base, path, api_key)
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
        return body if isinstance(body, dict) else {}
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the API base, with its /v1")
    parser.add_argument("--plan", required=True, help="what to download and the unknown job")
    parser.add_argument("--api-key-env", default="TOGETHER_API_KEY")
    args = parser.parse_args()
    plan = json.loads(args.plan)
    api_key = os.environ[args.api_key_env]
    version = importlib.metadata.version("together")
    major = int(version.split(".")[0])
    probe: Probe1 | Probe3 = (Probe1 if major == 1 else Probe3)(args.base_url, api_key)

    listed = probe.list()
    ids = [entry["id"] for entry in raw_json(args.base_url, "/fine-tunes", api_key)["data"]]
    report = {
        "sdk": {"version": version, "major": major},
        "list": listed,
        "retrieve": {job_id: probe.retrieve(job_id) for job_id in ids},
        "checkpoints": {job_id: probe.checkpoints(job_id) for job_id in ids},
        "downloads": [
            {
                **wanted,
                **probe.download(
                    wanted["id"], wanted["checkpoint_type"], wanted["checkpoint_step"]
                ),
            }
            for wanted in plan["downloads"]
        ],
        "unknown_job": probe.error(plan["unknown_job"]),
        "models": probe.models(),
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
