"""Faults in the transfer: S3 throttling and vanished uploads (through a fault-injecting
proxy in front of moto), and a source that stalls mid-body."""

from collections.abc import Iterator

import pytest

from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver.errors import StorageAccessDeniedError, StorageError
from ft_archiver_tools.local.s3_fault_proxy import S3Fault, S3FaultProxy
from ft_archiver_tools.local.simulator import Faults
from tests.support.faults import s3_fault_proxy

from .harness import PREFIX, Harness

KIB = 1024
PART = 256 * KIB


@pytest.fixture
def proxy(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3FaultProxy]:
    with s3_fault_proxy(harness.aws.endpoint_url, monkeypatch.setenv) as faulty:
        yield faulty


def test_slowdown_on_upload_part_is_retried(harness: Harness, proxy: S3FaultProxy) -> None:
    job = harness.together.add_job("Lora", size=4 * PART + 5, model_output_name="slow")
    proxy.faults = [S3Fault("PUT", {"partNumber": "2"}, 503, "SlowDown", times=2)]
    detail = harness.archive(ArchiveRequest(job.id))
    harness.assert_archived(detail, harness.together.archive_for(job.id, "merged"),
                            f"{PREFIX}slow.tar.zst")  # fmt: skip
    assert proxy.faults[0].hits == 2


def test_internal_errors_on_complete_are_retried(harness: Harness, proxy: S3FaultProxy) -> None:
    job = harness.together.add_job("Lora", size=3 * PART, model_output_name="complete")
    proxy.faults = [S3Fault("POST", {"uploadId": "*"}, 500, "InternalError", times=1)]
    detail = harness.archive(ArchiveRequest(job.id))
    harness.assert_archived(detail, harness.together.archive_for(job.id, "merged"),
                            f"{PREFIX}complete.tar.zst")  # fmt: skip
    assert proxy.faults[0].hits == 1


def test_endless_slowdown_fails_cleanly(harness: Harness, proxy: S3FaultProxy) -> None:
    job = harness.together.add_job("Lora", size=4 * PART, model_output_name="never")
    proxy.faults = [S3Fault("PUT", {"partNumber": "3"}, 503, "SlowDown", times=1000)]
    with pytest.raises(StorageError, match="UploadPart 3"):
        harness.archive(ArchiveRequest(job.id))
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert failed["retryable"] is True


@pytest.mark.parametrize(
    "code", ["AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"]
)
def test_access_denied_fails_once_and_is_not_retryable(
    harness: Harness, proxy: S3FaultProxy, code: str
) -> None:
    job = harness.together.add_job("Lora", size=3 * PART, model_output_name=f"denied-{code}")
    proxy.faults = [S3Fault("POST", {"uploads": ""}, 403, code, times=1000)]
    with pytest.raises(StorageAccessDeniedError, match=f"CreateMultipartUpload .*{code}"):
        harness.archive(ArchiveRequest(job.id))
    assert proxy.faults[0].hits == 1
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert (failed["error_type"], failed["retryable"]) == ("StorageAccessDeniedError", False)


def test_a_vanished_upload_starts_again(harness: Harness, proxy: S3FaultProxy) -> None:
    job = harness.together.add_job("Lora", size=5 * PART, model_output_name="again")
    archive = harness.together.archive_for(job.id, "merged")
    proxy.faults = [S3Fault("PUT", {"partNumber": "3"}, 404, "NoSuchUpload", times=1)]
    detail = harness.archive(ArchiveRequest(job.id), FT_ARCHIVER_CONCURRENCY=1)
    harness.assert_archived(detail, archive, f"{PREFIX}again.tar.zst")
    first_part = [r for r in harness.together.blob_requests(archive)
                  if r.range == f"bytes=0-{PART - 1}"]  # fmt: skip
    assert len(first_part) == 2  # the plan ran again from the start


def test_a_stalled_body_is_fetched_again_from_where_it_stopped(harness: Harness) -> None:
    part = 1024 * KIB
    job = harness.together.add_job(
        "Lora", size=4 * part, model_output_name="stall", download="redirect"
    )
    archive = harness.together.archive_for(job.id, "merged")
    harness.together.set_faults(Faults(stall_after_bytes=600_000, stall_s=3, stall_times=1))
    detail = harness.archive(
        ArchiveRequest(job.id), FT_ARCHIVER_READ_TIMEOUT=0.5, FT_ARCHIVER_PART_SIZE=part
    )
    harness.assert_archived(detail, archive, f"{PREFIX}stall.tar.zst")
    starts = [int(r.range.split("=")[1].split("-")[0])
              for r in harness.together.blob_requests(archive) if r.range]  # fmt: skip
    # resumed from the last whole 256 KiB read before the stall, not from the part's start
    assert [s % part for s in starts if s % part] == [2 * 256 * KIB]
