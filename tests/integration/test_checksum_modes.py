"""Stores that are not S3 (issue 19), over real HTTP against moto through a proxy that
plays the store: one that takes the ``x-amz-checksum-*`` headers and ignores them is
stopped at the first part, with nothing left; ChecksumMode none archives to it and
proves the bytes by reading them back, and a read-back that differs removes the object.
Composite and full-object against stores that check them are the conformance suite's
(LocalStack and SeaweedFS).
"""

import json
from collections.abc import Iterator

import pytest

from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver.errors import ChecksumNotKeptError, IntegrityError
from ft_archiver_tools.local.s3_fault_proxy import S3FaultProxy
from tests.support.faults import s3_fault_proxy

from .harness import PREFIX, Harness, run

KIB = 1024
PART = 256 * KIB
SIZES = pytest.mark.parametrize(
    ("size", "write"), [(6 * PART + 5, "UploadPart 1"), (100 * KIB, "PutObject")],
    ids=["multipart", "single"],
)  # fmt: skip


@pytest.fixture
def store(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3FaultProxy]:
    """The archiver's S3 is a store that ignores checksums (the harness's inspector
    still looks at moto itself)."""
    with s3_fault_proxy(harness.aws.endpoint_url, monkeypatch.setenv) as proxy:
        proxy.ignores_checksums = True
        yield proxy


def uploads_sent(proxy: S3FaultProxy) -> list[str]:
    return [path for method, path in proxy.requests if method == "PUT" and "partNumber=" in path]


@SIZES
def test_a_store_that_ignores_checksums_is_stopped_at_the_first_write(
    harness: Harness, store: S3FaultProxy, size: int, write: str
) -> None:
    job = harness.together.add_job("Lora", size=size, model_output_name=f"ignored-{size}")
    key = f"{PREFIX}ignored-{size}.tar.zst"
    with pytest.raises(ChecksumNotKeptError) as stopped:
        harness.archive(ArchiveRequest(job.id))
    message = str(stopped.value)
    assert f"s3://{harness.bucket}/{key}: the store took {write} with CRC64NVME" in message
    assert "did not echo it" in message
    assert "FT_ARCHIVER_CHECKSUM_MODE=none" in message
    assert stopped.value.retryable is False
    # before a second part was sent, and nothing is left: no object, no open upload
    sent = [path.rsplit("partNumber=", 1)[1] for path in uploads_sent(store)]
    assert sent == (["1"] if write.startswith("UploadPart") else [])
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert (failed["error_type"], failed["retryable"]) == ("ChecksumNotKeptError", False)


@SIZES
def test_mode_none_archives_to_such_a_store_and_proves_the_bytes_by_reading_them_back(
    harness: Harness, store: S3FaultProxy, size: int, write: str
) -> None:
    job = harness.together.add_job("Lora", size=size, model_output_name=f"none-{size}")
    archive = harness.together.archive_for(job.id, "merged")
    key = f"{PREFIX}none-{size}.tar.zst"
    detail = harness.archive(ArchiveRequest(job.id), FT_ARCHIVER_CHECKSUM_MODE="none")
    expected = harness.together.sha256(archive)
    assert (detail.key, detail.size, detail.sha256) == (key, archive.size, expected)
    assert detail.proof == "sha256-read-back"
    assert harness.stored.sha256_of(key) == expected
    assert "ChecksumCRC64NVME" not in harness.stored.head(key)  # the store kept none
    assert harness.stored.manifest(f"{key}.manifest.json")["result"]["proof"] == (
        "sha256-read-back"
    )
    reads = [path.split("?")[0] for method, path in store.requests
             if method == "GET" and path.split("?")[0].endswith(".tar.zst")]  # fmt: skip
    assert reads == [f"/{harness.bucket}/{key}"]  # the read-back, once
    events = harness.events.read()
    assert [e["detail-type"] for e in events] == ["Fine-tune Archived"]
    assert events[0]["detail"]["proof"] == "sha256-read-back"
    assert harness.stored.open_uploads() == []


@SIZES
def test_a_read_back_that_differs_removes_the_object_and_announces_no_success(
    harness: Harness, store: S3FaultProxy, size: int, write: str
) -> None:
    job = harness.together.add_job("Lora", size=size, model_output_name=f"rotten-{size}")
    key = f"{PREFIX}rotten-{size}.tar.zst"
    store.corrupts_reads_of = ".tar.zst"
    with pytest.raises(IntegrityError, match=r"read back as SHA-256 .*the object was removed"):
        harness.archive(ArchiveRequest(job.id), FT_ARCHIVER_CHECKSUM_MODE="none")
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert failed["error_type"] == "IntegrityError"
    assert key in failed["error"]


def test_the_default_archive_says_its_proof_is_the_full_object_checksum(
    harness: Harness,
) -> None:
    job = harness.together.add_job("Lora", size=3 * PART, model_output_name="proof")
    detail = harness.archive(ArchiveRequest(job.id))
    assert detail.proof == "full-object-checksum"
    assert harness.stored.manifest(f"{detail.key}.manifest.json")["result"]["proof"] == (
        "full-object-checksum"
    )


# -- the command line ----------------------------------------------------------------------


def test_the_command_against_such_a_store_exits_1_with_one_line_naming_the_mode(
    harness: Harness, store: S3FaultProxy
) -> None:
    job = harness.together.add_job("Lora", size=6 * PART, model_output_name="cli-ignored")
    done = run(harness, "archive", job.id)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "does not keep S3 checksums" in done.stderr
    assert "--checksum-mode none" in done.stderr
    harness.stored.assert_nothing_written()


def test_checksum_mode_none_on_the_command_line(harness: Harness, store: S3FaultProxy) -> None:
    job = harness.together.add_job("Lora", size=6 * PART, model_output_name="cli-none")
    done = run(harness, "archive", job.id, "--checksum-mode", "none", "--json")
    assert done.returncode == 0, done.stderr
    detail = json.loads(done.stdout)
    assert detail["proof"] == "sha256-read-back"
    assert harness.stored.sha256_of(detail["key"]) == detail["sha256"]


def test_checksum_mode_composite_takes_crc32c_and_refuses_crc64nvme(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=6 * PART, model_output_name="cli-composite")
    refused = run(harness, "archive", job.id, "--checksum-mode", "composite",
                  FT_ARCHIVER_CHECKSUM_ALGORITHM="CRC64NVME")  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "composite takes CRC32C or CRC32, not CRC64NVME" in refused.stderr
    bogus = run(harness, "archive", job.id, "--checksum-mode", "partial")
    assert bogus.returncode == 2
    assert "invalid choice: 'partial'" in bogus.stderr
    harness.stored.assert_nothing_written()
