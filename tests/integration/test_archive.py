"""The archive path end to end: simulator -> ft-archiver -> S3 -> EventBridge -> SQS."""

import pytest

from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver_tools.local.simulator import TAR, Download
from tests.support.aws import PART_MIN_SIZE

from .harness import PREFIX, Harness

KIB = 1024
MIB = 1024 * KIB


def test_full_fine_tune(harness: Harness) -> None:
    job = harness.together.add_job("Full", size=1 * MIB + 5, model_output_name="Acme/Qwen_2 7B")
    detail = harness.archive(ArchiveRequest(job.id))
    archive = harness.together.archive_for(job.id, "model_output_path")
    event = harness.assert_archived(detail, archive, f"{PREFIX}acme--qwen-2-7b.tar.zst")
    assert event["detail"]["checkpoint_type"] == "model_output_path"
    assert event["detail"]["training_type"] == "Full"
    assert detail.parts == 5
    assert detail.checkpoint_step is None


def test_lora_default_is_the_merged_model(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=900 * KIB, model_output_name="acme/Llama-3-8B")
    detail = harness.archive(ArchiveRequest(job.id, checkpoint_type="DEFAULT"))
    archive = harness.together.archive_for(job.id, "merged")
    harness.assert_archived(detail, archive, f"{PREFIX}acme--llama-3-8b.tar.zst")
    assert detail.checkpoint_type == "merged"
    assert detail.model_output_name == "acme/Llama-3-8B"


def test_lora_adapter_has_its_own_key(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=2 * MIB, model_output_name="acme/Llama-3-8B")
    detail = harness.archive(ArchiveRequest(job.id, checkpoint_type="Adapter"))
    archive = harness.together.archive_for(job.id, "adapter")
    harness.assert_archived(detail, archive, f"{PREFIX}acme--llama-3-8b-adapter.tar.zst")
    assert detail.checkpoint_type == "adapter"
    assert detail.size == 512 * KIB  # the simulator's adapter is a quarter of the model


@pytest.mark.parametrize(("download", "answer"), [("redirect", 302), ("direct", 206)])
def test_checkpoint_step_from_a_compound_id(
    harness: Harness, download: Download, answer: int
) -> None:
    """Together documents the download as a 200 from the API host; a 302 to storage
    happens too: both archive the same bytes under the same name."""
    job = harness.together.add_job(
        "Lora", model_output_name="m", steps={100: 700 * KIB}, download=download
    )
    detail = harness.archive(ArchiveRequest(f"{job.id}:100"))
    archive = harness.together.archive_for(job.id, "merged", step=100)
    harness.assert_archived(detail, archive, f"{PREFIX}m-checkpoint-100.tar.zst")
    assert detail.id == job.id
    assert detail.checkpoint_step == 100
    downloads = [r for r in harness.together.requests_to("download") if r.range == "bytes=0-1"]
    assert downloads[-1].status == answer


def test_checkpoint_step_given_explicitly(harness: Harness) -> None:
    job = harness.together.add_job("Full", model_output_name="m", steps={40: 300 * KIB})
    detail = harness.archive(ArchiveRequest(job.id, checkpoint_step=40))
    archive = harness.together.archive_for(job.id, "model_output_path", step=40)
    harness.assert_archived(detail, archive, f"{PREFIX}m-checkpoint-40.tar.zst")


def test_zero_byte_archive_is_a_zero_byte_object(harness: Harness) -> None:
    job = harness.together.add_job("Full", size=0, model_output_name="empty")
    detail = harness.archive(ArchiveRequest(job.id))
    archive = harness.together.archive_for(job.id, "model_output_path")
    harness.assert_archived(detail, archive, f"{PREFIX}empty.tar.zst")
    assert detail.size == 0
    assert detail.parts == 1


def test_archive_below_one_part_is_a_single_put(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=100 * KIB, model_output_name="small")
    detail = harness.archive(ArchiveRequest(job.id))
    archive = harness.together.archive_for(job.id, "merged")
    harness.assert_archived(detail, archive, f"{PREFIX}small.tar.zst")
    assert detail.parts == 1
    assert "-" not in detail.etag  # not a multipart ETag
    assert harness.stored.head(detail.key)["Metadata"]["sha256"] == detail.sha256


def test_many_parts_with_the_part_floor_lowered(harness: Harness) -> None:
    size = 5 * MIB + 17
    job = harness.together.add_job("Lora", size=size, model_output_name="big", download="redirect")
    detail = harness.archive(ArchiveRequest(job.id), FT_ARCHIVER_PART_SIZE=PART_MIN_SIZE)
    archive = harness.together.archive_for(job.id, "merged")
    harness.assert_archived(detail, archive, f"{PREFIX}big.tar.zst")
    assert detail.parts == -(-size // PART_MIN_SIZE) == 81
    assert detail.etag.endswith('-81"')
    ranged = [r for r in harness.together.blob_requests(archive) if r.range != "bytes=0-1"]
    assert len(ranged) == 81
    assert all(r.status == 206 for r in ranged)


def test_x_tar_content_type_names_a_tar_gz(harness: Harness) -> None:
    job = harness.together.add_job("Full", size=400 * KIB, model_output_name="t", content_type=TAR)
    detail = harness.archive(ArchiveRequest(job.id))
    archive = harness.together.archive_for(job.id, "model_output_path")
    harness.assert_archived(detail, archive, f"{PREFIX}t.tar.gz")
    assert detail.content_type == TAR


def test_explicit_key_overrides_the_name(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=300 * KIB)
    detail = harness.archive(ArchiveRequest(job.id, key="exact/place/model.bin"))
    archive = harness.together.archive_for(job.id, "merged")
    harness.assert_archived(detail, archive, "exact/place/model.bin")


def test_output_name_missing_falls_back_to_the_id(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=10 * KIB, model_output_name=None)
    detail = harness.archive(ArchiveRequest(job.id))
    archive = harness.together.archive_for(job.id, "merged")
    harness.assert_archived(detail, archive, f"{PREFIX}{job.id}.tar.zst")


def test_api_key_never_reaches_the_storage_host(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=600 * KIB)
    harness.archive(ArchiveRequest(job.id))
    blob_requests = harness.together.requests_to("blob")
    api_requests = harness.together.requests_to("download") + harness.together.requests_to("api")
    assert blob_requests
    assert not any(r.authorization for r in blob_requests)
    assert all(r.host.startswith("localhost:") for r in blob_requests)
    assert all(r.authorization for r in api_requests)
