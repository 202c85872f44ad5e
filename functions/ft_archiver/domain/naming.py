"""Archive file names and S3 object keys."""

import re
import unicodedata

from ft_archiver.domain.checkpoints import DownloadSpec
from ft_archiver.errors import InvalidBucketNameError, InvalidObjectKeyError

S3_MAX_KEY_BYTES = 1024
# Every archive has its provenance manifest next to it, at ``{key}.manifest.json``;
# that key must fit in S3's limit too, so the archive's key leaves room for the suffix.
MANIFEST_SUFFIX = ".manifest.json"
MAX_KEY_BYTES = S3_MAX_KEY_BYTES - len(MANIFEST_SUFFIX)


def normalize(name: str) -> str:
    """The SDK's ``normalize_key``: '/' to '--', '_' and ' ' to '-', lower case."""
    return name.replace("/", "--").replace("_", "-").replace(" ", "-").lower()


def archive_extension(content_type: str | None) -> str:
    return ".tar.gz" if content_type and "x-tar" in content_type else ".tar.zst"


def archive_filename(
    spec: DownloadSpec, model_output_name: str | None, content_type: str | None
) -> str:
    """The SDK's name plus what it forgets: the step suffix, and '-adapter' for adapters."""
    name = normalize(model_output_name or spec.id)
    if spec.checkpoint_step:
        name += f"-checkpoint-{spec.checkpoint_step}"
    if spec.is_adapter:
        name += "-adapter"
    return name + archive_extension(content_type)


BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+", re.ASCII)


def validate_bucket_name(name: str) -> str:
    """S3's rules for a bucket name, with a hint for the usual slips (a URL, a path)."""
    if name.startswith("s3://"):
        raise InvalidBucketNameError(
            f"bucket {name!r}: give the bare name, without 's3://' (a path goes in the prefix)"
        )
    if "/" in name:
        raise InvalidBucketNameError(
            f"bucket {name!r}: a bucket name has no '/'; put the path in the prefix"
        )
    if not BUCKET_NAME.fullmatch(name) or ".." in name or IP_ADDRESS.fullmatch(name):
        raise InvalidBucketNameError(
            f"bucket {name!r} is not a valid S3 bucket name: 3 to 63 lower-case letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit"
        )
    return name


def validate_key(key: str) -> str:
    """Refuse keys that are ambiguous, traverse, or that S3 would refuse."""
    if not key:
        raise InvalidObjectKeyError("object key is empty")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise InvalidObjectKeyError(
            f"object key is {size} bytes in UTF-8; at most {MAX_KEY_BYTES} leave room "
            f"for its {MANIFEST_SUFFIX} within S3's {S3_MAX_KEY_BYTES}"
        )
    if key.endswith(MANIFEST_SUFFIX):
        raise InvalidObjectKeyError(
            f"object key {key!r} ends with {MANIFEST_SUFFIX!r}, which names manifests; "
            "choose another name"
        )
    if key.startswith("/"):
        raise InvalidObjectKeyError(f"object key {key!r} starts with '/'; drop the leading slash")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in key):
        raise InvalidObjectKeyError(f"object key {key!r} contains control characters")
    for segment in key.split("/"):
        if segment == "":
            raise InvalidObjectKeyError(
                f"object key {key!r} has an empty path segment ('//' or a trailing '/')"
            )
        if segment in (".", ".."):
            raise InvalidObjectKeyError(f"object key {key!r} has a {segment!r} path segment")
    return key


def confine_key(key: str, prefix: str) -> str:
    """An explicit key that arrived as a message (a webhook, the queue), not typed by an
    operator: it must be under ``prefix`` and in a folder below it.

    The naming rules put every archive at the top level of the prefix (a normalized
    name never contains '/'), and a manifest next to its archive. A key in a folder can
    therefore never be, or overwrite, an archive or manifest the rules name, of this
    job or of any other, now or later; which names the rules will generate cannot be
    known in advance (``model_output_name`` is free text), their shape can."""
    validate_key(key)
    if not key.startswith(prefix):
        raise InvalidObjectKeyError(
            f"object key {key!r} is outside the archive prefix {prefix!r}; a key must start with it"
        )
    rest = key[len(prefix) :]
    if "/" not in rest:
        where = f"the archive prefix {prefix!r}" if prefix else "the bucket"
        raise InvalidObjectKeyError(
            f"object key {key!r} is at the top level of {where}, where archives get the "
            f"names the rules give them; choose a folder below it, e.g. {prefix}custom/{rest}"
        )
    return key


def manifest_key(key: str) -> str:
    """Where the provenance manifest of the archive at ``key`` is kept."""
    return key + MANIFEST_SUFFIX


def object_key(prefix: str, filename: str, override: str | None = None) -> str:
    """``{prefix}{filename}`` unless an explicit key overrides it; both are validated."""
    return validate_key(override if override is not None else prefix + filename)
