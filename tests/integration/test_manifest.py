"""The provenance manifest next to each archive, over HTTP: simulator -> S3 (moto)."""

from datetime import UTC, datetime
from typing import Any

import requests

from ft_archiver import __version__
from ft_archiver.domain.manifest import JOB_FIELDS
from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver_tools.local.simulator import SIM_WANDB_KEY

from .harness import PREFIX, Harness

KIB = 1024
RESULT_FIELDS = ("bucket", "key", "size", "content_type", "sha256", "checksum_algorithm",
                 "checksum", "etag", "version_id", "parts", "part_size")  # fmt: skip


def together_answer(harness: Harness, path: str) -> Any:
    """What Together's API answers, asked directly: what the manifest must hold."""
    sim = harness.together
    answer = requests.get(
        f"{sim.base_url}{path}", headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=10
    )
    answer.raise_for_status()
    return answer.json()


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_final_archive_has_the_job_its_final_entry_and_the_result(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=700 * KIB, model_output_name="acme/prov",
                                   steps={50: 100 * KIB})  # fmt: skip
    before = datetime.now(UTC).replace(microsecond=0)
    detail = harness.archive(ArchiveRequest(job.id))
    after = datetime.now(UTC)
    archive = harness.together.archive_for(job.id, "merged")
    event = harness.assert_archived(detail, archive, f"{PREFIX}acme--prov.tar.zst")
    assert event["detail"]["manifest_key"] == f"{PREFIX}acme--prov.tar.zst.manifest.json"

    manifest = harness.stored.manifest(event["detail"]["manifest_key"])
    answered = together_answer(harness, f"/fine-tunes/{job.id}")
    assert answered["wandb_api_key"] == SIM_WANDB_KEY  # the simulator does send one
    assert manifest["job"] == {k: v for k, v in answered.items() if k in JOB_FIELDS}
    assert manifest["omitted_fields"]["job"] == ["user_id"]  # by name; wandb_api_key not even that
    assert {"wandb_api_key", "user_id"} <= set(answered)
    assert manifest["job"]["training_type"]["lora_r"] == 8
    # Together lists a LoRA job's finals as "Final Merged" then "Final Adapter", at one
    # step: a merged archive's entry is the merged one, whichever comes last.
    merged, adapter = together_answer(harness, f"/fine-tunes/{job.id}/checkpoints")["data"][-2:]
    assert (merged["checkpoint_type"], adapter["checkpoint_type"]) == (
        "Final Merged",
        "Final Adapter",
    )
    assert merged["step"] == adapter["step"]
    assert manifest["checkpoint"] == merged
    assert (manifest["schema_version"], manifest["fine_tune_id"]) == (1, job.id)
    assert (manifest["checkpoint_step"], manifest["checkpoint_type"]) == (None, "merged")
    assert (manifest["training_type"], manifest["model_output_name"]) == ("Lora", "acme/prov")

    result = manifest["result"]
    assert {f: result[f] for f in RESULT_FIELDS} == {f: event["detail"][f] for f in RESULT_FIELDS}
    assert result["version_id"] == harness.stored.head(detail.key)["VersionId"]
    assert result["ft_archiver_version"] == __version__
    assert result["archived_at"].endswith("Z")
    assert before <= parse_time(result["archived_at"]) <= after


def test_no_secret_reaches_the_manifest_object(harness: Harness) -> None:
    job = harness.together.add_job("Full", size=300 * KIB, model_output_name="plain")
    detail = harness.archive(ArchiveRequest(job.id))
    assert detail.manifest_key is not None
    s3 = harness.aws.client("s3")
    raw = s3.get_object(Bucket=harness.bucket, Key=detail.manifest_key)["Body"].read().decode()
    assert SIM_WANDB_KEY not in raw
    assert "wandb_api_key" not in raw
    assert harness.together.api_key not in raw
    assert '"wandb_project_name": "sim-project"' in raw  # the rest of the job is kept
    head = harness.stored.head(detail.manifest_key)
    assert head["ContentLength"] == len(raw.encode())
    assert head["ChecksumCRC64NVME"]  # stored with its checksum, like the archive


def test_step_archive_has_its_intermediate_entry(harness: Harness) -> None:
    job = harness.together.add_job("Full", model_output_name="m", steps={40: 300 * KIB,
                                                                      80: 200 * KIB})  # fmt: skip
    detail = harness.archive(ArchiveRequest(f"{job.id}:40"))
    archive = harness.together.archive_for(job.id, "model_output_path", step=40)
    harness.assert_archived(detail, archive, f"{PREFIX}m-checkpoint-40.tar.zst")
    assert detail.manifest_key is not None
    manifest = harness.stored.manifest(detail.manifest_key)
    entries = together_answer(harness, f"/fine-tunes/{job.id}/checkpoints")["data"]
    [step_40] = [entry for entry in entries if entry["step"] == 40]
    assert manifest["checkpoint"] == step_40
    assert manifest["checkpoint"]["checkpoint_type"] == "Intermediate"
    assert (manifest["checkpoint_step"], manifest["checkpoint_type"]) == (40, "model_output_path")
    assert manifest["result"]["sha256"] == detail.sha256 == harness.stored.sha256_of(detail.key)
