"""An archive never replaces an object it did not write, and leaves no unverified bytes
after a write that failed (issue 17, sections 3 and 5), over real HTTP against moto.

Archives are written with If-None-Match: * (PutObject and CompleteMultipartUpload), which
moto refuses with 412 PreconditionFailed where the key holds an object, as S3 does.
After a write that failed or was refused the archiver looks at the key: these very bytes
(our own write whose answer was lost, or the same archive stored before) are verified
and the archive goes on; bytes this upload made that do not match are removed, that
version only; anything else is another archive and stays as it is.
"""

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_stored import S3StoredObjects
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.distributed import CompletedUpload
from ft_archiver.domain.events import ARCHIVE_FAILED, ARCHIVED
from ft_archiver.domain.parts import Lanes
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.errors import ArchiveConflictError, IntegrityError, StorageError
from ft_archiver.service.announce import Announcer
from ft_archiver.service.archive_plan import TransferOptions
from ft_archiver.service.control import without_deadline
from ft_archiver.service.distributed.abort_step import abort_archive
from ft_archiver.service.distributed.batch_step import upload_batch
from ft_archiver.service.distributed.complete_step import complete_upload
from ft_archiver.service.distributed.finish_step import finish_archive
from ft_archiver.service.distributed.plan_step import DistributedOptions, plan_distributed
from ft_archiver.service.ports import ObjectSpec
from ft_archiver.service.spans import no_span
from ft_archiver.wiring.archiver import build_archiver
from ft_archiver.wiring.aws import aws_client
from ft_archiver_tools.local.s3_fault_proxy import S3Fault, S3FaultProxy
from tests.support.distributed import held_start
from tests.support.fakes import FakePartDigests, FakePublisher, FakeTogether
from tests.support.faults import s3_fault_proxy
from tests.support.settings import archiver_variables, settings_from

from .harness import PREFIX, Harness

KIB = 1024
PART = 256 * KIB
SIZES = pytest.mark.parametrize("size", [3 * PART + 5, 100 * KIB], ids=["multipart", "single"])
CRC64 = ALGORITHMS["CRC64NVME"]
# The archive's own write, and nothing beside it: not its parts, tags or manifest.
COMPLETE = {"uploadId": "*"}
PUT = {"uploadId": None, "partNumber": None, "tagging": None}


@pytest.fixture
def proxy(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3FaultProxy]:
    with s3_fault_proxy(harness.aws.endpoint_url, monkeypatch.setenv) as faulty:
        yield faulty


def occupy(harness: Harness, key: str, body: bytes = b"another archive") -> str:
    """An object at ``key`` that this archive did not write; its version."""
    put = harness.stored.client.put_object(Bucket=harness.bucket, Key=key, Body=body)
    version: str = put["VersionId"]
    return version


def body_of(harness: Harness, key: str) -> bytes:
    data: bytes = harness.stored.client.get_object(Bucket=harness.bucket, Key=key)["Body"].read()
    return data


def versions(harness: Harness, key: str) -> list[str]:
    return [v["VersionId"] for v in harness.stored.versions_of(key)]


# -- never replaced ----------------------------------------------------------------------


def fetched(harness: Harness, job_id: str) -> list[str | None]:
    """The ranges of the archive's bytes read from Together, its size probe aside."""
    archive = harness.together.archive_for(job_id, "merged")
    return [r.range for r in harness.together.blob_requests(archive) if r.range != "bytes=0-1"]


def assert_refused_and_left(harness: Harness, key: str, version: str, body: bytes) -> str:
    """The archive was refused, the object left as it was, nothing beside it; the message."""
    assert versions(harness, key) == [version]
    assert body_of(harness, key) == body
    assert harness.stored.keys() == [key]  # no manifest beside it
    assert harness.stored.open_uploads() == []
    failed = harness.failure_event()
    assert (failed["error_type"], failed["retryable"]) == ("ArchiveConflictError", False)
    assert key in failed["error"]
    return str(failed["error"])


@SIZES
def test_another_object_at_the_key_is_refused_before_a_byte_is_sent(
    harness: Harness, size: int
) -> None:
    """HeadObject before CreateMultipartUpload: another size is another object, refused
    at once with the key named; no part read from Together, no upload begun."""
    job = harness.together.add_job("Lora", size=size, model_output_name=f"taken-{size}")
    key = f"{PREFIX}taken-{size}.tar.zst"
    version = occupy(harness, key)
    with pytest.raises(ArchiveConflictError) as refused:
        harness.archive(ArchiveRequest(job.id))
    message = str(refused.value)
    assert f"s3://{harness.bucket}/{key} already holds another object (15 bytes" in message
    assert "nothing was sent" in message
    assert refused.value.retryable is False
    assert fetched(harness, job.id) == []
    assert_refused_and_left(harness, key, version, b"another archive")


def test_another_fine_tunes_archive_of_the_same_size_is_refused_before_a_byte_is_sent(
    harness: Harness,
) -> None:
    """Its metadata names another archive: refused at once, whatever its size."""
    size = 3 * PART + 5
    other = harness.together.add_job("Lora", size=size, model_output_name="first-owner")
    kept = harness.archive(ArchiveRequest(other.id, key=f"{PREFIX}shared.tar.zst"))
    harness.events.read()
    job = harness.together.add_job("Lora", size=size, model_output_name="second-owner")
    before = harness.stored.keys()
    with pytest.raises(ArchiveConflictError, match=f"the archive of {other.id}"):
        harness.archive(ArchiveRequest(job.id, key=kept.key))
    assert fetched(harness, job.id) == []
    assert harness.stored.keys() == before
    assert versions(harness, kept.key) == [kept.version_id]
    assert harness.stored.open_uploads() == []


@SIZES
def test_an_object_of_the_same_size_is_refused_by_the_conditional_write(
    harness: Harness, size: int
) -> None:
    """Without metadata naming an archive, only the bytes can tell: the transfer runs and
    S3's If-None-Match refuses Complete (or PutObject) with 412."""
    job = harness.together.add_job("Lora", size=size, model_output_name=f"blind-{size}")
    key = f"{PREFIX}blind-{size}.tar.zst"
    body = bytes(size)
    version = occupy(harness, key, body)
    with pytest.raises(ArchiveConflictError) as refused:
        harness.archive(ArchiveRequest(job.id))
    assert "PreconditionFailed" in str(refused.value)  # moto's 412 to If-None-Match
    assert_refused_and_left(harness, key, version, body)


def test_an_explicit_key_cannot_replace_the_archive_another_job_keeps_there(
    harness: Harness,
) -> None:
    """What a webhook-secret holder could try: a key in a folder under the prefix, where
    another job's archive and manifest already are."""
    key = f"{PREFIX}team/{uuid.uuid4().hex[:8]}/model.tar.zst"
    settings = harness.settings()
    archiver = build_archiver(settings)
    confined = Destination(harness.bucket, PREFIX, confine_keys=True)
    victim = harness.together.add_job("Lora", size=3 * PART, model_output_name="victim")
    kept = without_deadline(archiver.archive(ArchiveRequest(victim.id, key=key), confined))
    harness.events.read()
    manifest = harness.stored.manifest(f"{key}.manifest.json")
    intruder = harness.together.add_job("Lora", size=2 * PART, model_output_name="intruder")
    with pytest.raises(ArchiveConflictError, match="already holds another object"):
        archiver.archive(ArchiveRequest(intruder.id, key=key), confined)
    assert versions(harness, key) == [kept.detail.version_id]
    assert harness.stored.sha256_of(key) == kept.detail.sha256
    assert len(harness.stored.versions_of(f"{key}.manifest.json")) == 1
    assert harness.stored.manifest(f"{key}.manifest.json") == manifest
    assert harness.stored.open_uploads() == []
    assert harness.failure_event()["id"] == intruder.id


@SIZES
def test_the_same_archive_again_without_a_state_table_is_found_verified_and_not_sent(
    harness: Harness, size: int
) -> None:
    """Without a ledger (the command line without STATE_TABLE_NAME) the key and the
    manifest beside it are the answer: no byte read from Together, no second event."""
    job = harness.together.add_job("Lora", size=size, model_output_name=f"again-{size}")
    first = harness.archive(ArchiveRequest(job.id))
    harness.events.read()
    reads = fetched(harness, job.id)
    second = harness.archive(ArchiveRequest(job.id))
    assert second == first.model_copy(update={"duration_s": 0.0})
    assert fetched(harness, job.id) == reads
    assert harness.events.read() == []
    assert versions(harness, first.key) == [first.version_id]
    assert harness.stored.open_uploads() == []


@SIZES
def test_force_archives_it_again_into_the_one_object_it_was(harness: Harness, size: int) -> None:
    """``--force``: moved again, and the key already holds these very bytes, so S3's
    refusal is no conflict; the manifest is written again and the event sent again."""
    job = harness.together.add_job("Lora", size=size, model_output_name=f"forced-{size}")
    archive = harness.together.archive_for(job.id, "merged")
    first = harness.archive(ArchiveRequest(job.id))
    harness.events.read()
    reads = len(fetched(harness, job.id))
    second = harness.archive(ArchiveRequest(job.id), force=True)
    assert len(fetched(harness, job.id)) == 2 * reads
    assert versions(harness, first.key) == [first.version_id]
    assert (second.etag, second.version_id) == (first.etag, first.version_id)
    assert second.sha256 == first.sha256 == harness.together.sha256(archive)
    assert harness.stored.tags(first.key) == {"sha256": first.sha256}
    assert harness.stored.manifest(f"{first.key}.manifest.json")["result"]["sha256"] == (
        first.sha256
    )
    assert harness.stored.open_uploads() == []
    assert [e["detail-type"] for e in harness.events.read()] == ["Fine-tune Archived"]


def test_an_archive_whose_manifest_is_gone_is_proven_by_its_bytes(harness: Harness) -> None:
    """This archive's metadata and size, but no manifest: an earlier run stopped between
    Complete and its manifest. Transferred again; Complete finds these very bytes."""
    job = harness.together.add_job("Lora", size=3 * PART + 5, model_output_name="unexplained")
    first = harness.archive(ArchiveRequest(job.id))
    harness.events.read()
    manifest_key = f"{first.key}.manifest.json"
    harness.stored.client.delete_object(Bucket=harness.bucket, Key=manifest_key)
    reads = len(fetched(harness, job.id))
    second = harness.archive(ArchiveRequest(job.id))
    assert len(fetched(harness, job.id)) == 2 * reads
    assert (second.etag, second.version_id) == (first.etag, first.version_id)
    assert harness.stored.manifest(manifest_key)["result"]["sha256"] == first.sha256
    assert [e["detail-type"] for e in harness.events.read()] == ["Fine-tune Archived"]


def test_the_same_archive_again_with_a_state_table_is_answered_from_it(
    harness: Harness,
) -> None:
    job = harness.together.add_job("Lora", size=3 * PART, model_output_name="ledger")
    archive = harness.together.archive_for(job.id, "merged")
    table = harness.stack.table_name
    first = harness.archive(ArchiveRequest(job.id), STATE_TABLE_NAME=table)
    fetched = len(harness.together.blob_requests(archive))
    second = harness.archive(ArchiveRequest(job.id), STATE_TABLE_NAME=table)
    assert second == first
    assert len(harness.together.blob_requests(archive)) == fetched  # nothing moved again
    assert versions(harness, first.key) == [first.version_id]


def test_force_sets_the_state_tables_finished_record_aside_too(harness: Harness) -> None:
    """``--force`` with a state table: its record of the finished archive is claimed
    afresh instead of answering; moved and announced again, then finished again, and a
    later run without force is answered from it once more."""
    job = harness.together.add_job("Lora", size=3 * PART, model_output_name="ledger-forced")
    archive = harness.together.archive_for(job.id, "merged")
    table = harness.stack.table_name
    first = harness.archive(ArchiveRequest(job.id), STATE_TABLE_NAME=table)
    harness.events.read()
    fetched = len(harness.together.blob_requests(archive))
    forced = harness.archive(ArchiveRequest(job.id), force=True, STATE_TABLE_NAME=table)
    assert len(harness.together.blob_requests(archive)) == 2 * fetched
    assert (forced.version_id, forced.sha256) == (first.version_id, first.sha256)
    assert [e["detail"]["id"] for e in harness.events.read()] == [job.id]
    again = harness.archive(ArchiveRequest(job.id), STATE_TABLE_NAME=table)
    assert again == forced
    assert len(harness.together.blob_requests(archive)) == 2 * fetched
    assert harness.events.read() == []
    assert versions(harness, first.key) == [first.version_id]


# -- after a write that failed -----------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "method", "query"),
    [(3 * PART + 5, "POST", COMPLETE), (100 * KIB, "PUT", PUT)],
    ids=["complete", "single put"],
)
def test_an_object_built_before_its_write_failed_is_verified_and_kept(
    harness: Harness, proxy: S3FaultProxy, size: int, method: str, query: dict[str, Any]
) -> None:
    """S3 built the object, then answered 500 (and every retry too): the key holds these
    very bytes, so the archive goes on, tagged and with its manifest, and is announced."""
    job = harness.together.add_job("Lora", size=size, model_output_name=f"built-{size}")
    key = f"{PREFIX}built-{size}.tar.zst"
    proxy.faults = [
        S3Fault(method, query, 500, "InternalError", times=100, forward=True,
                path_suffix=".tar.zst"),
    ]  # fmt: skip
    detail = harness.archive(ArchiveRequest(job.id))
    assert proxy.faults[0].hits > 1  # the write, and botocore's retries, all answered 500
    harness.assert_archived(detail, harness.together.archive_for(job.id, "merged"), key)
    assert versions(harness, key) == [detail.version_id]


def test_a_retried_complete_told_the_upload_is_gone_finds_its_object_and_goes_on(
    harness: Harness, proxy: S3FaultProxy
) -> None:
    """As S3 and LocalStack answer a Complete repeated after the first one built the
    object: NoSuchUpload (moto answers 200). Not a vanished upload to start again, nor a
    conflict: the key holds these very bytes. No part is downloaded twice."""
    job = harness.together.add_job("Lora", size=3 * PART + 5, model_output_name="gone")
    archive = harness.together.archive_for(job.id, "merged")
    proxy.faults = [S3Fault("POST", COMPLETE, 404, "NoSuchUpload", times=100, forward=True)]
    detail = harness.archive(ArchiveRequest(job.id))
    harness.assert_archived(detail, archive, f"{PREFIX}gone.tar.zst")
    ranges = [r.range for r in harness.together.blob_requests(archive)]
    assert len(ranges) == len(set(ranges)) == 1 + 4  # the probe, then each part once


def test_a_complete_that_built_nothing_fails_and_leaves_nothing(
    harness: Harness, proxy: S3FaultProxy
) -> None:
    job = harness.together.add_job("Lora", size=3 * PART, model_output_name="unbuilt")
    proxy.faults = [S3Fault("POST", COMPLETE, 500, "InternalError", times=100)]
    with pytest.raises(StorageError, match=r"CompleteMultipartUpload .*InternalError"):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()
    assert harness.failure_event()["retryable"] is True


def test_bytes_this_upload_made_that_do_not_match_are_removed_that_version_only(
    harness: Harness, proxy: S3FaultProxy
) -> None:
    """The upload's parts made an object, then Complete answered 500, and what the key
    holds is not what was expected: that version is deleted (no delete marker hides it),
    and an earlier version of the key, written by someone else, stays."""
    s3 = aws_client("s3", settings_from(archiver_variables()))
    key = f"{PREFIX}unverified.tar.zst"
    store = S3Store(s3)
    spec = ObjectSpec(harness.bucket, key, "application/zstd", {}, CRC64)
    data = bytes(range(256)) * (3 * PART // 256)
    parts = [data[i : i + PART] for i in range(0, len(data), PART)]
    proxy.faults = [S3Fault("POST", COMPLETE, 500, "InternalError", times=100, forward=True)]
    with store.start_multipart(spec) as upload:
        uploaded = [upload.upload_part(n, p, CRC64.compute(p)) for n, p in enumerate(parts, 1)]
        with pytest.raises(IntegrityError, match=r"made of this upload's parts.*removed"):
            upload.complete(uploaded, len(data) + 1, CRC64.compute(data))  # expected otherwise
    assert harness.stored.all_versions() == []
    assert harness.stored.open_uploads() == []


def test_another_object_at_the_key_after_a_failed_complete_is_left_alone(
    harness: Harness, proxy: S3FaultProxy
) -> None:
    """Complete answered 500 without building, and the key holds an object that is not
    these parts': it is nobody's to delete here; the archive is refused as a conflict."""
    s3 = aws_client("s3", settings_from(archiver_variables()))
    key = f"{PREFIX}someone-else.tar.zst"
    version = occupy(harness, key)
    spec = ObjectSpec(harness.bucket, key, "application/zstd", {}, CRC64)
    part = bytes(PART)
    proxy.faults = [S3Fault("POST", COMPLETE, 500, "InternalError", times=100)]
    with S3Store(s3).start_multipart(spec) as upload:
        uploaded = upload.upload_part(1, part, CRC64.compute(part))
        with pytest.raises(ArchiveConflictError, match="InternalError"):
            upload.complete([uploaded], PART, CRC64.compute(part))
    assert versions(harness, key) == [version]
    assert harness.stored.open_uploads() == []


def test_moto_refuses_both_conditional_writes_with_412(harness: Harness) -> None:
    """What the archiver relies on, asked of moto directly: PutObject and
    CompleteMultipartUpload with If-None-Match: * on a key that holds an object."""
    s3 = harness.stored.client
    key = f"{PREFIX}held.tar.zst"
    occupy(harness, key)
    answers: list[tuple[str, int]] = []

    def heard(http_response: Any, model: Any, **_: Any) -> None:
        answers.append((model.name, http_response.status_code))

    s3.meta.events.register("after-call.s3", heard)
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket=harness.bucket, Key=key, Body=b"x", IfNoneMatch="*")
    upload = s3.create_multipart_upload(Bucket=harness.bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=harness.bucket, Key=key, UploadId=upload, PartNumber=1,
                          Body=b"x")["ETag"]  # fmt: skip
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.complete_multipart_upload(
            Bucket=harness.bucket, Key=key, UploadId=upload, IfNoneMatch="*",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )  # fmt: skip
    s3.abort_multipart_upload(Bucket=harness.bucket, Key=key, UploadId=upload)
    assert ("PutObject", 412) in answers
    assert ("CompleteMultipartUpload", 412) in answers


# -- the distributed archive's Complete --------------------------------------------------

STEP_PART = 64 * KIB  # moto's smallest part here (tests.support.aws.PART_MIN_SIZE)
STEP_DATA = bytes((i * 7) % 251 for i in range(3 * STEP_PART + 17))  # 4 parts
JOB = {"id": "ft-0123abcd", "status": "completed", "model_output_name": "acme/dist",
       "training_type": {"type": "Lora"}}  # fmt: skip


class Steps:
    """The distributed steps over a real S3 (moto), the rest in memory."""

    def __init__(self, harness: Harness) -> None:
        self.together = FakeTogether(STEP_DATA, JOB, [])
        s3 = aws_client("s3", settings_from(archiver_variables()))
        self.store, self.stored = S3Store(s3), S3StoredObjects(s3)
        self.digests = FakePartDigests()
        self.publisher = FakePublisher()
        start, self.ledger = held_start(str(JOB["id"]), harness.bucket, PREFIX)
        options = TransferOptions(
            part_size=STEP_PART, part_size_floor=STEP_PART, concurrency=2,
            upload_concurrency=2, memory_budget=1 << 24, algorithm=CRC64,
        )  # fmt: skip
        spread = DistributedOptions(workers=2, batch_bytes=2 * STEP_PART, batch_timeout_s=900,
                                    verify_sha256_up_to=1 << 30)  # fmt: skip
        self.plan, self.batches = plan_distributed(
            start, self.together, self.store, options, spread, self.ledger
        )
        for batch in self.batches:
            upload_batch(self.plan, batch, self.together, self.store, self.digests,
                         Lanes(2, 2, 2), lambda: 100.0, 1.0)  # fmt: skip

    def complete(self) -> CompletedUpload:
        return complete_upload(self.plan, self.batches, self.store, self.digests, self.stored)

    def finish(self, completed: CompletedUpload) -> None:
        finish_archive(
            self.plan, self.batches, completed, None, datetime.now(UTC), self.together,
            self.store, self.digests, self.ledger, Announcer(self.publisher, no_span),
        )  # fmt: skip


def test_a_distributed_complete_that_built_the_object_then_failed_goes_on(
    harness: Harness, proxy: S3FaultProxy
) -> None:
    steps = Steps(harness)
    proxy.faults = [S3Fault("POST", COMPLETE, 500, "InternalError", times=100, forward=True)]
    completed = steps.complete()
    assert completed.adopted  # found in place: Abort would leave it
    assert completed.checksum == CRC64.encode(CRC64.compute(STEP_DATA))
    proxy.faults = []
    again = steps.complete()  # Step Functions ran it again: the upload is gone by now
    assert (again.etag, again.version_id) == (completed.etag, completed.version_id)
    steps.finish(completed)
    assert harness.stored.sha256_of(steps.plan.key) == hashlib.sha256(STEP_DATA).hexdigest()
    assert len(harness.stored.versions_of(steps.plan.key)) == 1
    assert "sha256-tree" in harness.stored.tags(steps.plan.key)
    assert harness.stored.open_uploads() == []
    assert [kind for kind, _ in steps.publisher.events] == [ARCHIVED]


def test_a_distributed_complete_over_another_object_is_refused_and_abort_leaves_it(
    harness: Harness,
) -> None:
    steps = Steps(harness)
    version = occupy(harness, steps.plan.key)
    with pytest.raises(ArchiveConflictError, match="PreconditionFailed"):
        steps.complete()
    abort_archive(
        steps.plan.start, steps.plan, steps.batches, None,
        ("ArchiveConflictError", "already holds another object", False), steps.store,
        steps.digests, steps.ledger, Announcer(steps.publisher, no_span),
    )  # fmt: skip
    assert versions(harness, steps.plan.key) == [version]
    assert harness.stored.open_uploads() == []
    assert [kind for kind, _ in steps.publisher.events] == [ARCHIVE_FAILED]
