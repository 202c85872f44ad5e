"""The catalog behind ``ft-archiver list``: entries, order, table, and problems skipped."""

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ft_archiver.domain.catalog import CatalogEntry, from_object, human_size, newest_first, table
from ft_archiver.service.catalog import Catalog
from ft_archiver.service.ports import ListedObject, ObjectFacts

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SHA = "0123456789abcdef" * 4
METADATA = {"fine-tune-id": "ft-old", "checkpoint-step": "final",
            "checkpoint-type": "merged", "training-type": "Lora"}  # fmt: skip


def manifest_body(
    key: str, at: datetime, step: int | None = None, unpacked: str | None = None
) -> bytes:
    pointer = {"unpacked": {"folder": unpacked, "index_key": f"{unpacked[:-1]}.files.json",
                            "files": 2, "bytes": 10, "unpacked_at": at.isoformat()}
               } if unpacked else {}  # fmt: skip
    return json.dumps({
        **pointer,
        "schema_version": 1, "fine_tune_id": f"ft-{key}", "checkpoint_step": step,
        "checkpoint_type": "adapter", "training_type": "Lora", "model_output_name": None,
        "job": {"id": f"ft-{key}"}, "checkpoint": None,
        "result": {"bucket": "b", "key": key, "size": 2048, "content_type": "application/zstd",
                   "sha256": SHA, "checksum_algorithm": "CRC64NVME", "checksum": "AA==",
                   "etag": '"e"', "version_id": None, "parts": 1, "part_size": 2048,
                   "archived_at": at.isoformat(), "ft_archiver_version": "0.1.0"},
    }).encode()  # fmt: skip


class FakeBucket:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, datetime, ObjectFacts]] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        self.all_busy = threading.Event()
        self.wait_for: int | None = None
        self._lock = threading.Lock()

    def put(self, key: str, body: bytes = b"x", at: datetime = T0, **metadata: str) -> None:
        self.objects[key] = (body, at, ObjectFacts(metadata, {"sha256": SHA} if metadata else {}))

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]:
        return [ListedObject(key, len(body), at) for key, (body, at, _) in self.objects.items()
                if key.startswith(prefix)]  # fmt: skip

    def read(self, bucket: str, key: str) -> bytes | None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            if self.in_flight == self.wait_for:
                self.all_busy.set()
        if self.wait_for is not None:
            self.all_busy.wait(timeout=10)  # only a safety net: the readers meet here
        with self._lock:
            self.in_flight -= 1
        found = self.objects.get(key)
        return None if found is None else found[0]

    def facts(self, bucket: str, key: str) -> ObjectFacts | None:
        found = self.objects.get(key)
        return None if found is None else found[2]


def listing(bucket: FakeBucket, readers: int = 4) -> tuple[list[CatalogEntry], list[str]]:
    problems: list[str] = []
    return Catalog(bucket, readers).entries("b", "m/", problems.append), problems


def test_archives_with_manifests_newest_first() -> None:
    bucket = FakeBucket()
    for n, key in enumerate(["m/a.tar.zst", "m/b.tar.zst", "m/c.tar.zst"]):
        at = T0 + timedelta(hours=(n * 2) % 3)  # a at 0 h, b at 2 h, c at 1 h
        bucket.put(key)
        bucket.put(f"{key}.manifest.json", manifest_body(key, at, step=n or None))
    entries, problems = listing(bucket)
    assert [e.key for e in entries] == ["m/b.tar.zst", "m/c.tar.zst", "m/a.tar.zst"]
    assert [e.checkpoint_step for e in entries] == [1, 2, None]
    assert entries[0].manifest_key == "m/b.tar.zst.manifest.json"
    assert entries[0].size == 2048  # as the manifest recorded it
    assert problems == []


def test_an_archive_without_a_manifest_is_listed_from_its_object() -> None:
    bucket = FakeBucket()
    bucket.put("m/old.tar.zst", b"old bytes", T0, **METADATA)
    bucket.put("m/step.tar.zst", b"s", T0, **{**METADATA, "checkpoint-step": "40"})
    bucket.put("m/not-ours.txt", b"hello")  # no ft-archiver metadata: not an archive
    entries, problems = listing(bucket)
    assert [e.model_dump(mode="json") for e in entries] == [
        {"archived_at": "2026-11-25T12:00:00.000Z", "fine_tune_id": "ft-old",
         "checkpoint_step": None, "checkpoint_type": "merged", "training_type": "Lora",
         "size": 9, "sha256": SHA, "bucket": "b", "key": "m/old.tar.zst", "manifest_key": None,
         "unpacked": None},
        {"archived_at": "2026-11-25T12:00:00.000Z", "fine_tune_id": "ft-old",
         "checkpoint_step": 40, "checkpoint_type": "merged", "training_type": "Lora",
         "size": 1, "sha256": SHA, "bucket": "b", "key": "m/step.tar.zst", "manifest_key": None,
         "unpacked": None},
    ]  # fmt: skip
    assert problems == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "is not valid JSON (JSONDecodeError); skipped"),
        (b"\xff\xfe", "is not valid JSON (UnicodeDecodeError); skipped"),
        (b'{"schema_version": 1}', "is not a manifest (fine_tune_id: Field required); skipped"),
        (b"[]", "is not a manifest (the document: Input should be"),
    ],
)
def test_a_bad_manifest_is_reported_and_its_archive_listed_from_its_object(
    body: bytes, problem: str
) -> None:
    bucket = FakeBucket()
    bucket.put("m/a.tar.zst", b"a", T0, **METADATA)
    bucket.put("m/a.tar.zst.manifest.json", body)
    entries, problems = listing(bucket)
    assert [(e.key, e.manifest_key) for e in entries] == [("m/a.tar.zst", None)]
    [line] = problems
    assert line.startswith("manifest s3://b/m/a.tar.zst.manifest.json ")
    assert problem in line


def test_a_manifest_without_its_archive_is_reported() -> None:
    bucket = FakeBucket()
    bucket.put("m/gone.tar.zst.manifest.json", manifest_body("m/gone.tar.zst", T0))
    entries, problems = listing(bucket)
    assert entries == []
    assert problems == ["manifest s3://b/m/gone.tar.zst.manifest.json: its archive "
                        "m/gone.tar.zst is not in the bucket; skipped"]  # fmt: skip


def test_manifests_are_read_a_few_at_a_time() -> None:
    bucket = FakeBucket()
    for n in range(12):
        bucket.put(f"m/{n}.tar.zst")
        bucket.put(f"m/{n}.tar.zst.manifest.json", manifest_body(f"m/{n}.tar.zst", T0))
    bucket.wait_for = 3  # the first reads hold until three are under way at once
    entries, _ = listing(bucket, readers=3)
    assert len(entries) == 12
    assert bucket.all_busy.is_set()
    assert bucket.most_in_flight == 3


def test_an_empty_prefix_lists_nothing() -> None:
    bucket = FakeBucket()
    bucket.put("other/a.tar.zst", b"a", T0, **METADATA)
    assert listing(bucket) == ([], [])


def entry(key: str, at: datetime, **fields: Any) -> CatalogEntry:
    values: dict[str, Any] = {
        "archived_at": at, "fine_tune_id": "ft-abc", "checkpoint_step": None,
        "checkpoint_type": "merged", "training_type": "Lora", "size": 3 * 1024**2,
        "sha256": SHA, "bucket": "b", "key": key, "manifest_key": f"{key}.manifest.json",
    }  # fmt: skip
    return CatalogEntry(**{**values, **fields})


def test_table() -> None:
    rows = table(newest_first([
        entry("m/a.tar.zst", T0, unpacked="m/a/"),
        entry("m/long-name.tar.zst", T0 + timedelta(seconds=1), checkpoint_step=100,
              checkpoint_type="adapter", fine_tune_id="ft-abcdef", size=512),
        entry("m/old.tar.zst", T0, manifest_key=None, sha256=None, checkpoint_type=None),
    ]))  # fmt: skip
    assert rows == [
        "ARCHIVED AT           JOB        STEP   TYPE     SIZE     SHA256        KEY     "
        "                     UNPACKED",
        "2026-11-25T12:00:01Z  ft-abcdef  100    adapter  512 B    0123456789ab  "
        "m/long-name.tar.zst",
        "2026-11-25T12:00:00Z  ft-abc     final  merged   3.0 MiB  0123456789ab  "
        "m/a.tar.zst                  m/a/",
        "2026-11-25T12:00:00Z  ft-abc     final  -        3.0 MiB  -             "
        "m/old.tar.zst (no manifest)",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
     (5 * 1024**3, "5.0 GiB"), (3 * 1024**5, "3072.0 TiB")],
)  # fmt: skip
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_an_object_without_ft_archiver_metadata_is_not_an_archive() -> None:
    assert from_object("b", "k", 1, T0, {"other": "x"}, {"sha256": SHA}) is None


def test_an_archive_object_without_a_verified_tag_is_not_an_archive() -> None:
    """Its metadata is written with the object, before S3 confirmed a byte of it."""
    assert from_object("b", "k", 1, T0, METADATA, {}) is None
    assert from_object("b", "k", 1, T0, {**METADATA, "sha256": SHA}, {}) is None
    assert from_object("b", "k", 1, T0, METADATA, {"sha256-tree": SHA}) is not None


def test_archive_objects_never_verified_are_named_incomplete_one_line_each() -> None:
    bucket = FakeBucket()
    bucket.put("m/done.tar.zst", b"d", T0, **METADATA)
    bucket.objects["m/z-half.tar.zst"] = (b"h" * 2048, T0, ObjectFacts(dict(METADATA), {}))
    bucket.objects["m/a-half.tar.zst"] = (b"h", T0, ObjectFacts({**METADATA, "sha256": SHA}, {}))
    tree = ObjectFacts(dict(METADATA), {"sha256-tree": SHA})  # distributed, too large to hash
    bucket.objects["m/tree.tar.zst"] = (b"t", T0 + timedelta(hours=1), tree)
    bucket.put("m/not-ours.txt", b"hello")
    entries, problems = listing(bucket)
    assert [e.key for e in entries] == ["m/tree.tar.zst", "m/done.tar.zst"]
    unverified = ("has no manifest and no sha256 tag: its bytes were never verified (a write "
                  "that failed, or one still under way); not listed")  # fmt: skip
    assert problems == [
        f"incomplete: s3://b/m/a-half.tar.zst (1 B) {unverified}",
        f"incomplete: s3://b/m/z-half.tar.zst (2.0 KiB) {unverified}",
    ]


class CountingBucket(FakeBucket):
    def __init__(self) -> None:
        super().__init__()
        self.facts_asked: list[str] = []

    def facts(self, bucket: str, key: str) -> ObjectFacts | None:
        self.facts_asked.append(key)
        return super().facts(bucket, key)


def test_an_unpacked_archive_shows_its_folder_and_its_files_are_not_asked_about() -> None:
    bucket = CountingBucket()
    bucket.put("m/a.tar.zst")
    bucket.put("m/a.tar.zst.manifest.json", manifest_body("m/a.tar.zst", T0, unpacked="m/a/"))
    bucket.put("m/a/config.json", b"{}")
    bucket.put("m/a/model.safetensors", b"w")
    bucket.put("m/a.files.json", b"{}")
    bucket.put("m/b.tar.zst")
    bucket.put("m/b.tar.zst.manifest.json", manifest_body("m/b.tar.zst", T0 + timedelta(1)))
    entries, problems = listing(bucket)
    assert [(e.key, e.unpacked) for e in entries] == [("m/b.tar.zst", None),
                                                      ("m/a.tar.zst", "m/a/")]  # fmt: skip
    assert problems == []
    assert bucket.facts_asked == []  # the manifests said it all
