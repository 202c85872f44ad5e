"""The sequential writer: a file read front to back from a stream, through the archive's
own transfer engine, as one PutObject or a multipart upload with parts in parallel,
checksums combined, SHA-256 in order; aborted on failure."""

import hashlib
import io
import random
import threading

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.unpack.budget import UnpackBudget
from ft_archiver.errors import CorruptArchiveError, IntegrityError, TransferCancelledError
from ft_archiver.service.ports import StoredObject
from ft_archiver.service.unpack.file_writer import (
    FileWriter,
    StreamParts,
    WriterOptions,
    content_type,
)
from tests.support.fakes import FakeStore

CRC = ALGORITHMS["CRC64NVME"]
PART = 64 * 1024
DATA = random.Random(3).randbytes(5 * PART + 123)


class TaggingStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, dict[str, str]] = {}

    def tag(self, stored: StoredObject, tags: dict[str, str]) -> None:
        super().tag(stored, tags)
        self.tags[stored.key] = tags


def writer(store: FakeStore, cancel: threading.Event | None = None) -> FileWriter:
    budget = UnpackBudget(read_chunk=PART, read_ahead=2, window=8 << 20, part_bytes=4 * PART)
    options = WriterOptions("bucket", CRC, PART, PART, uploads=3, budget=budget)
    return FileWriter(store, sha256_state, options, cancel or threading.Event())


def test_a_file_of_one_part_is_one_put_with_its_sha256() -> None:
    store = TaggingStore()
    data = DATA[:PART]
    written = writer(store).write("m/config.json", "config.json", len(data), io.BytesIO(data))
    assert store.objects["m/config.json"] == data
    assert store.uploads == []
    digest = hashlib.sha256(data).hexdigest()
    assert written.sha256 == digest
    assert store.specs["m/config.json"].metadata == {"sha256": digest}
    assert store.specs["m/config.json"].content_type == "application/json"
    assert store.tags["m/config.json"] == {"sha256": digest}
    assert written.crc == CRC.compute(data)
    assert written.parts == 1


def test_an_empty_file_is_an_empty_object() -> None:
    store = TaggingStore()
    written = writer(store).write("m/empty", "empty", 0, io.BytesIO(b""))
    assert store.objects["m/empty"] == b""
    assert written.sha256 == hashlib.sha256(b"").hexdigest()


def test_a_larger_file_is_a_multipart_upload_verified_by_its_combined_crc() -> None:
    store = TaggingStore()
    store.upload_delay = {1: 0.05}  # the first part finishes last
    stream = io.BytesIO(DATA + b"the next member")
    written = writer(store).write("m/w.safetensors", "w.safetensors", len(DATA), stream)
    assert store.objects["m/w.safetensors"] == DATA
    assert stream.read() == b"the next member"  # not a byte more was read
    assert len(store.uploads) == 1
    assert not store.uploads[0].aborted
    assert sorted(store.uploads[0].parts) == [1, 2, 3, 4, 5, 6]
    assert written.parts == 6
    assert written.crc == CRC.compute(DATA)
    assert written.sha256 == hashlib.sha256(DATA).hexdigest()
    assert store.tags["m/w.safetensors"] == {"sha256": written.sha256}
    assert store.specs["m/w.safetensors"].content_type == "application/octet-stream"


def test_a_failed_part_aborts_the_upload_and_stores_nothing() -> None:
    store = TaggingStore()
    store.fail_part = 3
    with pytest.raises(RuntimeError, match="part 3 refused"):
        writer(store).write("m/w.bin", "w.bin", len(DATA), io.BytesIO(DATA))
    assert store.uploads[0].aborted
    assert store.objects == {}
    assert store.tags == {}


def test_a_stream_that_ends_early_aborts_the_upload() -> None:
    store = TaggingStore()
    with pytest.raises(CorruptArchiveError, match="ended after"):
        writer(store).write("m/w.bin", "w.bin", len(DATA), io.BytesIO(DATA[: 2 * PART]))
    assert store.uploads[0].aborted
    assert store.objects == {}


def test_a_cancel_stops_the_file_and_aborts_its_upload() -> None:
    store = TaggingStore()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TransferCancelledError):
        writer(store, cancel).write("m/w.bin", "w.bin", len(DATA), io.BytesIO(DATA))
    assert store.objects == {}
    assert all(upload.aborted for upload in store.uploads)


def test_the_head_the_caller_asks_for_is_kept_as_the_file_passes() -> None:
    store = TaggingStore()
    written = writer(store).write(
        "m/w.bin", "w.bin", len(DATA), io.BytesIO(DATA), head_wanted=lambda head: 100
    )
    assert written.head == DATA[:100]


def test_a_head_can_grow_with_what_it_says() -> None:
    """A .safetensors header gives its own length in its first 8 bytes."""
    data = (1000).to_bytes(8, "little") + DATA
    parts = StreamParts(io.BytesIO(data), len(data), lambda h: 8 if len(h) < 8 else 1008)
    parts.skip_rest(threading.Event())
    assert bytes(parts.head) == data[:1008]


def test_stream_parts_read_over_the_parts_a_resumed_upload_skips() -> None:
    parts = StreamParts(io.BytesIO(DATA), len(DATA))
    view = memoryview(bytearray(10))
    parts(3 * PART, view, threading.Event())
    assert bytes(view) == DATA[3 * PART : 3 * PART + 10]
    with pytest.raises(IntegrityError, match="cannot go back"):
        parts(0, view, threading.Event())


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("config.json", "application/json"),
        ("model-00001-of-00002.safetensors", "application/octet-stream"),
        ("tokenizer.model", "application/octet-stream"),
        ("README.md", "text/markdown"),
        ("weights.tar.gz", "application/octet-stream"),  # never a Content-Encoding
    ],
)
def test_content_type_by_name(path: str, kind: str) -> None:
    assert content_type(path) == kind
