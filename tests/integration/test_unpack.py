"""The unpacker over real HTTP against moto: an archived model becomes a folder of
objects byte-identical to the tar's members, with its index beside it; a hostile archive
leaves nothing; a failure leaves no open upload and an incomplete index, which a re-run
finishes without uploading a finished file again."""

from collections.abc import Iterator
from typing import Any

import pytest

from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver.domain.unpack.members import UnpackLimits
from ft_archiver.errors import (
    AbsoluteMemberPathError,
    DecompressionBombError,
    LinkMemberError,
    MemberPathTraversalError,
    SpecialMemberError,
    StorageError,
    UnverifiedArchiveError,
    ZstdWindowTooLargeError,
)
from ft_archiver.service.control import TransferControl
from ft_archiver.service.unpack.unpacker import (
    Unpacked,
    UnpackRequest,
    UnpackSuspended,
    without_deadline,
)
from ft_archiver.wiring.unpacker import build_unpacker
from ft_archiver_tools.local.model_archive import ModelArchive, ModelSpec
from ft_archiver_tools.local.s3_fault_proxy import S3Fault, S3FaultProxy
from tests.support.tarballs import model_entries, sha256, tar_of, zstd_of

from .harness import PREFIX, Harness

KIB = 1024
MIB = 1024 * KIB


class RecordingProxy(S3FaultProxy):
    """The fault proxy (which records every request it passes: method and path)."""

    def puts_to(self, key: str) -> int:
        """PutObject and UploadPart requests to ``key``."""
        return sum(
            method == "PUT" and path.split("?")[0].endswith(f"/{key}")
            for method, path in self.requests
        )


@pytest.fixture
def proxy(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingProxy]:
    recording = RecordingProxy(harness.aws.endpoint_url)
    with recording:
        monkeypatch.setenv("AWS_ENDPOINT_URL", recording.endpoint_url)
        yield recording


def unpack(harness: Harness, key: str, **overrides: Any) -> Unpacked:
    limits = overrides.pop("limits", None)
    settings = harness.settings(**overrides)
    unpacker = build_unpacker(settings, limits)
    request = UnpackRequest(harness.bucket, key, settings.unpack_prefix_for(key))
    return without_deadline(unpacker.unpack(request))


def archive_model(harness: Harness, spec: ModelSpec, checkpoint: str = "merged") -> str:
    """The model archived from the simulator as ft-archiver archives it; its key."""
    name = f"m-{spec.seed}-{spec.variant}-{spec.compression}"
    job = harness.together.add_job("Lora", model=spec, model_output_name=name)
    detail = harness.archive(ArchiveRequest(job.id, checkpoint_type=checkpoint))
    harness.events.read()  # the archive's own event; not what these tests look at
    return detail.key


def folder_of(key: str) -> str:
    return key.removesuffix(".tar.zst").removesuffix(".tar.gz") + "/"


def assert_folder_matches(harness: Harness, model: ModelArchive, result: Unpacked) -> None:
    """Every file of the tar is an object under the folder with its bytes (SHA-256),
    full-object checksum and sha256 tag, listed so in the complete index."""
    index = result.index
    folder = index.folder
    top = f"{model.spec.top}/" if model.spec.top else ""
    expected = {name.removeprefix(top): d for name, d in model.digests().items()}
    stored = harness.stored
    assert index.status == "complete"
    assert {entry.path: (entry.size, entry.sha256) for entry in index.files} == {
        path: (digest.size, digest.sha256) for path, digest in expected.items()
    }
    for entry in index.files:
        assert entry.key == folder + entry.path
        assert stored.sha256_of(entry.key) == entry.sha256
        head = stored.head(entry.key)
        assert head["ContentLength"] == entry.size
        assert head["ChecksumCRC64NVME"] == entry.checksum
        assert stored.tags(entry.key) == {"sha256": entry.sha256}
    assert {item["Key"] for item in stored.versions_under(folder)} == {e.key for e in index.files}
    assert stored.manifest(result.index_key)["status"] == "complete"
    assert stored.open_uploads() == []


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(size=1 * MIB, seed=1, shards=2),
        ModelSpec(size=1 * MIB, seed=2, shards=2, compression="gzip", gzip_members=True),
    ],
    ids=["zstd", "gzip"],
)
def test_an_archived_model_unpacks_into_files_identical_to_its_members(
    harness: Harness, spec: ModelSpec
) -> None:
    key = archive_model(harness, spec)
    result = unpack(harness, key)
    model = harness.together.model_archive(spec)
    assert_folder_matches(harness, model, result)
    index = result.index
    assert index.folder == folder_of(key)
    assert result.index_key == folder_of(key).rstrip("/") + ".files.json"
    assert index.archive.key == key
    assert index.archive.sha256 == model.sha256
    assert index.archive.version_id == harness.stored.head(key)["VersionId"]
    shards = [e for e in index.files if e.path.endswith(".safetensors")]
    assert all(entry.parts > 1 for entry in shards)  # multipart, 256 KiB parts
    assert index.readiness is not None
    assert index.readiness.vllm_runai_streamer.ready
    assert index.readiness.sagemaker_uncompressed.ready
    assert not index.readiness.vllm_lora.ready


def test_an_adapter_is_ready_for_vllm_lora_and_not_for_bedrock(harness: Harness) -> None:
    spec = ModelSpec(size=1 * MIB, seed=3)
    key = archive_model(harness, spec, checkpoint="adapter")
    result = unpack(harness, key)
    assert result.index.readiness is not None
    assert result.index.readiness.vllm_lora.ready
    assert not result.index.readiness.bedrock_custom_model_import.ready
    assert any(e.path == "adapter_config.json" for e in result.index.files)


@pytest.mark.parametrize(
    ("variant", "error"),
    [
        ("symlink", LinkMemberError),
        ("hardlink", LinkMemberError),
        ("traversal", MemberPathTraversalError),
        ("absolute", AbsoluteMemberPathError),
        ("fifo", SpecialMemberError),
        ("device", SpecialMemberError),
        ("bomb", DecompressionBombError),
    ],
)
def test_a_hostile_archive_is_refused_and_leaves_nothing(
    harness: Harness, variant: str, error: type[Exception]
) -> None:
    """The hostile member comes after the model's files: those were written, and are
    removed, every version of them."""
    spec = ModelSpec(size=512 * KIB, seed=4, variant=variant, bomb_size=64 * MIB)  # type: ignore[arg-type]
    key = archive_model(harness, spec)
    with pytest.raises(error):
        unpack(harness, key, limits=UnpackLimits(expansion_floor=0))
    folder = folder_of(key)
    assert harness.stored.versions_under(folder) == []
    assert harness.stored.versions_of(folder.rstrip("/") + ".files.json") == []
    assert harness.stored.open_uploads() == []


def test_a_failure_midway_leaves_an_incomplete_index_that_a_rerun_finishes(
    harness: Harness, proxy: RecordingProxy
) -> None:
    spec = ModelSpec(size=1 * MIB, seed=5, shards=2)
    key = archive_model(harness, spec)
    folder = folder_of(key)
    # the second shard's second part fails, on every attempt
    second = f"{folder}model-00002-of-00002.safetensors"
    proxy.faults = [
        S3Fault("PUT", {"partNumber": "2"}, 500, "InternalError", times=100, path_suffix=second)
    ]
    with pytest.raises(StorageError, match="UploadPart 2"):
        unpack(harness, key)
    assert harness.stored.open_uploads() == []
    index_key = folder.rstrip("/") + ".files.json"
    incomplete = harness.stored.manifest(index_key)
    assert incomplete["status"] == "incomplete"
    assert "UploadPart 2" in incomplete["error"]
    done_before = {entry["key"] for entry in incomplete["files"]}
    assert f"{folder}config.json" in done_before
    assert f"{folder}model-00001-of-00002.safetensors" in done_before
    assert second not in done_before

    proxy.faults = []
    puts_before = {key: proxy.puts_to(key) for key in done_before}
    result = unpack(harness, key)
    assert_folder_matches(harness, harness.together.model_archive(spec), result)
    assert {key: proxy.puts_to(key) for key in done_before} == puts_before  # not one again
    assert result.kept == len(done_before)
    assert result.uploaded == len(result.index.files) - len(done_before)


def test_a_complete_folder_is_answered_without_reading_the_archive(
    harness: Harness, proxy: RecordingProxy
) -> None:
    key = archive_model(harness, ModelSpec(size=512 * KIB, seed=6))
    unpack(harness, key)
    before = len(proxy.requests)
    again = unpack(harness, key)
    assert not again.transferred
    assert {method for method, _ in proxy.requests[before:]} <= {"HEAD", "GET"}
    reads = [path for method, path in proxy.requests[before:] if method == "GET"]
    assert all(not path.endswith(key) for path in reads)  # its tags, never its bytes


def test_unpack_prefix_puts_the_folder_elsewhere(harness: Harness) -> None:
    key = archive_model(harness, ModelSpec(size=256 * KIB, seed=7))
    result = unpack(harness, key, UNPACK_PREFIX="unpacked/")
    name = key.removeprefix(PREFIX).removesuffix(".tar.zst")
    assert result.index.folder == f"unpacked/{name}/"
    assert result.index_key == f"unpacked/{name}.files.json"


def put_archive(
    harness: Harness, key: str, data: bytes, tags: dict[str, str] | None = None
) -> None:
    """An archive as ft-archiver leaves one: the object, then its sha256 tag."""
    s3 = harness.aws.client("s3")
    s3.put_object(Bucket=harness.bucket, Key=key, Body=data, ContentType="application/zstd")
    tag_set = tags if tags is not None else {"sha256": sha256(data)}
    if not tag_set:
        return
    s3.put_object_tagging(
        Bucket=harness.bucket, Key=key,
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tag_set.items()]},
    )  # fmt: skip


def test_an_archive_needing_a_larger_zstd_window_is_refused_by_name(harness: Harness) -> None:
    key = f"{PREFIX}long-window.tar.zst"
    put_archive(harness, key, zstd_of(tar_of(model_entries()), window_log=25))
    with pytest.raises(ZstdWindowTooLargeError, match=r"32 MiB \(zstd --long=25\)"):
        unpack(harness, key, FT_ARCHIVER_MEMORY_BUDGET="64MiB")
    assert harness.stored.versions_under(f"{PREFIX}long-window/") == []
    assert harness.stored.versions_of(f"{PREFIX}long-window.files.json") == []
    # with the budget it names, the same archive unpacks
    result = unpack(harness, key, FT_ARCHIVER_MEMORY_BUDGET="128MiB")
    assert result.index.status == "complete"


def test_an_object_without_the_sha256_tag_is_not_unpacked(harness: Harness) -> None:
    key = f"{PREFIX}untagged.tar.zst"
    put_archive(harness, key, zstd_of(tar_of(model_entries())), tags={})
    with pytest.raises(UnverifiedArchiveError, match="no sha256 tag"):
        unpack(harness, key)


def test_a_run_stopped_at_its_deadline_is_resumed_at_the_next_part(
    harness: Harness, proxy: RecordingProxy
) -> None:
    """As a Lambda continuation would: the first run stops inside the second shard, its
    upload left open; the next sends only the parts S3 does not hold."""
    spec = ModelSpec(size=4 * MIB, seed=8, shards=2)
    key = archive_model(harness, spec)
    folder = folder_of(key)
    second = f"{folder}model-00002-of-00002.safetensors"

    def parts_of(target: str) -> list[str]:
        return [
            path.split("partNumber=")[1].split("&")[0]
            for method, path in proxy.requests
            if method == "PUT" and path.split("?")[0].endswith(target) and "partNumber=" in path
        ]

    def remaining_s() -> float:
        return 0.0 if len(parts_of(second)) >= 2 else 1000.0

    settings = harness.settings(FT_ARCHIVER_UPLOAD_CONCURRENCY="2")
    request = UnpackRequest(harness.bucket, key, settings.unpack_prefix_for(key))
    stopped = build_unpacker(settings).unpack(request, TransferControl(remaining_s=remaining_s))
    assert isinstance(stopped, UnpackSuspended)
    assert stopped.index.open_upload is not None
    assert stopped.index.open_upload.key == second
    assert [u["Key"] for u in harness.stored.open_uploads()] == [second]
    assert harness.stored.manifest(stopped.index_key)["status"] == "incomplete"
    sent_before = parts_of(second)
    finished = {entry.key for entry in stopped.index.files}
    puts_before = {k: proxy.puts_to(k) for k in finished}

    result = unpack(harness, key, FT_ARCHIVER_UPLOAD_CONCURRENCY="2")
    assert_folder_matches(harness, harness.together.model_archive(spec), result)
    sent = parts_of(second)
    assert len(sent) == len(set(sent))  # no part of the resumed upload went twice
    assert set(sent_before) < set(sent)
    assert {k: proxy.puts_to(k) for k in finished} == puts_before
    assert result.kept == len(finished)
