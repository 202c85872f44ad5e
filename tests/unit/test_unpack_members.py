"""Which tar members the unpacker writes and where: traversal, links and devices refused
by name, the top-level folder rule, S3's key limit at the byte, and the limits that stop
a decompression bomb, at their boundaries."""

import posixpath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ft_archiver.domain.unpack.layout import (
    UnpackLayout,
    archive_stem,
    folder_prefix,
    unpack_layout,
)
from ft_archiver.domain.unpack.members import (
    MemberPlanner,
    MemberType,
    Placement,
    UnpackLimits,
    member_path,
    member_type,
)
from ft_archiver.errors import (
    AbsoluteMemberPathError,
    DecompressionBombError,
    InvalidMemberNameError,
    LinkMemberError,
    MemberConflictError,
    MemberOutsideTopFolderError,
    MemberPathTraversalError,
    RuleError,
    SpecialMemberError,
    TooManyFilesError,
    UnpackKeyTooLongError,
    UnpackRefusedError,
    UnsupportedArchiveNameError,
)

PREFIX = "models/"
ARCHIVE = "acme--llama-3-8b-ft.tar.zst"
FOLDER = "models/acme--llama-3-8b-ft/"
FILE, DIR = MemberType.FILE, MemberType.DIRECTORY
PROPERTIES = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def planner(
    archive_size: int = 10**9, limits: UnpackLimits | None = None, *, strip_top_folder: bool = True
) -> MemberPlanner:
    layout = unpack_layout(PREFIX, ARCHIVE)
    return MemberPlanner(layout, archive_size, limits, strip_top_folder=strip_top_folder)


def unpack(members: list[tuple[str, MemberType, int]], *, strip: bool = True) -> list[Placement]:
    plan = planner(strip_top_folder=strip)
    return [p for m in members if (p := plan.admit(*m)) is not None]


def paths(members: list[tuple[str, MemberType, int]], *, strip: bool = True) -> list[str]:
    return [p.path for p in unpack(members, strip=strip)]


# --- names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("../x", MemberPathTraversalError, "'..' component"),
        ("a/../../x", MemberPathTraversalError, "'..' component"),
        ("a/../b", MemberPathTraversalError, "'..' component"),  # even when it stays inside
        ("./..", MemberPathTraversalError, "'..' component"),
        ("/etc/passwd", AbsoluteMemberPathError, "absolute path"),
        ("//etc/passwd", AbsoluteMemberPathError, "absolute path"),
        ("", InvalidMemberNameError, "empty name"),
        ("a\x00b", InvalidMemberNameError, "NUL"),
        ("a\\..\\..\\x", InvalidMemberNameError, "'\\'"),
        ("a/b\nc", InvalidMemberNameError, "control character"),
        ("a/\x7fb", InvalidMemberNameError, "control character"),
    ],
)
def test_unsafe_names_are_refused_by_name(
    name: str, error: type[UnpackRefusedError], words: str
) -> None:
    with pytest.raises(error) as refused:
        planner().admit(name, FILE, 1)
    assert words in str(refused.value)
    if name:
        assert repr(name) in str(refused.value)


def test_names_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(InvalidMemberNameError, match="not valid UTF-8"):
        planner().admit(b"model/\xff.bin", FILE, 1)
    # tarfile decodes names with surrogateescape: what was not UTF-8 arrives as surrogates
    escaped = b"model/\xff.bin".decode("utf-8", "surrogateescape")
    with pytest.raises(InvalidMemberNameError, match=r"'model/\\\\xff.bin'.*not valid UTF-8"):
        planner().admit(escaped, FILE, 1)


def test_any_lone_surrogate_is_refused_with_a_readable_message() -> None:
    with pytest.raises(InvalidMemberNameError, match=r"'a\\\\xed\\\\xa0\\\\x80b'"):
        planner().admit("a\ud800b", FILE, 1)


def test_utf8_bytes_are_names_like_text() -> None:
    assert member_path("modèle/config.json".encode()) == ("modèle", "config.json")


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("./a/./b", ("a", "b")),
        ("a//b///c", ("a", "b", "c")),
        ("a/b/", ("a", "b")),
        ("./", ()),
        (".", ()),
        ("..a/b..", ("..a", "b..")),  # dots inside a component are just characters
    ],
)
def test_paths_are_normalised(name: str, parts: tuple[str, ...]) -> None:
    assert member_path(name) == parts


def test_a_long_name_is_cut_short_in_the_message() -> None:
    name = "../" + "x" * 100_000
    with pytest.raises(MemberPathTraversalError) as refused:
        planner().admit(name, FILE, 1)
    assert len(str(refused.value)) < 500
    assert "100003 characters" in str(refused.value)


# --- types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        (MemberType.SYMLINK, LinkMemberError, "is a symbolic link: archives with links"),
        (MemberType.HARDLINK, LinkMemberError, "is a hard link: archives with links"),
        (MemberType.CHAR_DEVICE, SpecialMemberError, "is a character device"),
        (MemberType.BLOCK_DEVICE, SpecialMemberError, "is a block device"),
        (MemberType.FIFO, SpecialMemberError, "is a FIFO"),
        (MemberType.OTHER, SpecialMemberError, "is neither a file nor a folder"),
    ],
)
def test_links_devices_and_fifos_are_refused_by_name(
    kind: MemberType, error: type[UnpackRefusedError], words: str
) -> None:
    plan = planner()
    plan.admit("model/", DIR, 0)
    with pytest.raises(error) as refused:
        plan.admit("model/x", kind, 0)
    assert str(refused.value).startswith(f"member 'model/x' {words}")


def test_the_symlink_message_reads_as_promised() -> None:
    with pytest.raises(LinkMemberError) as refused:
        planner().admit("model/x", MemberType.SYMLINK, 0)
    assert str(refused.value) == (
        "member 'model/x' is a symbolic link: archives with links are not unpacked"
    )


@pytest.mark.parametrize(
    ("flag", "kind"),
    [
        (b"0", FILE), (b"\x00", FILE), (b"7", FILE), (b"S", FILE), (b"5", DIR),
        (b"2", MemberType.SYMLINK), (b"1", MemberType.HARDLINK),
        (b"3", MemberType.CHAR_DEVICE), (b"4", MemberType.BLOCK_DEVICE),
        (b"6", MemberType.FIFO), (b"V", MemberType.OTHER), (b"x", MemberType.OTHER),
    ],
)  # fmt: skip
def test_tar_typeflags(flag: bytes, kind: MemberType) -> None:
    assert member_type(flag) is kind


# --- the top-level folder -----------------------------------------------------------


def test_a_single_top_folder_is_stripped() -> None:
    members = [
        ("model/", DIR, 0),
        ("model/config.json", FILE, 10),
        ("model/sub/", DIR, 0),
        ("./model/sub/x.safetensors", FILE, 20),
    ]
    placed = unpack(members)
    assert [p.key for p in placed] == [FOLDER + "config.json", FOLDER + "sub/x.safetensors"]
    assert [p.member for p in placed] == ["model/config.json", "./model/sub/x.safetensors"]


def test_a_folder_is_stripped_when_the_first_member_is_a_file_inside_it() -> None:
    members = [("model/config.json", FILE, 1), ("model/tokenizer.json", FILE, 1)]
    assert paths(members) == ["config.json", "tokenizer.json"]


def test_nothing_is_stripped_when_the_first_member_is_at_the_root() -> None:
    members = [("config.json", FILE, 1), ("original/", DIR, 0), ("original/params.json", FILE, 1)]
    assert paths(members) == ["config.json", "original/params.json"]


def test_nothing_is_stripped_from_an_archive_of_dot() -> None:
    """``tar -C dir -c .``: the root entry comes first, and any order may follow."""
    members = [
        ("./", DIR, 0),
        ("./original/", DIR, 0),
        ("./original/params.json", FILE, 1),
        ("./config.json", FILE, 1),
    ]
    assert paths(members) == ["original/params.json", "config.json"]


def test_a_member_outside_the_first_folder_is_refused_by_name() -> None:
    plan = planner()
    plan.admit("model/config.json", FILE, 1)
    assert plan.top_folder == "model"
    with pytest.raises(MemberOutsideTopFolderError) as refused:
        plan.admit("tokenizer.json", FILE, 1)
    message = str(refused.value)
    assert "member 'tokenizer.json' is outside the folder 'model/'" in message
    assert "the first member 'model/config.json'" in message


def test_a_second_top_folder_is_refused() -> None:
    plan = planner()
    plan.admit("model/", DIR, 0)
    with pytest.raises(MemberOutsideTopFolderError, match="member 'other/x'"):
        plan.admit("other/x", FILE, 1)


def test_a_file_named_like_the_top_folder_is_outside_it() -> None:
    plan = planner()
    plan.admit("model/", DIR, 0)
    plan.admit("model/", DIR, 0)  # the folder again is inside
    with pytest.raises(MemberOutsideTopFolderError, match="member 'model'"):
        plan.admit("model", FILE, 1)


def test_stripping_can_be_turned_off() -> None:
    members = [("model/config.json", FILE, 1), ("tokenizer.json", FILE, 1)]
    assert paths(members, strip=False) == ["model/config.json", "tokenizer.json"]
    assert planner(strip_top_folder=False).top_folder is None


def test_a_root_entry_that_is_a_file_is_refused() -> None:
    with pytest.raises(InvalidMemberNameError, match="names no file"):
        planner().admit("./", FILE, 1)


# --- conflicts ----------------------------------------------------------------------


def test_the_same_file_twice_is_refused() -> None:
    plan = planner()
    plan.admit("config.json", FILE, 1)
    with pytest.raises(MemberConflictError, match="a second time"):
        plan.admit("./config.json", FILE, 1)


def test_a_file_where_a_folder_is_and_the_reverse_are_refused() -> None:
    plan = planner()
    plan.admit("config.json", FILE, 1)
    plan.admit("a/b/c", FILE, 1)
    with pytest.raises(MemberConflictError, match="earlier members have the folder 'a/b/'"):
        plan.admit("a/b", FILE, 1)
    with pytest.raises(MemberConflictError, match=r"inside 'config\.json/'"):
        plan.admit("config.json/x", FILE, 1)
    with pytest.raises(MemberConflictError, match="a folder where an earlier member is"):
        plan.admit("a/b/c/", DIR, 0)


# --- keys ---------------------------------------------------------------------------


def test_layout_names_the_folder_and_its_index_beside_it() -> None:
    layout = unpack_layout(PREFIX, "models/" + ARCHIVE)
    assert layout.folder == FOLDER
    assert layout.index_key == "models/acme--llama-3-8b-ft.files.json"
    assert archive_stem("m-adapter.tar.gz") == "m-adapter"


@pytest.mark.parametrize("name", ["m.zip", "m.tar", ".tar.zst", "m.tar.zst/", "m.tgz"])
def test_other_archive_names_are_refused(name: str) -> None:
    with pytest.raises(UnsupportedArchiveNameError):
        archive_stem(name)


@pytest.mark.parametrize("char", ["a", "é", "€", "𝄞"])  # 1, 2, 3 and 4 bytes in UTF-8
def test_a_key_of_exactly_1024_bytes_is_accepted_and_one_more_is_not(char: str) -> None:
    room = 1024 - len(FOLDER.encode())
    width = len(char.encode())
    # `room` bytes of path: as many `char` as fit, topped up with ASCII
    name = char * (room // width) + "x" * (room % width)
    assert len((FOLDER + name).encode()) == 1024
    placed = planner().admit(name, FILE, 1)
    assert placed is not None
    assert placed.key == FOLDER + name
    # one byte over: a character more than fits, whatever its width
    over = char * (room // width) + "x" * (room % width + 1)
    with pytest.raises(UnpackKeyTooLongError) as refused:
        planner().admit(over, FILE, 1)
    assert "1025 bytes in UTF-8, over S3's limit of 1024" in str(refused.value)
    if width > 1:
        multibyte = char * (room // width + 1)  # fits in characters, not in bytes
        assert len(FOLDER + multibyte) <= 1024 < len((FOLDER + multibyte).encode())
        with pytest.raises(UnpackKeyTooLongError):
            planner().admit(multibyte, FILE, 1)


def test_a_folder_too_long_for_its_index_is_refused_up_front() -> None:
    stem = "m" * (1024 - len(PREFIX) - len(".files.json") + 1)
    with pytest.raises(UnpackKeyTooLongError, match="index key"):
        UnpackLayout(PREFIX, stem)


# --- limits -------------------------------------------------------------------------


def test_the_file_count_limit_at_its_boundary() -> None:
    plan = planner(limits=UnpackLimits(max_files=3))
    plan.admit("model/", DIR, 0)
    for name in ("a", "b", "c"):
        plan.admit(f"model/{name}", FILE, 1)
        plan.admit(f"model/{name}-dir/", DIR, 0)  # folders do not count
    assert plan.file_count == 3
    with pytest.raises(TooManyFilesError) as refused:
        plan.admit("model/d", FILE, 1)
    assert "member 'model/d' would be file number 4" in str(refused.value)
    assert "limit of 3 files" in str(refused.value)


def test_the_expansion_limit_at_its_boundary() -> None:
    limits = UnpackLimits(max_expansion=2, expansion_floor=0)
    plan = planner(archive_size=100, limits=limits)
    assert plan.allowed_bytes == 200
    plan.admit("a", FILE, 150)
    plan.admit("b", FILE, 50)  # exactly 200
    plan.admit("c", FILE, 0)
    with pytest.raises(DecompressionBombError) as refused:
        plan.admit("d", FILE, 1)
    message = str(refused.value)
    assert "member 'd' (1 bytes)" in message
    assert "201 bytes, over the limit of 200" in message
    assert "max_expansion 2" in message
    plan.check_stream(200)
    with pytest.raises(DecompressionBombError, match="decompressed to 201 bytes"):
        plan.check_stream(201)


def test_a_single_huge_member_is_refused_before_its_bytes() -> None:
    plan = planner(archive_size=1_000_000)  # a 1 MB archive with a 1 TB member
    with pytest.raises(DecompressionBombError, match=r"member 'model\.safetensors'"):
        plan.admit("model.safetensors", FILE, 10**12)


def test_small_archives_get_the_floor() -> None:
    limits = UnpackLimits(max_expansion=20, expansion_floor=1000)
    assert limits.allowed_bytes(10) == 1000
    assert limits.allowed_bytes(100) == 2000


@pytest.mark.parametrize(
    "kwargs", [{"max_files": 0}, {"max_expansion": 0}, {"expansion_floor": -1}]
)
def test_limits_refuse_nonsense(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="UnpackLimits"):
        UnpackLimits(**kwargs)


def test_refusals_are_rule_errors_and_never_retried() -> None:
    refusals = (MemberPathTraversalError, LinkMemberError, DecompressionBombError,
                TooManyFilesError, UnpackKeyTooLongError, MemberOutsideTopFolderError)  # fmt: skip
    for error in refusals:
        assert issubclass(error, UnpackRefusedError)
        assert issubclass(error, RuleError)
        assert error.retryable is False


# --- properties ---------------------------------------------------------------------

components = st.sampled_from(["a", "b", "é", "..", ".", "", "x.safetensors", "\\", "\x00", "~"])
names = st.builds("/".join, st.lists(components, min_size=1, max_size=6)) | st.text(max_size=30)
sizes = st.integers(0, 99)
hostile = st.tuples(names, st.sampled_from([FILE, DIR, MemberType.SYMLINK]), sizes)


def plausible(lead: str) -> st.SearchStrategy[tuple[str, MemberType, int]]:
    """Members an archive of one layout has: all under ``lead``, files and folders."""
    parts = st.lists(st.sampled_from(["a", "b", "é", "config.json", "x.safetensors"]),
                     min_size=1, max_size=3)  # fmt: skip
    name = st.builds(lambda p, trail: lead + "/".join(p) + trail, parts, st.sampled_from(["", "/"]))
    return st.tuples(name, st.sampled_from([FILE, FILE, DIR]), sizes)


# An archive of one layout with, at times, one hostile member somewhere in it.
archives = st.sampled_from(["", "./", "model/", "./model/"]).flatmap(
    lambda lead: st.builds(
        lambda listing, extra, at: listing[:at] + extra + listing[at:],
        st.lists(plausible(lead), max_size=10),
        st.lists(hostile, max_size=1),
        st.integers(0, 10),
    )
)


def inside(folder: str, key: str) -> bool:
    """What a consumer that syncs the folder to disk would make of the key."""
    resolved = posixpath.normpath("/" + key)
    return resolved.startswith("/" + folder) and key == posixpath.normpath(key)


@PROPERTIES
@given(names)
def test_no_accepted_name_yields_a_key_outside_the_folder(name: str) -> None:
    try:
        placed = planner().admit(name, FILE, 1)
    except UnpackRefusedError as refused:
        message = str(refused)
    else:
        message = ""
    if message:
        assert message.startswith("member ")
        return
    assert placed is not None
    assert placed.key == FOLDER + placed.path
    assert inside(FOLDER, placed.key)
    assert all(part not in ("", ".", "..") for part in placed.path.split("/"))


@PROPERTIES
@given(archives, st.booleans())
def test_any_archive_is_refused_or_lands_inside_its_folder_once(
    listing: list[tuple[str, MemberType, int]], strip: bool
) -> None:
    def run() -> list[Placement] | str:
        plan = planner(strip_top_folder=strip)
        placed: list[Placement] = []
        try:
            for member in listing:
                if (placement := plan.admit(*member)) is not None:
                    placed.append(placement)
        except UnpackRefusedError as refused:
            return type(refused).__name__
        return placed

    first = run()
    assert run() == first  # a continuation that starts again reaches the same answers
    if isinstance(first, str):
        return
    keys = [p.key for p in first]
    assert len(keys) == len(set(keys))
    assert all(inside(FOLDER, key) for key in keys)
    files = set(keys)
    for key in keys:  # no file is also a folder of another
        parent = posixpath.dirname(key)
        while parent + "/" != FOLDER:
            assert parent not in files
            parent = posixpath.dirname(parent)


@pytest.mark.parametrize(
    ("key", "archive_prefix", "unpack_prefix", "expected"),
    [
        ("models/x.tar.zst", "models/", None, "models/"),  # beside the archive
        ("x.tar.zst", "", None, ""),
        ("models/x.tar.zst", "models/", "unpacked/", "unpacked/"),
        ("models/a/x.tar.zst", "models/", "unpacked/", "unpacked/a/"),  # a/x and b/x apart
        ("models/b/x.tar.zst", "models/", "unpacked/", "unpacked/b/"),
        ("models/a/x.tar.zst", "models/", "models/", "models/a/"),  # the stack's default
        ("team/x.tar.zst", "", "unpacked/", "unpacked/team/"),
        ("other/x.tar.zst", "models/", "unpacked/", "unpacked/"),  # not under the prefix
        ("models-a/x.tar.zst", "models-", "u/", "u/a/"),  # a prefix without '/'
        ("models-x.tar.zst", "models-", "u/", "u/"),
    ],
)
def test_the_folder_keeps_the_archives_sub_folders(
    key: str, archive_prefix: str, unpack_prefix: str | None, expected: str
) -> None:
    assert folder_prefix(key, archive_prefix, unpack_prefix) == expected
