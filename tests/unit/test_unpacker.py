"""The unpacker against in-memory fakes: a folder of the archive's files and its index,
or, for a refused archive, nothing; after a failure an incomplete index that a re-run
finishes without uploading a verified file again."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.parts import MIB
from ft_archiver.domain.unpack.members import UnpackLimits
from ft_archiver.errors import (
    AbsoluteMemberPathError,
    ArchiveMissingError,
    CorruptArchiveError,
    DecompressionBombError,
    LinkMemberError,
    MemberPathTraversalError,
    StorageError,
    UnpackedArchiveMismatchError,
    UnverifiedArchiveError,
    ZstdWindowTooLargeError,
)
from ft_archiver.service.control import TransferControl
from ft_archiver.service.ports import Sha256, StoredObject
from ft_archiver.service.unpack.ports import StoredArchive
from ft_archiver.service.unpack.unpacker import (
    Unpacked,
    Unpacker,
    UnpackOptions,
    UnpackRequest,
    UnpackSuspended,
    without_deadline,
)
from tests.support.tarballs import (
    Entry,
    file,
    files_of,
    gzip_of,
    model_entries,
    sha256,
    symlink,
    tar_of,
    zstd_of,
)

from .test_unpack_file_writer import TaggingStore

CRC = ALGORITHMS["CRC64NVME"]
PART = 64 * 1024
KEY = "models/acme--llama.tar.zst"
FOLDER = "models/acme--llama/"
INDEX = "models/acme--llama.files.json"


class Bucket(TaggingStore):
    """The archive bucket: FakeStore's objects, with the archive's tags and versions."""

    def add_archive(self, key: str, data: bytes, tags: dict[str, str] | None = None) -> None:
        self.objects[key] = data
        self.tags[key] = {"sha256": sha256(data)} if tags is None else tags

    def describe(self, bucket: str, key: str) -> StoredArchive | None:
        data = self.objects.get(key)
        if data is None:
            return None
        stored = StoredObject(bucket, key, '"archive-etag"', "v-archive")
        return StoredArchive(stored, len(data), "application/zstd", dict(self.tags[key]))

    def read(self, bucket: str, key: str) -> bytes | None:
        return self.objects.get(key)

    def index(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.objects[INDEX])
        return document

    def puts(self, key: str) -> int:
        return self.log.count(f"put {key}") + sum(u.spec.key == key for u in self.uploads)


def unpacker(bucket: Bucket, **options: object) -> Unpacker:
    settings = UnpackOptions(
        part_size=PART, part_size_floor=PART, upload_concurrency=3,
        memory_budget=64 * MIB, algorithm=CRC, **options,  # type: ignore[arg-type]
    )  # fmt: skip
    return Unpacker(bucket, bucket, bucket, sha256_state, settings,
                    clock=lambda: datetime(2026, 12, 2, tzinfo=UTC))  # fmt: skip


def unpack(bucket: Bucket, key: str = KEY, **options: object) -> Unpacked:
    outcome = unpacker(bucket, **options).unpack(UnpackRequest("bucket", key, "models/"))
    return without_deadline(outcome)


def folder_files(bucket: Bucket) -> dict[str, bytes]:
    return {
        key.removeprefix(FOLDER): data
        for key, data in bucket.objects.items()
        if key.startswith(FOLDER)
    }


ENTRIES = [*model_entries(weights=3 * PART), file("model/extra/notes.txt", b"notes")]


GZ_KEY = "models/acme--llama.tar.gz"


@pytest.mark.parametrize(
    ("compress", "name"),
    [
        (zstd_of, KEY),
        (lambda data: zstd_of(data, frames=3), KEY),  # read across frames
        (lambda data: gzip_of(data, members=3), GZ_KEY),  # every gzip member
    ],
    ids=["zstd", "zstd-frames", "gzip-members"],
)
def test_every_file_is_its_own_object_with_the_index_beside_the_folder(
    compress: Callable[[bytes], bytes], name: str
) -> None:
    bucket = Bucket()
    archive = compress(tar_of(ENTRIES))
    bucket.add_archive(name, archive)
    result = unpack(bucket, name)
    expected = files_of(ENTRIES)
    assert folder_files(bucket) == expected  # the top folder model/ is stripped
    index = bucket.index()
    assert index["status"] == "complete"
    assert index["folder"] == FOLDER
    assert index["file_count"] == len(expected)
    assert index["total_bytes"] == sum(len(data) for data in expected.values())
    listed = {entry["path"]: entry for entry in index["files"]}
    for path, data in expected.items():
        assert listed[path]["sha256"] == sha256(data)
        assert listed[path]["checksum"] == CRC.encode(CRC.compute(data))
        assert listed[path]["key"] == FOLDER + path
        assert bucket.tags[FOLDER + path] == {"sha256": sha256(data)}
    assert listed["model.safetensors"]["parts"] == 4  # 3 parts and a bit: multipart
    assert index["archive"] == {
        "bucket": "bucket", "key": name, "version_id": "v-archive",
        "etag": '"archive-etag"', "size": len(archive), "sha256": sha256(archive),
        "sha256_tree": None, "fine_tune_id": None, "checkpoint_step": None,
        "checkpoint_type": None,  # the fake archive carries no ft-archiver metadata
    }  # fmt: skip
    readiness = index["readiness"]
    assert readiness["vllm_runai_streamer"]["ready"] is True
    assert readiness["bedrock_custom_model_import"]["ready"] is True
    assert readiness["vllm_lora"]["ready"] is False
    assert result.uploaded == len(expected)
    assert result.kept == 0
    assert all(not upload.aborted for upload in bucket.uploads)


def test_a_symlink_is_refused_and_what_was_written_before_it_is_removed() -> None:
    bucket = Bucket()
    entries = [*model_entries(), symlink("model/escape", "/etc/passwd")]
    bucket.add_archive(KEY, zstd_of(tar_of(entries)))
    with pytest.raises(LinkMemberError, match="'model/escape' is a symbolic link"):
        unpack(bucket)
    assert folder_files(bucket) == {}
    assert INDEX not in bucket.objects
    assert bucket.log.count(f"delete {FOLDER}config.json") == 1


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("model/../../etc/cron.d/x", MemberPathTraversalError),
        ("/etc/passwd", AbsoluteMemberPathError),
    ],
)
def test_a_path_out_of_the_folder_is_refused_before_it_is_written(
    name: str, error: type[Exception]
) -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of([file("model/config.json", b"{}"), file(name, b"x")])))
    with pytest.raises(error, match=f"member '{name}'"):
        unpack(bucket)
    assert folder_files(bucket) == {}
    assert not any("etc" in key for key in bucket.objects)
    assert INDEX not in bucket.objects


def test_a_decompression_bomb_fails_before_its_bytes_are_written() -> None:
    bucket = Bucket()
    bomb = [file("model/config.json", b"{}"), file("model/zeros.bin", bytes(4 * MIB))]
    bucket.add_archive(KEY, zstd_of(tar_of(bomb)))
    limits = UnpackLimits(max_expansion=20, expansion_floor=0)
    with pytest.raises(DecompressionBombError, match="a decompression bomb"):
        unpack(bucket, limits=limits)
    assert folder_files(bucket) == {}
    assert bucket.uploads == []


def test_a_failure_leaves_an_incomplete_index_and_a_rerun_uploads_only_the_rest() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)))
    bucket.fail_put_key = f"{FOLDER}tokenizer.json"
    with pytest.raises(StorageError, match=r"tokenizer\.json"):
        unpack(bucket)
    index = bucket.index()
    assert index["status"] == "incomplete"
    assert "StorageError" in str(index["error"])
    assert [entry["path"] for entry in index["files"]] == [
        "config.json", "tokenizer_config.json",
    ]  # fmt: skip
    assert index["readiness"] is None

    bucket.fail_put_key = None
    result = unpack(bucket)
    assert folder_files(bucket) == files_of(ENTRIES)
    assert bucket.index()["status"] == "complete"
    assert bucket.puts(f"{FOLDER}config.json") == 1  # not again
    assert bucket.puts(f"{FOLDER}tokenizer.json") == 2  # the failed put, then this one
    assert result.kept == 2
    assert result.uploaded == len(files_of(ENTRIES)) - 2


def test_a_failed_multipart_file_is_aborted_and_missing_from_the_incomplete_index() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)))
    bucket.fail_part = 2
    with pytest.raises(RuntimeError, match="part 2"):
        unpack(bucket)
    assert [u.aborted for u in bucket.uploads] == [True]
    paths = [entry["path"] for entry in bucket.index()["files"]]
    assert "model.safetensors" not in paths
    assert "config.json" in paths


def test_a_complete_folder_is_not_unpacked_again() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)))
    unpack(bucket)
    log = len(bucket.log)
    result = unpack(bucket)
    assert result.transferred is False
    assert bucket.log[log:] == []  # no put, no tag: only HeadObjects


def test_a_complete_folder_missing_a_file_gets_that_file_back() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)))
    unpack(bucket)
    del bucket.objects[f"{FOLDER}tokenizer.json"]
    result = unpack(bucket)
    assert folder_files(bucket) == files_of(ENTRIES)
    assert result.uploaded == 1


def test_an_archive_needing_a_larger_zstd_window_names_it() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES), window_log=25))  # 32 MiB
    with pytest.raises(ZstdWindowTooLargeError) as refused:
        unpack(bucket)  # a 64 MiB budget: a 16 MiB window
    message = str(refused.value)
    assert "32 MiB (zstd --long=25)" in message
    assert "up to 16 MiB (zstd --long=24)" in message
    assert "FT_ARCHIVER_MEMORY_BUDGET to 128 MiB" in message
    assert "\n" not in message
    assert folder_files(bucket) == {}


def test_bytes_that_are_not_zstd_are_refused_as_corrupt() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, b"not zstd at all" * 100)
    with pytest.raises(CorruptArchiveError, match="not valid zstd"):
        unpack(bucket)


def test_a_tar_zst_that_holds_no_tar_is_refused_as_corrupt() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(b"hello, not a tar" * 100))
    with pytest.raises(CorruptArchiveError, match="tar"):
        unpack(bucket)


def test_only_a_verified_archive_is_unpacked() -> None:
    bucket = Bucket()
    with pytest.raises(ArchiveMissingError, match=f"no archive at s3://bucket/{KEY}"):
        unpack(bucket)
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)), tags={})
    with pytest.raises(UnverifiedArchiveError, match="no sha256 tag"):
        unpack(bucket)
    assert folder_files(bucket) == {}


def test_bytes_that_are_not_the_verified_archive_are_removed() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)), tags={"sha256": "0" * 64})
    with pytest.raises(UnpackedArchiveMismatchError, match="sha256 tag says 0000"):
        unpack(bucket)
    assert folder_files(bucket) == {}
    assert INDEX not in bucket.objects


def test_a_file_at_the_root_of_the_archive_keeps_its_path() -> None:
    bucket = Bucket()
    entries: list[Entry] = [file("config.json", b"{}"), file("sub/a.txt", b"a")]
    bucket.add_archive(KEY, zstd_of(tar_of(entries)))
    unpack(bucket)
    assert folder_files(bucket) == {"config.json": b"{}", "sub/a.txt": b"a"}


# -- continuations: a deadline that comes first ------------------------------------------


def unpack_until(bucket: Bucket, remaining_s: Callable[[], float], **options: Any) -> Any:
    control = TransferControl(remaining_s=remaining_s)
    return unpacker(bucket, **options).unpack(UnpackRequest("bucket", KEY, "models/"), control)


SHARD = f"{FOLDER}model.safetensors"
# weights of many more parts than the writer has buffers (4), so that a deadline comes
# while parts are still to be read
LONG = [*model_entries(weights=16 * PART), file("model/extra/notes.txt", b"notes")]


def test_a_deadline_inside_a_file_leaves_its_upload_open_and_the_next_run_resumes_it() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(LONG)))

    def remaining_s() -> float:  # the deadline comes once two parts of the shard are up
        return 0.0 if bucket.uploads and len(bucket.uploads[-1].parts) >= 2 else 1000.0

    stopped = unpack_until(bucket, remaining_s)
    assert isinstance(stopped, UnpackSuspended)
    upload = bucket.uploads[-1]
    assert not upload.aborted
    index = bucket.index()
    assert index["status"] == "incomplete"
    assert index["error"] is None
    left = index["open_upload"]
    assert left["key"] == SHARD
    assert left["upload_id"] == upload.upload_id
    assert left["parts_done"] >= 2
    assert SHARD not in bucket.objects
    assert "stopped at the deadline" in str(stopped)

    bucket.fail_part = 1  # were part 1 sent again, it would fail
    result = unpack(bucket)
    assert folder_files(bucket) == files_of(LONG)
    assert bucket.uploads == [upload]  # the same upload, completed
    assert upload.completed_upload
    shard = next(e for e in bucket.index()["files"] if e["key"] == SHARD)
    assert shard["sha256"] == sha256(files_of(LONG)["model.safetensors"])
    assert bucket.index()["open_upload"] is None
    assert result.kept == len(stopped.index.files)


def test_a_deadline_between_files_stops_after_one_is_stored() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)))
    stopped = unpack_until(bucket, lambda: 0.0)  # past the deadline from the start
    assert isinstance(stopped, UnpackSuspended)
    assert [e["path"] for e in bucket.index()["files"]] == ["config.json"]  # one file each
    assert bucket.index()["open_upload"] is None
    result = unpack(bucket)
    assert folder_files(bucket) == files_of(ENTRIES)
    assert result.kept == 1


def test_an_upload_gone_before_the_next_run_starts_that_file_again() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(LONG)))
    unpack_until(
        bucket, lambda: 0.0 if bucket.uploads and len(bucket.uploads[-1].parts) >= 2 else 1e3
    )
    bucket.uploads[-1].completed_upload = True  # ListParts: NoSuchUpload (the lifecycle rule)
    unpack(bucket)
    assert folder_files(bucket) == files_of(LONG)
    assert len(bucket.uploads) == 2


class UnsavedDigests:
    """A SHA-256 whose state cannot be saved: nothing can be resumed."""

    def resumable(self) -> bool:
        return False

    def new_sha256(self, state: bytes | None = None) -> Sha256:
        return sha256_state.new_sha256(state)


def test_without_a_saveable_sha256_state_the_run_never_suspends() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(LONG)))
    settings = UnpackOptions(part_size=PART, part_size_floor=PART, upload_concurrency=3,
                             memory_budget=64 * MIB, algorithm=CRC)  # fmt: skip
    runner = Unpacker(bucket, bucket, bucket, UnsavedDigests(), settings)
    outcome = runner.unpack(
        UnpackRequest("bucket", KEY, "models/"), TransferControl(remaining_s=lambda: 0.0)
    )
    assert isinstance(outcome, Unpacked)
    assert folder_files(bucket) == files_of(LONG)


def test_an_archive_cut_short_is_refused_and_leaves_nothing() -> None:
    bucket = Bucket()
    whole = tar_of(ENTRIES)
    cut = whole[: whole.index(b"extra/notes.txt") - 600]  # inside the safetensors data
    bucket.add_archive(KEY, zstd_of(cut))
    with pytest.raises(CorruptArchiveError, match="cut short"):
        unpack(bucket)
    assert folder_files(bucket) == {}
    assert INDEX not in bucket.objects
    assert all(upload.aborted for upload in bucket.uploads)
