"""What S3 itself guarantees once ft-archiver's checksums are on the wire (LocalStack)."""

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.events import EventBridgePublisher
from ft_archiver.adapters.s3 import MultipartUpload, S3Store
from ft_archiver.domain.checksums import Buffer
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import StorageError
from ft_archiver.service.archive import Archiver
from ft_archiver.service.ports import ObjectSpec, StoredObject, UploadedPart
from ft_archiver.wiring.archiver import transfer_options
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.together import together_client
from ft_archiver_tools.local.simulator import TogetherSimulator

from .conftest import Target

MIB = 1024 * 1024


class WrappedUpload:
    """A real multipart upload whose part or complete calls a test may tamper with."""

    def __init__(self, upload: MultipartUpload, store: "WrappedStore") -> None:
        self._upload = upload
        self._store = store

    def __enter__(self) -> "WrappedUpload":
        self._upload.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._upload.__exit__(exc_type, exc, traceback)

    @property
    def upload_id(self) -> str:
        return self._upload.upload_id

    def suspend(self) -> None:
        self._upload.suspend()

    def list_parts(self) -> list[UploadedPart]:
        return self._upload.list_parts()

    def upload_part(self, number: int, body: Buffer, crc: int) -> UploadedPart:
        return self._store.on_part(self._upload, number, body, crc)

    def complete(self, parts: list[UploadedPart], size: int, crc: int) -> StoredObject:
        return self._store.on_complete(self._upload, parts, size, crc)


class WrappedStore:
    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.on_part: Callable[[MultipartUpload, int, Buffer, int], UploadedPart] = (
            lambda upload, number, body, crc: upload.upload_part(number, body, crc)
        )
        self.on_complete: Callable[
            [MultipartUpload, list[UploadedPart], int, int], StoredObject
        ] = lambda upload, parts, size, crc: upload.complete(parts, size, crc)
        self.on_put: Callable[[ObjectSpec, Buffer, int], StoredObject] = store.put_object

    def put_object(self, spec: ObjectSpec, body: Buffer, crc: int) -> StoredObject:
        return self.on_put(spec, body, crc)

    def start_multipart(self, spec: ObjectSpec) -> WrappedUpload:
        return WrappedUpload(self.store.start_multipart(spec), self)

    def resume_multipart(self, spec: ObjectSpec, upload_id: str) -> WrappedUpload:
        return WrappedUpload(self.store.resume_multipart(spec, upload_id), self)

    def tag(self, stored: StoredObject, tags: dict[str, str]) -> None:
        self.store.tag(stored, tags)

    def delete(self, stored: StoredObject) -> None:
        self.store.delete(stored)


def flipped(body: Buffer) -> bytes:
    data = bytearray(body)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def archiver(target: Target) -> tuple[Archiver, WrappedStore]:
    settings = target.settings
    store = WrappedStore(S3Store(aws_client("s3", settings, 12)))
    publisher = EventBridgePublisher(aws_client("events", settings), settings.event_bus_name)
    options = transfer_options(settings)
    return Archiver(together_client(settings), store, publisher, options, sha256_state), store


def run(target: Target, together: TogetherSimulator, size: int) -> tuple[Any, str]:
    job = together.add_job("Lora", size=size, model_output_name=f"conf-{time.time_ns()}")
    archive = together.archive_for(job.id, "merged")
    the_archiver, _ = archiver(target)
    detail = the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    return detail, together.sha256(archive)


def failing(
    target: Target,
    together: TogetherSimulator,
    size: int,
    store_change: Callable[[WrappedStore], None],
) -> StorageError:
    job = together.add_job("Lora", size=size, model_output_name=f"bad-{time.time_ns()}")
    the_archiver, store = archiver(target)
    store_change(store)
    with pytest.raises(StorageError) as caught:
        the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    target.stored.assert_nothing_written()
    return caught.value


def test_full_object_checksum_is_accepted_and_stored(
    target: Target, together: TogetherSimulator
) -> None:
    detail, expected = run(target, together, 23 * MIB + 11)
    assert detail.parts == 5
    head = target.stored.head(detail.key)
    assert head["ChecksumCRC64NVME"] == detail.checksum
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


def test_a_corrupted_part_is_refused_and_the_upload_aborted(
    target: Target, together: TogetherSimulator
) -> None:
    def corrupt_part_two(store: WrappedStore) -> None:
        def on_part(upload: MultipartUpload, number: int, body: Buffer, crc: int) -> UploadedPart:
            return upload.upload_part(number, flipped(body) if number == 2 else body, crc)

        store.on_part = on_part

    error = failing(target, together, 16 * MIB, corrupt_part_two)
    assert "UploadPart 2" in str(error)
    assert "BadDigest" in str(error) or "InvalidRequest" in str(error)


def test_a_wrong_full_object_checksum_is_refused(
    target: Target, together: TogetherSimulator
) -> None:
    def wrong_total(store: WrappedStore) -> None:
        store.on_complete = lambda upload, parts, size, crc: upload.complete(parts, size, crc ^ 1)

    error = failing(target, together, 12 * MIB, wrong_total)
    assert "CompleteMultipartUpload" in str(error)


def test_misnumbered_parts_cannot_complete(target: Target, together: TogetherSimulator) -> None:
    def swap_two_and_three(store: WrappedStore) -> None:
        def on_complete(
            upload: MultipartUpload, parts: list[UploadedPart], size: int, crc: int
        ) -> StoredObject:
            by_number = {p.number: p for p in parts}
            two, three = by_number[2], by_number[3]
            by_number[2] = UploadedPart(2, three.etag, three.crc, three.length)
            by_number[3] = UploadedPart(3, two.etag, two.crc, two.length)
            return upload.complete(list(by_number.values()), size, crc)

        store.on_complete = on_complete

    error = failing(target, together, 18 * MIB, swap_two_and_three)
    assert "CompleteMultipartUpload" in str(error)


def test_a_corrupted_single_put_is_refused(target: Target, together: TogetherSimulator) -> None:
    def corrupt_put(store: WrappedStore) -> None:
        real = store.store.put_object
        store.on_put = lambda spec, body, crc: real(spec, flipped(body), crc)

    error = failing(target, together, 3 * MIB, corrupt_put)
    assert "PutObject" in str(error)


def test_parts_finishing_in_reverse_order_give_the_right_object(
    target: Target, together: TogetherSimulator
) -> None:
    job = together.add_job("Lora", size=26 * MIB, model_output_name=f"rev-{time.time_ns()}")
    the_archiver, store = archiver(target)

    def late_first(upload: MultipartUpload, number: int, body: Buffer, crc: int) -> UploadedPart:
        time.sleep(0.5 / number)  # part 1 finishes last
        return upload.upload_part(number, body, crc)

    store.on_part = late_first
    detail = the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    expected = together.sha256(together.archive_for(job.id, "merged"))
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


def test_a_part_uploaded_twice_keeps_the_last_bytes(
    target: Target, together: TogetherSimulator
) -> None:
    job = together.add_job("Lora", size=17 * MIB, model_output_name=f"dup-{time.time_ns()}")
    the_archiver, store = archiver(target)
    algorithm = the_archiver._options.algorithm

    def twice(upload: MultipartUpload, number: int, body: Buffer, crc: int) -> UploadedPart:
        garbage = flipped(body)
        upload.upload_part(number, garbage, algorithm.compute(garbage))  # a stale retry
        return upload.upload_part(number, body, crc)

    store.on_part = twice
    detail = the_archiver.archive(ArchiveRequest(job.id), Destination(target.bucket))
    expected = together.sha256(together.archive_for(job.id, "merged"))
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


def test_many_parts_round_trip(target: Target, together: TogetherSimulator) -> None:
    detail, expected = run(target, together, 512 * MIB + 3)
    assert detail.parts == 103
    assert detail.etag.endswith('-103"')
    assert target.stored.sha256_of(detail.key) == expected == detail.sha256


class MemoryLedger:
    """The state table's contract in memory: LocalStack has no DynamoDB here."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def claim_archive(self, key: str, owner: str, lease_s: float, ttl_s: int) -> Any:
        item = self.items.setdefault(key, {})
        item.update(status="running", owner=owner)
        return item.get("progress")

    def save_progress(self, key: str, owner: str, progress: dict[str, Any]) -> None:
        self.items[key]["progress"] = progress

    def pause_archive(self, key: str, owner: str) -> None:
        self.items[key]["status"] = "paused"

    def finish_archive(self, key: str, owner: str, detail: dict[str, Any]) -> None:
        self.items[key].update(status="done", detail=detail)
        self.items[key].pop("progress", None)

    def mark_published(self, key: str) -> None:
        self.items[key]["published"] = True

    def release_archive(self, key: str, owner: str) -> None:
        self.items[key].update(status="failed")
        self.items[key].pop("progress", None)


def test_an_archive_resumed_over_several_invocations_completes_with_the_right_checksums(
    target: Target, together: TogetherSimulator
) -> None:
    """Suspend, ListParts, resume and complete against an S3 that checks every checksum."""
    from ft_archiver.errors import TransferSuspendedError
    from ft_archiver_tools.local.simulator import Faults

    job = together.add_job("Lora", size=40 * MIB + 7, model_output_name=f"res-{time.time_ns()}")
    archive = together.archive_for(job.id, "merged")
    together.set_faults(Faults(rate_limit_bps=2 * MIB))
    ledger = MemoryLedger()
    settings = target.settings.model_copy(update={"concurrency": 2, "upload_concurrency": 2})
    invocations = 0
    detail = None
    while detail is None and invocations < 20:
        invocations += 1
        ends = time.monotonic() + 2.5

        def remaining(ends: float = ends) -> float:
            return ends - time.monotonic()

        the_archiver = Archiver(
            together_client(settings),
            S3Store(aws_client("s3", settings, 8)),
            EventBridgePublisher(aws_client("events", settings), "default"),
            transfer_options(settings),
            sha256_state,
            ledger=ledger,
            deadline_margin_s=1.5,
        )
        try:
            detail = the_archiver.archive(
                ArchiveRequest(job.id), Destination(target.bucket), remaining_s=remaining
            )
        except TransferSuspendedError:
            continue
    assert detail is not None
    assert invocations >= 3
    head = target.stored.head(detail.key)
    assert head["ChecksumCRC64NVME"] == detail.checksum
    assert target.stored.sha256_of(detail.key) == together.sha256(archive) == detail.sha256
    assert target.stored.open_uploads() == []
