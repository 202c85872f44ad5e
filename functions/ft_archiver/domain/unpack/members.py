"""Which members of an archive the unpacker writes, and under which S3 key. Pure.

The unpacker reads the tar as a stream: it sees one member header at a time, before
that member's bytes, and can never look ahead or go back. Every rule here is therefore
decided member by member, in archive order, by ``MemberPlanner.admit``:

- **Names.** A name must be UTF-8 (S3 keys are), non-empty, without NUL, control
  characters (they cannot travel in S3's XML listings) or ``\\`` (a separator to
  Windows, where the folder may be synced to). ``./`` and repeated ``/`` are
  normalised away; a name that starts with ``/`` or has a ``..`` component is refused,
  even when the ``..`` would resolve inside the folder: no legitimate model needs one.
- **Types.** Regular files are written; directories write nothing (S3 has none) but
  take part in the top-folder rule. Symbolic and hard links, character and block
  devices, FIFOs and anything else are refused by name: S3 has no links, and a link is
  how a tar escapes the folder it is extracted into.
- **The top-level folder.** An archive of one folder (``tar c model``) is unpacked
  without it: ``model/config.json`` becomes ``config.json``. The rule, decided by the
  first member that is not the archive's root entry (``./``):

  * the first member is the root entry ``./`` (``tar -C dir -c .``): nothing is
    stripped; the archive says its members are the model's root;
  * else the first member is a directory entry, or a file in a folder: its first
    component is the top-level folder, and it is stripped from every member;
  * else (a file at the root) nothing is stripped.

  Once a folder is chosen, a later member outside it is refused, naming the member and
  the folder. A stream cannot know at the first member that a later one will be
  outside, and keeping that member's full path would mix two layouts in one folder (and
  can collide: ``a/b/x`` stripped is ``b/x``, the same key as an unstripped ``b/x``).
  A tar names a folder before its contents, so an archive of one folder always starts
  with it; an archive whose first member is in a folder while others are at the root
  is the rare case refused. ``MemberPlanner(strip_top_folder=False)`` unpacks such an
  archive as it is.
- **Conflicts.** A path already written (the same file twice, which tar allows and
  extracts as "the last wins"), a file where a folder is, or a folder where a file
  is, is refused: the later member would replace or shadow a verified file.
- **Keys** (``layout.py``): ``{unpack_prefix}{archive name without extension}/{path}``,
  at most 1,024 bytes of UTF-8.
- **Limits** (``UnpackLimits``): the number of files, and the decompressed total
  relative to the archive's compressed size, so that a decompression bomb fails
  cleanly, before its bytes are written: a member's size is in its header, read
  before its data, and the decompressed stream as a whole (tar headers, padding, and
  anything a member does not account for) is checked by ``check_stream``.

Every refusal is an ``UnpackRefusedError`` subclass (ft_archiver/errors.py) whose
message names the member and the rule or limit.

Source: POSIX.1-2001 ``ustar`` typeflags (the ``pax`` specification), which Python's
``tarfile`` exposes as ``TarInfo.type``.
"""

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from ft_archiver.domain.parts import GIB
from ft_archiver.domain.unpack.layout import UnpackLayout, shown
from ft_archiver.errors import (
    AbsoluteMemberPathError,
    DecompressionBombError,
    InvalidMemberNameError,
    LinkMemberError,
    MemberConflictError,
    MemberOutsideTopFolderError,
    MemberPathTraversalError,
    SpecialMemberError,
    TooManyFilesError,
)


class MemberType(StrEnum):
    """What a tar member is, as far as the unpacker cares."""

    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR_DEVICE = "char_device"
    BLOCK_DEVICE = "block_device"
    FIFO = "fifo"
    OTHER = "other"


# POSIX ustar typeflags (tarfile's REGTYPE, AREGTYPE, CONTTYPE, ...); GNU's sparse file
# ('S') is a regular file to tarfile, which reassembles it. Anything else (GNU volume
# headers, multivolume continuations, vendor types) is OTHER, and refused. pax and GNU
# long-name headers never reach us: tarfile folds them into the member they describe.
_TYPEFLAGS: dict[bytes, MemberType] = {
    b"0": MemberType.FILE,
    b"\x00": MemberType.FILE,
    b"7": MemberType.FILE,
    b"S": MemberType.FILE,
    b"5": MemberType.DIRECTORY,
    b"2": MemberType.SYMLINK,
    b"1": MemberType.HARDLINK,
    b"3": MemberType.CHAR_DEVICE,
    b"4": MemberType.BLOCK_DEVICE,
    b"6": MemberType.FIFO,
}

_REFUSED_TYPES: dict[MemberType, str] = {
    MemberType.SYMLINK: "a symbolic link: archives with links are not unpacked",
    MemberType.HARDLINK: "a hard link: archives with links are not unpacked",
    MemberType.CHAR_DEVICE: "a character device: only files and folders are unpacked",
    MemberType.BLOCK_DEVICE: "a block device: only files and folders are unpacked",
    MemberType.FIFO: "a FIFO (named pipe): only files and folders are unpacked",
    MemberType.OTHER: "neither a file nor a folder: only files and folders are unpacked",
}
_LINKS = frozenset({MemberType.SYMLINK, MemberType.HARDLINK})


def member_type(typeflag: bytes) -> MemberType:
    """The kind of member a tar header's typeflag (``TarInfo.type``) announces."""
    return _TYPEFLAGS.get(typeflag, MemberType.OTHER)


def _text(name: str | bytes) -> str:
    """The name as text, refusing what is not UTF-8. ``tarfile`` decodes names with
    ``surrogateescape``, so a name that was not UTF-8 in the archive arrives with lone
    surrogates, which no S3 key can hold."""
    try:
        if isinstance(name, bytes):
            return name.decode("utf-8")
        name.encode("utf-8")
    except UnicodeError:
        raise InvalidMemberNameError(
            f"member {shown(name)} has a name that is not valid UTF-8, which an S3 key must be"
        ) from None
    return name


def member_path(name: str | bytes) -> tuple[str, ...]:
    """The components of a member's path, normalised (``./`` and repeated or trailing
    ``/`` dropped), or the reason it may not be unpacked. The archive's root entry
    (``./``) has no components."""
    text = _text(name)
    if not text:
        raise InvalidMemberNameError("member '' has an empty name")
    if "\x00" in text:
        raise InvalidMemberNameError(f"member {shown(text)} has a NUL character in its name")
    if text.startswith("/"):
        raise AbsoluteMemberPathError(
            f"member {shown(text)} has an absolute path: only paths inside the archive's "
            "folder are unpacked"
        )
    if "\\" in text:
        raise InvalidMemberNameError(
            f"member {shown(text)} has a '\\' in its name, a path separator on Windows; "
            "archives with such names are not unpacked"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidMemberNameError(
            f"member {shown(text)} has a control character in its name, which S3 keys "
            "cannot carry safely"
        )
    parts = tuple(part for part in text.split("/") if part not in ("", "."))
    if ".." in parts:
        raise MemberPathTraversalError(
            f"member {shown(text)} has a '..' component: paths that climb out of a "
            "folder are not unpacked"
        )
    return parts


@dataclass(frozen=True)
class UnpackLimits:
    """How much an archive may unpack to.

    ``max_files``: regular files (directory entries write nothing and do not count).
    ``max_expansion``: the decompressed stream may be at most this many times the
    archive's compressed size, but never less than ``expansion_floor``, so that a tiny
    archive of text files is not refused for compressing well. Model weights (bf16,
    fp32) compress 1.1 to 1.5 times; tokenizers and configs a few times, and they are
    small beside the weights. 20 leaves wide room for real models; a decompression
    bomb expands thousands of times.
    """

    max_files: int = 100_000
    max_expansion: int = 20
    expansion_floor: int = GIB

    def __post_init__(self) -> None:
        if self.max_files < 1 or self.max_expansion < 1 or self.expansion_floor < 0:
            raise ValueError(
                "UnpackLimits needs max_files >= 1, max_expansion >= 1, expansion_floor >= 0"
            )

    def allowed_bytes(self, archive_size: int) -> int:
        """The most an archive of ``archive_size`` compressed bytes may decompress to."""
        return max(archive_size * self.max_expansion, self.expansion_floor)


@dataclass(frozen=True)
class Placement:
    """A member accepted for writing: its name in the archive, its path in the folder,
    its object key and its size (from its tar header)."""

    member: str
    path: str
    key: str
    size: int


class MemberPlanner:
    """Admits an archive's members one at a time, in archive order, and says where each
    goes (module docstring: the rules). One planner per pass over one archive; a
    continuation that decompresses from the start again starts a new one, and reaches
    the same answers, since they depend only on the members in order."""

    def __init__(
        self,
        layout: UnpackLayout,
        archive_size: int,
        limits: UnpackLimits | None = None,
        *,
        strip_top_folder: bool = True,
    ) -> None:
        if archive_size < 0:
            raise ValueError("archive_size must not be negative")
        self.layout = layout
        self.archive_size = archive_size
        self.limits = limits or UnpackLimits()
        self.allowed_bytes = self.limits.allowed_bytes(archive_size)
        self._decided = not strip_top_folder
        self._top: str | None = None
        self._first: str | None = None  # the member that chose the top folder
        self._files: set[str] = set()
        self._folders: set[str] = set()
        self.file_count = 0
        self.total_bytes = 0

    @property
    def top_folder(self) -> str | None:
        """The top-level folder being stripped, once decided; None when none is."""
        return self._top

    def admit(self, name: str | bytes, kind: MemberType, size: int) -> Placement | None:
        """Where the member goes, None for a member that writes nothing (a directory),
        or an ``UnpackRefusedError`` saying why the archive cannot be unpacked."""
        parts = member_path(name)
        text = _text(name)
        if kind in _REFUSED_TYPES:
            raise (LinkMemberError if kind in _LINKS else SpecialMemberError)(
                f"member {shown(text)} is {_REFUSED_TYPES[kind]}"
            )
        if size < 0:
            raise ValueError(f"member {shown(text)} has a negative size")
        is_dir = kind is MemberType.DIRECTORY
        if not parts:  # the root entry './'
            if not is_dir:
                raise InvalidMemberNameError(f"member {shown(text)} names no file")
            self._decided = True
            return None
        relative = self._strip(text, parts, is_dir)
        if is_dir:
            path = "/".join(relative)
            if path in self._files:
                raise MemberConflictError(
                    f"member {shown(text)} is a folder where an earlier member is the file "
                    f"{shown(path)}"
                )
            return None
        return self._admit_file(text, "/".join(relative), size)

    def _strip(self, text: str, parts: tuple[str, ...], is_dir: bool) -> tuple[str, ...]:
        if not self._decided:
            self._decided = True
            if is_dir or len(parts) > 1:
                self._top, self._first = parts[0], text
        if self._top is None:
            return parts
        if parts[0] != self._top or (len(parts) == 1 and not is_dir):
            raise MemberOutsideTopFolderError(
                f"member {shown(text)} is outside the folder {shown(self._top + '/')} that "
                f"the first member {shown(self._first or '')} made the archive's top-level "
                "folder; an archive is unpacked without its top-level folder only when "
                "every member is inside it"
            )
        return parts[1:]

    def _admit_file(self, text: str, path: str, size: int) -> Placement:
        if path in self._files:
            raise MemberConflictError(
                f"member {shown(text)} is the file {shown(path)} a second time; the later "
                "copy would replace the earlier one"
            )
        if path in self._folders:
            raise MemberConflictError(
                f"member {shown(text)} is a file where earlier members have the folder "
                f"{shown(path + '/')}"
            )
        ancestors = _ancestors(path)
        for folder in ancestors:
            if folder in self._files:
                raise MemberConflictError(
                    f"member {shown(text)} is inside {shown(folder + '/')}, which an earlier "
                    "member is a file of that name"
                )
        if self.file_count + 1 > self.limits.max_files:
            raise TooManyFilesError(
                f"member {shown(text)} would be file number {self.file_count + 1}, over the "
                f"limit of {self.limits.max_files} files (UnpackLimits.max_files)"
            )
        if self.total_bytes + size > self.allowed_bytes:
            raise DecompressionBombError(
                f"member {shown(text)} ({size} bytes) would bring the unpacked total to "
                f"{self.total_bytes + size} bytes, over the limit of {self.allowed_bytes} "
                f"({self._limit_words()})"
            )
        key = self.layout.key(path, text)
        self._files.add(path)
        self._folders.update(ancestors)
        self.file_count += 1
        self.total_bytes += size
        return Placement(text, path, key, size)

    def check_stream(self, decompressed_bytes: int) -> None:
        """Refuse the archive once its decompressed stream (everything the decompressor
        has produced: members, tar headers, padding) is over the limit. The stream
        reader calls this as it goes, so that what no member header accounts for is
        bounded too."""
        if decompressed_bytes > self.allowed_bytes:
            raise DecompressionBombError(
                f"the archive has decompressed to {decompressed_bytes} bytes, over the limit "
                f"of {self.allowed_bytes} ({self._limit_words()})"
            )

    def _limit_words(self) -> str:
        limits = self.limits
        return (
            f"UnpackLimits.max_expansion {limits.max_expansion} times the archive's "
            f"{self.archive_size} compressed bytes, at least expansion_floor "
            f"{limits.expansion_floor}: a decompression bomb"
        )


def _ancestors(path: str) -> list[str]:
    """``a/b/c`` -> ``['a', 'a/b']``: the folders a file at ``path`` implies."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
