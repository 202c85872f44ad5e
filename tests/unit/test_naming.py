import re

import pytest

from ft_archiver.domain.checkpoints import DownloadSpec, TrainingType
from ft_archiver.domain.naming import (
    MAX_KEY_BYTES,
    archive_filename,
    confine_key,
    manifest_key,
    normalize,
    object_key,
    validate_key,
)
from ft_archiver.errors import InvalidObjectKeyError

JOB = "ft-4f1c2a9e-0b7d"


def spec(step: int | None = None, checkpoint: str = "merged") -> DownloadSpec:
    return DownloadSpec(JOB, step, TrainingType.LORA, checkpoint)


def test_normalize_follows_the_sdk() -> None:
    assert normalize("Acme/Llama_3 8B") == "acme--llama-3-8b"


def test_name_uses_model_output_name() -> None:
    assert archive_filename(spec(), "acme/Llama-3-8B-ft", "application/zstd") == (
        "acme--llama-3-8b-ft.tar.zst"
    )


def test_none_output_name_falls_back_to_the_id() -> None:
    assert archive_filename(spec(), None, None) == f"{JOB}.tar.zst"


def test_empty_output_name_falls_back_to_the_id() -> None:
    assert archive_filename(spec(), "", None) == f"{JOB}.tar.zst"


def test_step_suffix_only_when_positive() -> None:
    assert archive_filename(spec(100), "m", None) == "m-checkpoint-100.tar.zst"
    assert archive_filename(spec(0), "m", None) == "m.tar.zst"


def test_adapter_gets_its_own_name() -> None:
    merged = archive_filename(spec(100, "merged"), "m", None)
    adapter = archive_filename(spec(100, "adapter"), "m", None)
    assert adapter == "m-checkpoint-100-adapter.tar.zst"
    assert merged != adapter


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [
        ("application/x-tar", ".tar.gz"),
        ("application/x-tar; charset=binary", ".tar.gz"),
        ("application/zstd", ".tar.zst"),
        ("application/octet-stream", ".tar.zst"),
        (None, ".tar.zst"),
    ],
)
def test_extension_from_content_type(content_type: str | None, extension: str) -> None:
    assert archive_filename(spec(), "m", content_type).endswith(extension)


def test_default_key_is_prefix_plus_name() -> None:
    assert object_key("models/", "m.tar.zst") == "models/m.tar.zst"


def test_override_wins() -> None:
    assert object_key("models/", "m.tar.zst", "exact/key.bin") == "exact/key.bin"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("/abs/key", "starts with '/'"),
        ("a//b", "empty path segment"),
        ("a/b/", "empty path segment"),
        ("a/../b", "'..'"),
        ("..", "'..'"),
        ("a/./b", "'.'"),
        ("a\x00b", "control characters"),
        ("a\nb", "control characters"),
        ("k" * 1011, "1011 bytes"),
        ("é" * 506, "1012 bytes"),
        ("models/m.manifest.json", "names manifests"),
    ],
)
def test_bad_keys_are_refused(key: str, reason: str) -> None:
    with pytest.raises(InvalidObjectKeyError, match=reason):
        validate_key(key)


def test_longest_key_is_accepted() -> None:
    assert validate_key("k" * 1010) == "k" * 1010


def test_longest_key_leaves_room_for_its_manifest_within_s3s_limit() -> None:
    longest = "k" * MAX_KEY_BYTES
    assert len(manifest_key(validate_key(longest)).encode()) == 1024
    assert manifest_key("models/m.tar.zst") == "models/m.tar.zst.manifest.json"


def test_default_key_is_validated_too() -> None:
    with pytest.raises(InvalidObjectKeyError):
        object_key("models//", "m.tar.zst")


# -- keys that arrive as messages: in a folder under the prefix ------------------------


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("models/custom/x.tar.zst", "models/"),
        ("models/a/b/c", "models/"),
        ("team/x.tar.zst", ""),
        ("modelsx/y", "models"),  # a prefix without '/' is a string prefix, as in IAM
    ],
)
def test_confine_key_accepts_a_folder_under_the_prefix(key: str, prefix: str) -> None:
    assert confine_key(key, prefix) == key


@pytest.mark.parametrize(
    ("key", "prefix", "reason"),
    [
        ("elsewhere/x.tar.zst", "models/", "outside the archive prefix 'models/'"),
        ("models-evil/x.tar.zst", "models/", "outside the archive prefix"),
        ("model/x.tar.zst", "models/", "outside the archive prefix"),
        # where the naming rules put archives: another job's default key, or a manifest
        ("models/acme--m.tar.zst", "models/", "top level of the archive prefix 'models/'"),
        ("models/acme--m-checkpoint-100-adapter.tar.gz", "models/", "top level"),
        ("models/x", "models/", "e.g. models/custom/x"),
        ("x.tar.zst", "", "top level of the bucket"),
        ("models/a/x.tar.zst.manifest.json", "models/", "names manifests"),
        ("models/../x/y", "models/", "'..'"),
        ("models//x", "models/", "empty path segment"),
    ],
)
def test_confine_key_refuses_keys_outside_a_folder_under_the_prefix(
    key: str, prefix: str, reason: str
) -> None:
    with pytest.raises(InvalidObjectKeyError, match=re.escape(reason)):
        confine_key(key, prefix)


def test_no_generated_key_is_in_a_folder() -> None:
    """What confine_key relies on: the rules' names never contain '/'."""
    for output_name in ("acme/Llama-3/8B", "a//b", "/x/"):
        key = object_key("models/", archive_filename(spec(7, "adapter"), output_name, None))
        with pytest.raises(InvalidObjectKeyError, match="top level"):
            confine_key(key, "models/")
