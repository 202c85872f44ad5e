"""The resume protocol's pieces, each alone: saved progress in its stored form, the
null ledger, the completed prefix of parts and the buffers' two holders."""

import base64
import threading

import pytest

from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.errors import TransferCancelledError
from ft_archiver.service.completed_prefix import CompletedPrefix
from ft_archiver.service.part_buffers import BufferPool, PartBuffers
from ft_archiver.service.ports import UploadedPart
from ft_archiver.service.resume import FreshStart, NoLedger, ResumePoint, SavedProgress

CRC = ALGORITHMS["CRC64NVME"]
POINT = ResumePoint("upload-1", 3, b"\x01midstate", 12345)
PROGRESS = SavedProgress("models/a.tar.zst", 10_000, '"etag"', POINT)


def test_saved_progress_keeps_the_field_names_earlier_releases_stored() -> None:
    assert PROGRESS.to_document() == {
        "key": "models/a.tar.zst",
        "size": 10_000,
        "source_etag": '"etag"',
        "upload_id": "upload-1",
        "done": 3,
        "digest_state": base64.b64encode(b"\x01midstate").decode(),
        "prefix_crc": 12345,
    }
    assert SavedProgress.from_document(PROGRESS.to_document()) == PROGRESS


def test_saved_progress_in_an_unknown_form_means_starting_over() -> None:
    for broken in ({}, {**PROGRESS.to_document(), "digest_state": "not base64!"},
                   {**PROGRESS.to_document(), "done": "three"}):  # fmt: skip
        assert SavedProgress.from_document(broken) is None


def test_saved_progress_belongs_only_to_its_object_size_and_source_version() -> None:
    assert PROGRESS.belongs_to("models/a.tar.zst", 10_000, '"etag"')
    assert not PROGRESS.belongs_to("models/b.tar.zst", 10_000, '"etag"')
    assert not PROGRESS.belongs_to("models/a.tar.zst", 10_001, '"etag"')
    assert not PROGRESS.belongs_to("models/a.tar.zst", 10_000, '"other"')


def test_without_a_state_table_every_claim_is_a_fresh_start() -> None:
    ledger = NoLedger()
    ledger.save_progress("k", "me", PROGRESS)
    assert ledger.claim_archive("k", "me", 60, 3600) == FreshStart()


def part(number: int, data: bytes) -> UploadedPart:
    return UploadedPart(number, f"e{number}", CRC.compute(data), len(data))


def test_the_prefix_grows_only_over_parts_both_uploaded_and_hashed() -> None:
    chunks = {n: bytes([n]) * 100 for n in range(1, 5)}
    points: list[ResumePoint] = []
    prefix = CompletedPrefix("u", CRC, None, points.append)
    prefix.uploaded(part(2, chunks[2]))
    prefix.hashed(2, b"s2")
    prefix.hashed(1, b"s1")
    assert points == []  # part 1 is hashed but not uploaded yet
    prefix.uploaded(part(1, chunks[1]))
    assert [(p.parts_done, p.digest_state) for p in points] == [(2, b"s2")]
    assert points[-1].prefix_crc == CRC.compute(chunks[1] + chunks[2])
    prefix.uploaded(part(4, chunks[4]))
    prefix.hashed(4, b"s4")
    assert len(points) == 1  # part 3 is missing
    prefix.hashed(3, b"s3")
    prefix.uploaded(part(3, chunks[3]))
    assert points[-1].parts_done == 4
    assert points[-1].prefix_crc == CRC.compute(b"".join(chunks[n] for n in range(1, 5)))


def test_a_resumed_prefix_extends_the_saved_crc() -> None:
    first, second = b"a" * 50, b"b" * 70
    points: list[ResumePoint] = []
    saved = ResumePoint("u", 1, b"s1", CRC.compute(first))
    prefix = CompletedPrefix("u", CRC, saved, points.append)
    prefix.hashed(2, b"s2")
    prefix.uploaded(part(2, second))
    assert points == [ResumePoint("u", 2, b"s2", CRC.compute(first + second))]


def test_a_composite_prefix_keeps_each_parts_crc_and_saves_them() -> None:
    """What a store whose ListParts omits part checksums needs to complete a composite
    upload that was resumed (SeaweedFS): the CRCs travel with the saved progress."""
    crc32c = ALGORITHMS["CRC32C"]
    chunks = [b"a" * 50, b"b" * 70, b"c" * 30]
    parts = [UploadedPart(n, f"e{n}", crc32c.compute(c), len(c)) for n, c in enumerate(chunks, 1)]
    points: list[ResumePoint] = []
    first = CompletedPrefix("u", crc32c, None, points.append, keep_part_crcs=True)
    first.hashed(1, b"s1")
    first.uploaded(parts[0])
    saved = points[-1]
    assert saved.part_crcs == parts[0].crc.to_bytes(4, "big")
    resumed = CompletedPrefix("u", crc32c, saved, points.append, keep_part_crcs=True)
    for part_ in parts[1:]:
        resumed.hashed(part_.number, b"s")
        resumed.uploaded(part_)
    assert points[-1].part_crcs == b"".join(p.crc.to_bytes(4, "big") for p in parts)
    progress = SavedProgress("k", 150, None, points[-1])
    assert SavedProgress.from_document(progress.to_document()) == progress
    assert "part_crcs" not in PROGRESS.to_document()  # full-object keeps none
    plain = CompletedPrefix("u", crc32c, None, points.append)
    plain.hashed(1, b"s1")
    plain.uploaded(parts[0])
    assert points[-1].part_crcs == b""


def test_a_buffer_returns_to_the_pool_after_both_its_holders() -> None:
    pool = BufferPool(capacity=1, size=8)
    buffers = PartBuffers(pool)
    buffer = pool.acquire(threading.Event())
    buffers.lend(1, buffer)
    buffers.done_with(1)  # uploaded
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TransferCancelledError):  # no buffer is free: one holder is left
        pool.acquire(cancel)
    buffers.done_with(1)  # hashed
    assert pool.acquire(threading.Event()) is buffer
