"""What ``ft-archiver unpack`` reads of its arguments and settings, before any request."""

import pytest

from ft_archiver.errors import ConfigurationError, RuleError
from ft_archiver.settings import CliSettings
from ft_archiver_tools.cli_unpack import archive_location


@pytest.fixture(autouse=True)
def _no_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ARCHIVE_PREFIX", "UNPACK_PREFIX", "ARCHIVE_BUCKET"):
        monkeypatch.delenv(name, raising=False)


def test_the_folder_goes_beside_the_archive_unless_unpack_prefix_says() -> None:
    beside = CliSettings(ARCHIVE_PREFIX="models/")
    assert beside.unpack_prefix_for("models/a.tar.zst") == "models/"
    assert beside.unpack_prefix_for("team/x/a.tar.zst") == "team/x/"  # not under the prefix
    assert CliSettings().unpack_prefix_for("a.tar.zst") == ""  # at the bucket's root
    settings = CliSettings(ARCHIVE_PREFIX="models/", UNPACK_PREFIX="unpacked/")
    assert settings.unpack_prefix_for("models/a.tar.zst") == "unpacked/"
    root = CliSettings(ARCHIVE_PREFIX="models/", UNPACK_PREFIX="")
    assert root.unpack_prefix_for("models/a.tar.zst") == ""


@pytest.mark.parametrize(
    ("key", "bucket", "found"),
    [
        ("models/a.tar.zst", "b", ("b", "models/a.tar.zst")),
        ("s3://other/models/a.tar.zst", None, ("other", "models/a.tar.zst")),
        ("s3://b/models/a.tar.zst", "b", ("b", "models/a.tar.zst")),
    ],
)
def test_a_key_or_an_s3_url(key: str, bucket: str | None, found: tuple[str, str]) -> None:
    assert archive_location(key, bucket) == found


def test_an_s3_url_must_name_a_key_in_the_bucket_given() -> None:
    with pytest.raises(RuleError, match="not an s3://bucket/key URL"):
        archive_location("s3://only-a-bucket", None)
    with pytest.raises(RuleError, match="not --bucket 'mine'"):
        archive_location("s3://other/a.tar.zst", "mine")


def test_a_bare_key_needs_a_bucket() -> None:
    with pytest.raises(ConfigurationError, match="pass --bucket"):
        archive_location("models/a.tar.zst", None)
