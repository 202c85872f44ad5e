"""Together's official Python SDKs as the oracle for our simulator (``make contract``).

The simulator may serve only shapes Together documents or its SDKs parse. Each SDK,
installed from PyPI in a virtualenv of its own by the Makefile (both are the package
``together``), runs ``sdk_probe.py`` against the simulator over real HTTP: list, retrieve,
checkpoints, download metadata, and the error of an unknown job. This suite compares what
each SDK made of the answers with what the simulator meant to serve, with what our own
naming makes of the same job, and checks that every field our models read from
Together's answers is one the SDKs' models define.

- 1.x: ``together==1.5.35``, togethercomputer/together-python (``src/together/...``).
  Its models validate as they parse, so its parse is its strict validation.
- 3.x: ``together==3.1.1`` (Stainless-generated from togethercomputer/openapi): it parses
  leniently (models constructed without validation), so the probe also validates every
  raw answer with the SDK's response model; where that fails on a shape Together
  documents (the legacy ``{"type": ""}``, and ``user_error`` which 1.x knows and the
  spec's ``FinetuneJobStatus`` does not), the failure is asserted exactly and the lenient
  parse must still give a usable job.
"""

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from pydantic import AliasChoices, BaseModel

from ft_archiver.domain.checkpoints import parse_checkpoint_type, parse_job_ref, resolve_download
from ft_archiver.domain.job import Checkpoint, FineTuneJob, JobStatus, JobSummary
from ft_archiver.domain.naming import archive_extension, archive_filename
from ft_archiver_tools.local.simulator import (
    TAR,
    Download,
    SimArchive,
    SimJob,
    TogetherSimulator,
)
from ft_archiver_tools.local.together_shapes import Shapes

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("sdk_probe.py")
# The Makefile's pins: .venv-together1 and .venv-together3.
SDKS = {1: "1.5.35", 3: "3.1.1"}
KEY_VARIABLE = "CONTRACT_TOGETHER_KEY"
PROBE_TIMEOUT_S = 180
MIB = 1024 * 1024
UNKNOWN_JOB = "ft-00000000-0000-0000-0000-000000000000"

# Together's documented shapes (the default) and each richer shape the simulator keeps.
SHAPES = {
    "documented": Shapes(),
    "list-with-training-type": Shapes(list_entries="with-training-type"),
    "lora-single-final": Shapes(lora_finals="final"),
    "downloads-all-redirect": Shapes(downloads="redirect"),
    "downloads-all-direct": Shapes(downloads="direct"),
}

# The SDKs' class names for a job's training type. 1.x: src/together/types/finetune.py
# (its validate_training_type turns {"type": ""} into FullTrainingType); 3.x:
# types/finetune_response.py (job) and types/fine_tuning_list_response.py (list entry).
TRAINING_CLASSES = {
    (1, "job", "Full"): "FullTrainingType",
    (1, "job", "Lora"): "LoRATrainingType",
    (1, "list", "Full"): "FullTrainingType",
    (1, "list", "Lora"): "LoRATrainingType",
    (3, "job", "Full"): "TrainingTypeFullTrainingType",
    (3, "job", "Lora"): "TrainingTypeLoRaTrainingType",
    (3, "list", "Full"): "DataTrainingTypeFullTrainingType",
    (3, "list", "Lora"): "DataTrainingTypeLoRaTrainingType",
}


@dataclass(frozen=True)
class Wanted:
    """A job the suite adds, by its role."""

    training_type: str
    size: int
    model_output_name: str | None
    status: JobStatus = JobStatus.COMPLETED
    steps: dict[int, int] | None = None
    content_type: str = "application/zstd"
    download: Download | None = None  # None: as the shapes say for its place
    legacy: bool = False


JOBS = {
    "full": Wanted("Full", MIB + 1, "acme/Llama-3-8B-full"),
    "lora": Wanted("Lora", MIB + 2, "acme/Llama-3-8B-lora", steps={10: 40_010, 20: 40_020}),
    "legacy": Wanted("Full", MIB + 3, "acme/Llama-2-7B-legacy", legacy=True),
    "running": Wanted("Lora", MIB + 4, "acme/Llama-3-8B-running", JobStatus.RUNNING,
                      steps={5: 40_005}),
    "targz": Wanted("Full", MIB + 5, "Acme Org/My_Model v2", content_type=TAR),
    "unnamed": Wanted("Lora", MIB + 6, None),
    "user_error": Wanted("Lora", MIB + 7, "acme/failed", JobStatus.USER_ERROR),
    "direct": Wanted("Full", MIB + 8, "acme/direct-full", download="direct"),
    "redirect": Wanted("Lora", MIB + 9, "acme/redirect-lora", download="redirect"),
}  # fmt: skip

# (role, checkpoint type, step): what is asked of the download endpoint.
DOWNLOADS = [
    ("full", "default", None),
    ("lora", "default", None),
    ("lora", "adapter", None),
    ("lora", "default", 10),
    ("lora", "adapter", 20),
    ("legacy", "default", None),
    ("running", "default", 5),
    ("targz", "default", None),
    ("unnamed", "default", None),
    ("direct", "default", None),
    ("redirect", "default", None),
    ("redirect", "adapter", None),
]


@dataclass
class Scenario:
    shapes: Shapes
    sim: TogetherSimulator
    jobs: dict[str, SimJob]  # role -> job
    served: dict[str, Any]  # the simulator's answers, read over HTTP
    reports: dict[int, dict[str, Any]]  # SDK major version -> the probe's JSON

    def role(self, job_id: str) -> str:
        return next(role for role, job in self.jobs.items() if job.id == job_id)


def sdk_python(major: int) -> Path:
    python = REPO / f".venv-together{major}" / "bin" / "python"
    if not os.access(python, os.X_OK):
        pytest.fail(
            f"{python.relative_to(REPO)} is missing: the contract suite runs each Together "
            f"SDK (together=={SDKS[major]}) in its own virtualenv; run `make contract`, "
            "which installs them",
            pytrace=False,
        )
    return python


def run_probe(major: int, sim: TogetherSimulator, plan: dict[str, Any]) -> dict[str, Any]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("TOGETHER_")}
    env |= {KEY_VARIABLE: sim.api_key, "TOGETHER_NO_BANNER": "1",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}  # fmt: skip
    command = [str(sdk_python(major)), str(PROBE), sim.base_url, "--plan", json.dumps(plan),
               "--api-key-env", KEY_VARIABLE]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=PROBE_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"the {major}.x probe failed ({done.returncode}):\n{done.stderr[-4000:]}")
    assert sim.api_key not in done.stdout + done.stderr, "the probe printed the API key"
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["sdk"]["version"] == SDKS[major]
    return report


def served_answers(sim: TogetherSimulator) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {sim.api_key}"}

    def get(path: str) -> Any:
        response = requests.get(f"{sim.base_url}{path}", headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    listed = get("/fine-tunes")["data"]
    ids = [entry["id"] for entry in listed]
    unknown = requests.get(f"{sim.base_url}/fine-tunes/{UNKNOWN_JOB}", headers=headers, timeout=10)
    return {
        "list": listed,
        "jobs": {job_id: get(f"/fine-tunes/{job_id}") for job_id in ids},
        "checkpoints": {job_id: get(f"/fine-tunes/{job_id}/checkpoints")["data"] for job_id in ids},
        "unknown": (unknown.status_code, unknown.json()),
    }


@pytest.fixture(scope="module", params=list(SHAPES), ids=list(SHAPES))
def scenario(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    shapes = SHAPES[request.param]
    with TogetherSimulator(shapes=shapes) as sim:
        jobs = {
            role: sim.add_job(
                wanted.training_type,
                size=wanted.size,
                model_output_name=wanted.model_output_name,
                content_type=wanted.content_type,
                steps=wanted.steps,
                status=wanted.status,
                download=wanted.download,
                legacy_training_type=wanted.legacy,
            )
            for role, wanted in JOBS.items()
        }
        plan = {
            "downloads": [
                {"id": jobs[role].id, "checkpoint_type": kind, "checkpoint_step": step}
                for role, kind, step in DOWNLOADS
            ],
            "unknown_job": UNKNOWN_JOB,
        }
        served = served_answers(sim)
        reports = {major: run_probe(major, sim, plan) for major in SDKS}
        yield Scenario(shapes, sim, jobs, served, reports)


def expected_archive(job: SimJob, kind: str, step: int | None) -> SimArchive:
    """The archive the download endpoint serves for the SDK's query (the simulator's
    archives: "model_output_path" for Full, "merged"/"adapter" for Lora)."""
    if step is not None:
        return job.steps[step]
    if job.training_type == "Full":
        return job.final["model_output_path"]
    return job.final["merged" if kind == "default" else kind]


def expected_checkpoint_types(job: SimJob, shapes: Shapes) -> list[str]:
    """Intermediate steps, then the finals once completed: "Final Merged" and "Final
    Adapter" for LoRA (or one "Final" with ``lora_finals="final"``), "Final" for Full
    (the types together-python's FinetuneCheckpoint names)."""
    kinds = ["Intermediate"] * len(job.steps)
    if job.status != JobStatus.COMPLETED:
        return kinds
    if job.training_type == "Lora" and shapes.lora_finals == "merged-and-adapter":
        return [*kinds, "Final Merged", "Final Adapter"]
    return [*kinds, "Final"]


def strict_failures(result: dict[str, Any], depth: int) -> set[tuple[Any, ...]]:
    """The locations of a strict validation's errors, cut to ``depth`` parts."""
    if result["ok"]:
        return set()
    return {tuple(error["loc"][:depth]) for error in result["errors"]}


# -- every endpoint parses, in both SDKs ----------------------------------------------


@pytest.mark.parametrize("major", list(SDKS))
def test_every_answer_parses(scenario: Scenario, major: int) -> None:
    report = scenario.reports[major]
    assert report["list"]["parsed"]["ok"], report["list"]["parsed"]
    assert set(report["retrieve"]) == {job.id for job in scenario.jobs.values()}
    for job_id, answer in report["retrieve"].items():
        assert answer["parsed"]["ok"], (scenario.role(job_id), answer["parsed"])
    for job_id, answer in report["checkpoints"].items():
        assert answer["parsed"]["ok"], (scenario.role(job_id), answer["parsed"])
    for download in report["downloads"]:
        role = scenario.role(download["id"])
        if major == 3 and role == "unnamed":
            # The 3.x CLI (lib/cli/api/fine_tuning/download.py) refuses a job without
            # model_output_name before any request; 1.x names it by its ID instead.
            assert download == {**download, "ok": False, "refused": "no model_output_name"}
            continue
        assert download["ok"], (role, download)


# -- what the SDKs saw is what the simulator served -----------------------------------


@pytest.mark.parametrize("major", list(SDKS))
def test_list_as_served(scenario: Scenario, major: int) -> None:
    seen = scenario.reports[major]["list"]["parsed"]["jobs"]
    served = scenario.served["list"]
    assert [job["id"] for job in seen] == [entry["id"] for entry in served]
    assert [job["status"] for job in seen] == [entry["status"] for entry in served]
    for job in seen:
        wanted = JOBS[scenario.role(job["id"])]
        assert job["status"] == wanted.status.value
        if scenario.shapes.list_entries == "truncated":
            # FinetuneResponseTruncated as documented: no training_type on a list entry.
            assert job["training_type"] is None
        else:
            assert job["training_type"] == TRAINING_CLASSES[major, "list", wanted.training_type]


@pytest.mark.parametrize("major", list(SDKS))
def test_jobs_as_served(scenario: Scenario, major: int) -> None:
    for role, job in scenario.jobs.items():
        wanted = JOBS[role]
        seen = scenario.reports[major]["retrieve"][job.id]["parsed"]
        assert seen["id"] == job.id
        assert seen["status"] == wanted.status.value
        assert seen["model_output_name"] == wanted.model_output_name
        # The legacy {"type": ""} is Full to both: 1.x by its validator, 3.x because its
        # lenient parse builds the union's first member (TrainingTypeFullTrainingType)
        # with the value as served, which the CLI's isinstance takes for Full.
        assert seen["training_type"] == TRAINING_CLASSES[major, "job", wanted.training_type]
        assert seen["training_type_value"] == ("" if wanted.legacy else wanted.training_type)


@pytest.mark.parametrize("major", list(SDKS))
def test_checkpoints_as_served(scenario: Scenario, major: int) -> None:
    for role, job in scenario.jobs.items():
        seen = scenario.reports[major]["checkpoints"][job.id]["parsed"]["checkpoints"]
        served = scenario.served["checkpoints"][job.id]
        kinds = expected_checkpoint_types(job, scenario.shapes)
        assert [entry["checkpoint_type"] for entry in served] == kinds, role
        if major == 3:
            assert seen == [
                {"type": e["checkpoint_type"], "step": e["step"], "created_at": e["created_at"],
                 "path": e["path"]}
                for e in served
            ], role  # fmt: skip
            continue
        # 1.x's _parse_raw_checkpoints: the type, the time, and the name to download it
        # by ("{id}:{step}" for an intermediate one, the job's ID for a final model),
        # sorted newest first.
        names = [f"{job.id}:{e['step']}" if e["checkpoint_type"] == "Intermediate" else job.id
                 for e in served]  # fmt: skip
        expected = [
            {"type": e["checkpoint_type"], "created_at": e["created_at"], "name": name}
            for e, name in zip(served, names, strict=True)
        ]
        key = json.dumps
        assert sorted(seen, key=key) == sorted(expected, key=key), role
        assert [c["created_at"] for c in seen] == sorted(
            (c["created_at"] for c in seen), reverse=True
        )


@pytest.mark.parametrize("major", list(SDKS))
def test_download_sizes_as_served(scenario: Scenario, major: int) -> None:
    for download in scenario.reports[major]["downloads"]:
        if not download["ok"]:
            continue  # the 3.x refusal, asserted in test_every_answer_parses
        job = scenario.sim.jobs[download["id"]]
        archive = expected_archive(job, download["checkpoint_type"], download["checkpoint_step"])
        assert download["size"] == archive.size, (scenario.role(job.id), download)


def test_redirects_followed_to_storage(scenario: Scenario) -> None:
    """A redirected download's probe reaches the blob host, once per SDK, with the
    ``Range: bytes=0-1`` both SDKs send; a direct one is answered by the API host."""
    modes = {job.download for role, job in scenario.jobs.items() if JOBS[role].download is None}
    shaped = {"mixed": {"redirect", "direct"}, "redirect": {"redirect"}, "direct": {"direct"}}
    assert modes == shaped[scenario.shapes.downloads]
    for role, kind, step in DOWNLOADS:
        job = scenario.jobs[role]
        archive = expected_archive(job, kind, step)
        at_storage = [r for r in scenario.sim.blob_requests(archive) if r.target == "blob"]
        if job.download == "redirect":
            sdks = 1 if role == "unnamed" else 2  # the 3.x CLI never asks for it
            assert [(r.method, r.range, r.status) for r in at_storage] == [
                ("GET", "bytes=0-1", 206)
            ] * sdks, role
        else:
            assert at_storage == [], role


# -- strict validation --------------------------------------------------------------


def test_strict_validation_1x(scenario: Scenario) -> None:
    """1.x validates as it parses: every answer passes its models
    (FinetuneList, FinetuneResponse), the legacy type and user_error included."""
    report = scenario.reports[1]
    assert report["list"]["strict"] == {"ok": True}
    for job_id, answer in report["retrieve"].items():
        assert answer["strict"] == {"ok": True}, scenario.role(job_id)
    for answer in report["checkpoints"].values():
        # No response model: FinetuneCheckpoint is built from three raw keys.
        assert answer["strict"] == {"ok": None, "model": None}


def test_strict_validation_3x(scenario: Scenario) -> None:
    """3.x's models, validated strictly, refuse exactly two documented shapes:

    - the legacy training type ``{"type": ""}``: ``TrainingTypeFullTrainingType.type`` is
      ``Literal["Full"]`` (types/finetune_response.py), while together-python's
      ``validate_training_type`` reads ``""`` as Full;
    - the status ``user_error``: the ``status`` Literal of FinetuneResponse and of a list
      entry lacks it, as does togethercomputer/openapi's ``FinetuneJobStatus``, while
      together-python's ``FinetuneJobStatus`` has ``STATUS_USER_ERROR``.

    The SDK itself parses both leniently into a usable job (test_jobs_as_served,
    test_list_as_served); the download of the legacy job works (test_download_sizes...).
    """
    report = scenario.reports[3]
    legacy, failed = scenario.jobs["legacy"].id, scenario.jobs["user_error"].id
    for job_id, answer in report["retrieve"].items():
        failures = strict_failures(answer["strict"], 3)
        if job_id == legacy:
            assert failures == {
                ("training_type", "TrainingTypeFullTrainingType", "type"),
                ("training_type", "TrainingTypeLoRaTrainingType", "type"),
                ("training_type", "TrainingTypeLoRaTrainingType", "lora_r"),
                ("training_type", "TrainingTypeLoRaTrainingType", "lora_alpha"),
            }
            assert {"loc": ["training_type", "TrainingTypeFullTrainingType", "type"],
                    "type": "literal_error"} in answer["strict"]["errors"]  # fmt: skip
            assert answer["parsed"]["training_type"] == "TrainingTypeFullTrainingType"
        elif job_id == failed:
            refused = [{"loc": ["status"], "type": "literal_error"}]
            assert answer["strict"] == {"ok": False, "errors": refused}
            assert answer["parsed"]["status"] == "user_error"
        else:
            assert answer["strict"] == {"ok": True}, scenario.role(job_id)

    index = {entry["id"]: n for n, entry in enumerate(scenario.served["list"])}
    expected = {("data", index[failed], "status")}
    if scenario.shapes.list_entries == "with-training-type":
        expected.add(("data", index[legacy], "training_type"))
    assert strict_failures(report["list"]["strict"], 3) == expected
    for job_id, answer in report["checkpoints"].items():
        assert answer["strict"] == {"ok": True}, scenario.role(job_id)


# -- naming -------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "kind", "step"), DOWNLOADS)
def test_sdk_names_and_queries_match_ours(
    scenario: Scenario, role: str, kind: str, step: int | None
) -> None:
    """Our name is the 1.x SDK's plus what DESIGN.md ("Together's rules") says we add:
    ``-checkpoint-{step}`` (the SDK's get_file_metadata never passes its step on), then
    ``-adapter`` for an adapter. The 3.x CLI names the file by ``model_output_name`` as
    it is, without 1.x's normalize_key (so "acme/x" is a path under "acme/"). Our query
    is the 1.x SDK's, parameter for parameter and in its order; 3.x's has the same
    parameters, ``checkpoint`` before ``checkpoint_step``."""
    job = scenario.jobs[role]
    archive = expected_archive(job, kind, step)
    spec = resolve_download(
        parse_job_ref(job.id, step),
        parse_checkpoint_type(kind),
        FineTuneJob.model_validate(scenario.served["jobs"][job.id]).training_type,
    )
    ours = archive_filename(spec, job.model_output_name, archive.content_type)
    asked = (job.id, kind, step)
    by_sdk = {
        major: next(
            d
            for d in scenario.reports[major]["downloads"]
            if (d["id"], d["checkpoint_type"], d["checkpoint_step"]) == asked
        )
        for major in SDKS
    }
    extension = archive_extension(archive.content_type)
    named_by_1x = by_sdk[1]["filename"]
    assert named_by_1x.endswith(extension)
    our_additions = (f"-checkpoint-{step}" if step else "") + (
        "-adapter" if kind == "adapter" else ""
    )
    assert ours == named_by_1x.removesuffix(extension) + our_additions + extension
    assert by_sdk[1]["url"] == f"finetune/download?{urlencode(spec.query())}"
    if job.model_output_name is None:
        assert named_by_1x == job.id + extension  # normalize_key(id)
        assert by_sdk[3].get("refused") == "no model_output_name"
        return
    assert by_sdk[3]["filename"] == job.model_output_name + extension
    url = urlsplit(by_sdk[3]["url"])
    assert url.path == "/v1/finetune/download"
    assert dict(parse_qsl(url.query)) == spec.query()


# -- the fields our code reads are the SDKs' ----------------------------------------


def keys_read(model: type[BaseModel]) -> dict[str, list[str]]:
    """Per field of ours (``document`` aside: the whole answer, kept for the manifest),
    the JSON keys it is read from, the API's own spelling first."""
    keys: dict[str, list[str]] = {}
    for name, info in model.model_fields.items():
        if name == "document":
            continue
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            keys[name] = [choice for choice in alias.choices if isinstance(choice, str)]
        else:
            keys[name] = [alias if isinstance(alias, str) else name]
    return keys


def json_keys(fields: list[dict[str, str | None]]) -> set[str]:
    return {field["alias"] or str(field["name"]) for field in fields}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(JobSummary, "list_entry"), (FineTuneJob, "job"), (Checkpoint, "checkpoint")],
    ids=["JobSummary", "FineTuneJob", "Checkpoint"],
)
def test_fields_we_read_are_the_sdks(
    scenario: Scenario, ours: type[BaseModel], theirs: str
) -> None:
    """Each JSON key our models read is a field (by its JSON key, the alias) of the 3.x
    model and of the 1.x model of that answer. An alias choice after the first is no
    API key: it must be the 1.x model's attribute name of that same field
    (``output_name``, FinetuneResponse's attribute for ``model_output_name``)."""
    models1, models3 = scenario.reports[1]["models"], scenario.reports[3]["models"]
    if theirs == "checkpoint":
        # 1.x has no model of a raw checkpoint: list_checkpoints reads the keys
        # _parse_raw_checkpoints asks of each entry (recorded by the probe), and the
        # spec's FineTuneCheckpoint (togethercomputer/openapi openapi.yaml) also requires
        # ``path``, which 1.x never reads.
        assert models1["checkpoint_raw_keys_read"] == ["checkpoint_type", "created_at", "step"]
        keys1 = {*models1["checkpoint_raw_keys_read"], "path"}
    else:
        keys1 = json_keys(models1[theirs])
    keys3 = json_keys(models3[theirs])
    attributes1 = {field["name"]: field["alias"] for field in models1["job"]}
    read = keys_read(ours)
    assert read, ours
    for field, (api_key, *others) in read.items():
        assert api_key in keys3, f"{ours.__name__}.{field}: {api_key!r} is not a 3.x field"
        assert api_key in keys1, f"{ours.__name__}.{field}: {api_key!r} is not a 1.x field"
        for other in others:
            assert attributes1.get(other) == api_key, (
                f"{ours.__name__}.{field} also reads {other!r}, which is neither a key of "
                f"Together's answer nor the 1.x SDK's attribute for {api_key!r}"
            )


# -- errors -------------------------------------------------------------------------


def test_unknown_job_errors(scenario: Scenario) -> None:
    """404 and ``{"error": {"message", "type", ...}}`` (the spec's ErrorData): 1.x reads
    it into TogetherErrorResponse and raises InvalidRequestError; 3.x raises
    NotFoundError with the JSON as its body; the download of an unknown job is a 404
    that both report (1.x APIError, 3.x APIStatusError from get_file_metadata)."""
    status, body = scenario.served["unknown"]
    assert status == 404
    message = body["error"]["message"]
    one, three = scenario.reports[1]["unknown_job"], scenario.reports[3]["unknown_job"]
    assert one["strict"] == {"ok": True}  # TogetherErrorResponse.model_validate
    parsed = {"http_status": 404, "message": message, "error_type": body["error"]["type"]}
    assert one["retrieve"] == {"raised": "InvalidRequestError", **parsed}
    assert three["retrieve"] == {"raised": "NotFoundError", **parsed}
    assert one["download"] == {"raised": "APIError", "http_status": 404}
    assert three["download"] == {"raised": "APIStatusError", "http_status": 404}


@pytest.mark.parametrize("major", list(SDKS))
def test_sdk_venvs_hold_the_sdk_not_us(major: int) -> None:
    """The probe sees the SDK alone: ft-archiver is not importable where it runs, so
    nothing of ours can stand in for the SDK's parsing."""
    assert "ft_archiver" not in PROBE.read_text()
    python = sdk_python(major)
    check = "import importlib.util as u; print(u.find_spec('ft_archiver') is None)"
    done = subprocess.run(
        [str(python), "-c", check], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True"
