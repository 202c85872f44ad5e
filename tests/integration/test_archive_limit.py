"""MaxArchiveGiB (FT_ARCHIVER_MAX_ARCHIVE_GIB): an archive above it is refused on the
size its Range probe found, before an upload is started or a byte of it moved."""

import pytest

from ft_archiver.domain.parts import GIB
from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver.errors import ArchiveOverLimitError

from .harness import PREFIX, Harness, run

KIB = 1024
LIMIT_GIB = 512 * KIB / GIB  # 512 KiB, as GiB: the simulator's archives are small


def test_an_archive_above_the_limit_is_refused_before_any_byte_moves(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=600 * KIB, model_output_name="too-big")
    archive = harness.together.archive_for(job.id, "merged")
    with pytest.raises(ArchiveOverLimitError) as refused:
        harness.archive(ArchiveRequest(job.id), FT_ARCHIVER_MAX_ARCHIVE_GIB=LIMIT_GIB)
    message = str(refused.value)
    assert f"({600 * KIB:,} bytes)" in message
    assert f"above the limit of {LIMIT_GIB:g} GiB" in message
    assert "MaxArchiveGiB" in message
    assert [r.range for r in harness.together.blob_requests(archive)] == ["bytes=0-1"]
    harness.stored.assert_nothing_written()
    failed = harness.failure_event()
    assert (failed["error_type"], failed["retryable"]) == ("ArchiveOverLimitError", False)
    assert failed["error"] == message


def test_an_archive_at_the_limit_is_archived(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=512 * KIB, model_output_name="just-fits")
    detail = harness.archive(ArchiveRequest(job.id), FT_ARCHIVER_MAX_ARCHIVE_GIB=LIMIT_GIB)
    archive = harness.together.archive_for(job.id, "merged")
    harness.assert_archived(detail, archive, f"{PREFIX}just-fits.tar.zst")


def test_no_limit_at_zero(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=600 * KIB, model_output_name="unlimited")
    detail = harness.archive(ArchiveRequest(job.id), FT_ARCHIVER_MAX_ARCHIVE_GIB=0)
    assert detail.size == 600 * KIB


def test_the_default_limit_is_1024_gib(harness: Harness) -> None:
    assert harness.settings().max_archive_gib == 1024


def test_the_command_line_takes_the_limit_as_a_flag(harness: Harness) -> None:
    job = harness.together.add_job("Lora", size=600 * KIB, model_output_name="cli-too-big")
    done = run(harness, "archive", job.id, "--max-archive-gib", f"{LIMIT_GIB!r}")
    assert done.returncode == 2, done.stderr  # the request's, not the work's: exit 2
    assert "above the limit of" in done.stderr
    harness.stored.assert_nothing_written()
    refused = run(harness, "archive", job.id, "--max-archive-gib", "-1")
    assert refused.returncode == 2
    assert "--max-archive-gib" in refused.stderr
