"""The resume and completeness rules of the unpacker (domain/unpack/resume.py) as tables:
what an earlier run's index proves, which upload a stopped run's index names, and which
files an incomplete index lists."""

from datetime import UTC, datetime
from typing import Any

import pytest

from ft_archiver.domain.unpack.index import (
    IndexedFile,
    IndexStatus,
    OpenUpload,
    SourceArchive,
    UnpackIndex,
    build_index,
)
from ft_archiver.domain.unpack.members import Placement
from ft_archiver.domain.unpack.resume import earlier_run, left_open, reusable, verified_files

SOURCE = SourceArchive(bucket="b", key="models/m.tar.zst", version_id="v1", etag='"e"',
                       size=1000, sha256="ab" * 32)  # fmt: skip
FOLDER = "models/m/"


def file(path: str, size: int = 10) -> IndexedFile:
    return IndexedFile(path=path, key=f"{FOLDER}{path}", size=size, sha256="cd" * 32,
                       checksum="AAAAAAAAAAA=", version_id=None, parts=1)  # fmt: skip


def upload(path: str) -> OpenUpload:
    return OpenUpload(path=path, key=f"{FOLDER}{path}", size=100, part_size=10,
                      upload_id=f"u-{path}", parts_done=3, digest_state="",
                      prefix_crc=0)  # fmt: skip


def index(status: IndexStatus = "incomplete", **change: Any) -> UnpackIndex:
    fields: dict[str, Any] = {
        "status": status, "bucket": "b", "folder": FOLDER, "archive": SOURCE,
        "checksum_algorithm": "CRC64NVME", "files": [file("a"), file("b")], "readiness": None,
        "error": None, "unpacked_by": "ft-archiver 0", "updated_at": datetime.now(UTC),
        "open_upload": upload("c"),
    }  # fmt: skip
    return build_index(**{**fields, **change})


OTHER_VERSION = SOURCE.model_copy(update={"version_id": "v2"})
OTHER_ETAG = SOURCE.model_copy(update={"etag": '"f"'})
# (case, earlier index, trusted keys, resumed upload, stale upload, complete)
EARLIER: list[tuple[str, UnpackIndex | None, set[str], str | None, str | None, bool]] = [
    ("no index", None, set(), None, None, False),
    ("an incomplete index of these bytes", index(), {f"{FOLDER}a", f"{FOLDER}b"}, "c", None,
     False),
    ("a complete index of these bytes", index("complete", open_upload=None),
     {f"{FOLDER}a", f"{FOLDER}b"}, None, None, True),
    ("an index of another version", index(archive=OTHER_VERSION), set(), None, "c", False),
    ("an index of another ETag", index(archive=OTHER_ETAG), set(), None, "c", False),
    ("an index of another folder", index(folder="models/n/"), set(), None, "c", False),
    ("an index of another checksum", index(checksum_algorithm="CRC32C"), set(), None, "c",
     False),
    ("a complete index of other bytes", index("complete", archive=OTHER_VERSION,
     open_upload=None), set(), None, None, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("found", "trusted", "resumed", "stale", "complete"),
    [case[1:] for case in EARLIER],
    ids=[case[0] for case in EARLIER],
)
def test_what_an_earlier_index_proves(
    found: UnpackIndex | None, trusted: set[str], resumed: str | None, stale: str | None,
    complete: bool,
) -> None:  # fmt: skip
    earlier = earlier_run(found, SOURCE, FOLDER, "CRC64NVME")
    assert earlier.index is found
    assert set(earlier.trusted) == trusted
    assert (earlier.resumed_upload.path if earlier.resumed_upload else None) == resumed
    assert (earlier.stale_upload.path if earlier.stale_upload else None) == stale
    assert earlier.complete is complete


# (case, upload this run stopped in, earlier run's open upload, taken up, what is named)
LEFT_OPEN: list[tuple[str, str | None, str | None, bool, str | None]] = [
    ("stopped in a file, nothing earlier", "x", None, False, "x"),
    ("stopped in a file after taking up the earlier one", "x", "c", True, "x"),
    ("stopped in a file before reaching the earlier one", "x", "c", False, "x"),
    ("stopped between files, the earlier one not reached", None, "c", False, "c"),
    ("stopped between files, the earlier one taken up", None, "c", True, None),
    ("stopped between files, nothing open", None, None, False, None),
]


@pytest.mark.parametrize(
    ("stopped_in", "resumed", "took", "named"),
    [case[1:] for case in LEFT_OPEN],
    ids=[case[0] for case in LEFT_OPEN],
)
def test_which_upload_a_stopped_runs_index_names(
    stopped_in: str | None, resumed: str | None, took: bool, named: str | None
) -> None:
    found = left_open(
        upload(stopped_in) if stopped_in else None, upload(resumed) if resumed else None, took
    )
    assert (found.path if found else None) == named


def test_an_incomplete_index_lists_this_runs_files_then_the_earlier_runs_not_reached() -> None:
    trusted = {entry.key: entry for entry in (file("a"), file("b"), file("z"))}
    listed = verified_files([file("b"), file("new")], trusted)
    assert [entry.path for entry in listed] == ["b", "new", "a", "z"]


@pytest.mark.parametrize(
    ("path", "size", "expected"),
    [("a", 10, True), ("a", 11, False), ("other", 10, False)],
    ids=["same path and size", "another size", "another path"],
)
def test_a_trusted_file_stands_for_a_member_of_its_path_and_size(
    path: str, size: int, expected: bool
) -> None:
    placement = Placement(member=f"m/{path}", path=path, key=f"{FOLDER}a", size=size)
    assert reusable(file("a"), placement) is expected
    assert reusable(None, placement) is False
