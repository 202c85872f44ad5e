"""Where an unpacked archive goes: its folder and index keys from the archive's name, and
member names fit for a message. Pure.

A file's key is ``{unpack_prefix}{archive name without .tar.zst/.tar.gz}/{relative
path}``, at most 1,024 bytes of UTF-8 (S3's limit); the folder's index sits beside the
folder, not in it, at ``{unpack_prefix}{archive name without extension}.files.json``.

Source: S3 object key limits, "Naming Amazon S3 objects"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
"""

from dataclasses import dataclass

from ft_archiver.domain.naming import S3_MAX_KEY_BYTES
from ft_archiver.errors import UnpackKeyTooLongError, UnsupportedArchiveNameError

ARCHIVE_EXTENSIONS = (".tar.zst", ".tar.gz")
INDEX_SUFFIX = ".files.json"
# A name is shown in a message at most this long: a message goes into an EventBridge
# event (256 KB) and a log line, and a hostile name can be as long as a pax header.
SHOWN_NAME_CHARS = 200


def shown(name: str | bytes) -> str:
    """A member's name fit for a message: quoted, undecodable bytes escaped, and cut
    short when long, so that no name can flood an event or a log line."""
    if isinstance(name, bytes):
        raw = name
    else:
        try:  # the bytes tarfile read, when it decoded them with surrogateescape
            raw = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # surrogates of another origin
            raw = name.encode("utf-8", "surrogatepass")
    text = raw.decode("utf-8", "backslashreplace")
    if len(text) > SHOWN_NAME_CHARS:
        text = f"{text[:SHOWN_NAME_CHARS]}… ({len(text)} characters)"
    return repr(text)


def is_archive_name(archive_name: str) -> bool:
    """Whether the name (or a key's last segment) is one the unpacker reads."""
    base = archive_name.rsplit("/", 1)[-1]
    return any(base.endswith(ext) and len(base) > len(ext) for ext in ARCHIVE_EXTENSIONS)


def archive_stem(archive_name: str) -> str:
    """The archive's file name without its extension: the folder's name. ``archive_name``
    may be a key; its last segment is the name."""
    base = archive_name.rsplit("/", 1)[-1]
    for extension in ARCHIVE_EXTENSIONS:
        if base.endswith(extension) and len(base) > len(extension):
            return base[: -len(extension)]
    raise UnsupportedArchiveNameError(
        f"archive {shown(archive_name)} does not end with .tar.zst or .tar.gz; the unpacker "
        "reads only archives named as ft-archiver names them"
    )


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class UnpackLayout:
    """Where an archive's files go: ``folder`` holds only the model, ``index_key`` (its
    list of files, beside it rather than inside) says what the folder holds."""

    prefix: str
    stem: str

    def __post_init__(self) -> None:
        for what, key in (("folder", self.folder), ("index", self.index_key)):
            if _utf8_size(key) > S3_MAX_KEY_BYTES:
                raise UnpackKeyTooLongError(
                    f"the {what} key {shown(key)} is {_utf8_size(key)} bytes in UTF-8, over "
                    f"S3's limit of {S3_MAX_KEY_BYTES}"
                )

    @property
    def folder(self) -> str:
        """The folder's prefix, ending with '/' (SageMaker's S3Prefix wants it so)."""
        return f"{self.prefix}{self.stem}/"

    @property
    def index_key(self) -> str:
        return f"{self.prefix}{self.stem}{INDEX_SUFFIX}"

    def key(self, relative_path: str, member: str | bytes | None = None) -> str:
        """The object key of a file at ``relative_path`` in the folder, or why S3 would
        refuse it (``member`` names the archive member in the message)."""
        key = self.folder + relative_path
        size = _utf8_size(key)
        if size > S3_MAX_KEY_BYTES:
            who = f"member {shown(member)}" if member is not None else shown(relative_path)
            raise UnpackKeyTooLongError(
                f"{who} would be the S3 key {shown(key)}, {size} bytes in UTF-8, over S3's "
                f"limit of {S3_MAX_KEY_BYTES}"
            )
        return key


def folder_prefix(archive_key: str, archive_prefix: str, unpack_prefix: str | None) -> str:
    """Where the folder of the archive at ``archive_key`` goes: beside the archive when
    ``unpack_prefix`` is None; else under ``unpack_prefix``, keeping the sub-folders the
    archive's key has below ``archive_prefix``, so that ``models/a/x.tar.zst`` and
    ``models/b/x.tar.zst`` never share the folder ``x/``."""
    beside = archive_key[: archive_key.rfind("/") + 1]
    if unpack_prefix is None:
        return beside
    if not archive_key.startswith(archive_prefix):
        return unpack_prefix
    below = beside[len(archive_prefix) :] if beside.startswith(archive_prefix) else ""
    return unpack_prefix + below


def unpack_layout(unpack_prefix: str, archive_name: str) -> UnpackLayout:
    """The layout of the archive ``archive_name`` unpacked under ``unpack_prefix``."""
    return UnpackLayout(unpack_prefix, archive_stem(archive_name))
