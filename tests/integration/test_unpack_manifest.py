"""After a complete unpack the archive's manifest points at the folder's index, over
real HTTP against moto: the rest of the manifest as it was, still a manifest the catalog
reads; a re-run leaves it alone; an archive without a manifest gets none."""

import json
from typing import Any

from ft_archiver.domain.manifest import Manifest
from ft_archiver.domain.naming import manifest_key
from ft_archiver.wiring.catalog import build_catalog
from ft_archiver_tools.local.model_archive import ModelSpec

from .harness import PREFIX, Harness, run
from .test_unpack import archive_model, folder_of, unpack

KIB = 1024


def test_a_complete_unpack_adds_the_pointer_and_keeps_the_rest(harness: Harness) -> None:
    key = archive_model(harness, ModelSpec(size=512 * KIB, seed=31))
    before = harness.stored.manifest(manifest_key(key))
    assert "unpacked" not in before  # a manifest never unpacked is as it was
    result = unpack(harness, key)
    assert result.manifest is not None
    assert (result.manifest.key, result.manifest.status) == (manifest_key(key), "written")
    after = harness.stored.manifest(manifest_key(key))
    pointer: dict[str, Any] = after.pop("unpacked")
    assert after == before
    assert pointer == {
        "folder": folder_of(key),
        "index_key": result.index_key,
        "files": result.index.file_count,
        "bytes": result.index.total_bytes,
        "unpacked_at": pointer["unpacked_at"],
    }
    assert pointer["unpacked_at"].endswith("Z")
    manifest = Manifest.model_validate({**after, "unpacked": pointer})
    assert manifest.unpacked is not None
    assert manifest.unpacked.index_key == result.index_key
    head = harness.stored.head(manifest_key(key))
    assert head["ChecksumCRC64NVME"]  # stored with its checksum, as the archiver stores it
    problems: list[str] = []
    entries = build_catalog(harness.settings()).entries(harness.bucket, PREFIX, problems.append)
    assert problems == []
    assert [entry.manifest_key for entry in entries] == [manifest_key(key)]


def test_a_re_run_leaves_the_pointer_as_it_is(harness: Harness) -> None:
    key = archive_model(harness, ModelSpec(size=256 * KIB, seed=32))
    unpack(harness, key)
    versions = len(harness.stored.versions_of(manifest_key(key)))
    again = unpack(harness, key)
    assert not again.transferred
    assert again.manifest is not None
    assert again.manifest.status == "unchanged"
    assert len(harness.stored.versions_of(manifest_key(key))) == versions


def test_an_archive_without_a_manifest_gets_no_pointer(harness: Harness) -> None:
    key = archive_model(harness, ModelSpec(size=256 * KIB, seed=33))
    harness.aws.client("s3").delete_object(Bucket=harness.bucket, Key=manifest_key(key))
    result = unpack(harness, key)
    assert result.index.status == "complete"
    assert result.manifest is not None
    assert result.manifest.status == "no manifest"
    assert not result.manifest.pointed
    assert "no manifest at" in result.manifest.note
    listed = harness.stored.keys()
    assert manifest_key(key) not in listed  # none written back


def test_a_manifest_of_another_archive_is_left_as_it_is(harness: Harness) -> None:
    key = archive_model(harness, ModelSpec(size=256 * KIB, seed=34))
    s3 = harness.aws.client("s3")
    document = harness.stored.manifest(manifest_key(key))
    document["result"]["size"] += 1
    body = Manifest.model_validate(document).to_json()
    s3.put_object(Bucket=harness.bucket, Key=manifest_key(key), Body=body,
                  ContentType="application/json")  # fmt: skip
    result = unpack(harness, key)
    assert result.manifest is not None
    assert result.manifest.status == "other archive"
    assert "unpacked" not in harness.stored.manifest(manifest_key(key))


def test_the_command_line_says_where_the_pointer_went(harness: Harness) -> None:
    key = archive_model(harness, ModelSpec(size=256 * KIB, seed=35))
    done = run(harness, "unpack", key, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["manifest_key"], result["manifest_pointer"]) == (manifest_key(key), "written")
    again = run(harness, "unpack", key)
    assert again.returncode == 0, again.stderr
    where = f"s3://{harness.bucket}/{manifest_key(key)}"
    assert f"manifest {where} points at the index (already)\n" in again.stdout
