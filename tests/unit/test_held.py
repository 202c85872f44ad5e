"""What the archive's key holds before the first byte is sent (domain/held.py), as a
table: each case one HeadObject (and manifest) answer, and the verdict it must get."""

from datetime import UTC, datetime
from typing import Any

import pytest

from ft_archiver.domain.held import (
    Adopted,
    HeldObject,
    Refused,
    Unproven,
    Vacant,
    Verdict,
    WantedArchive,
    judge_held,
)
from ft_archiver.domain.manifest import Manifest, ManifestResult

KEY = "models/acme--m.tar.zst"
MANIFEST_KEY = f"{KEY}.manifest.json"
SIZE = 3_000_000
METADATA = {
    "fine-tune-id": "ft-aaaa",
    "checkpoint-step": "final",
    "checkpoint-type": "merged",
    "training-type": "Lora",
}
WANTED = WantedArchive("b", KEY, SIZE, METADATA, "CRC64NVME")
CHECKSUM = "q83vEjRWeJA="


def held(**change: Any) -> HeldObject:
    fields: dict[str, Any] = {
        "size": SIZE, "etag": '"e-1"', "version_id": "v1", "metadata": METADATA,
        "checksum": CHECKSUM,
    }  # fmt: skip
    return HeldObject(**{**fields, **change})


def manifest(**change: Any) -> Manifest:
    result: dict[str, Any] = {
        "bucket": "b", "key": KEY, "size": SIZE, "content_type": "application/zstd",
        "sha256": "ab" * 32, "checksum_algorithm": "CRC64NVME", "checksum": CHECKSUM,
        "etag": '"e-1"', "version_id": "v1", "parts": 1, "part_size": SIZE,
        "archived_at": datetime(2026, 12, 6, tzinfo=UTC), "ft_archiver_version": "0",
    }  # fmt: skip
    top: dict[str, Any] = {
        "fine_tune_id": "ft-aaaa", "checkpoint_step": None, "checkpoint_type": "merged",
        "training_type": "Lora", "model_output_name": "acme/m", "job": {}, "checkpoint": None,
    }  # fmt: skip
    result.update({k: v for k, v in change.items() if k in ManifestResult.model_fields})
    top.update({k: v for k, v in change.items() if k not in ManifestResult.model_fields})
    return Manifest(**top, result=ManifestResult(**result))


CASES: list[tuple[str, HeldObject | None, Manifest | None, bool, type[Verdict]]] = [
    ("nothing at the key", None, None, False, Vacant),
    ("another size", held(size=15), None, False, Refused),
    ("another size, even with a manifest", held(size=15), manifest(), False, Refused),
    ("another fine-tune's metadata", held(metadata={**METADATA, "fine-tune-id": "ft-b"}),
     None, False, Refused),
    ("another step's metadata", held(metadata={**METADATA, "checkpoint-step": "100"}),
     manifest(), False, Refused),
    ("another kind's metadata", held(metadata={**METADATA, "checkpoint-type": "adapter"}),
     None, False, Refused),
    ("this size, no metadata", held(metadata={}), manifest(), False, Unproven),
    ("this archive, no manifest", held(), None, False, Unproven),
    ("this archive, a manifest of another ETag", held(), manifest(etag='"e-2"'), False,
     Unproven),
    ("this archive, a manifest of another version", held(), manifest(version_id="v0"),
     False, Unproven),
    ("this archive, a manifest of another checksum", held(), manifest(checksum="AAAA"),
     False, Unproven),
    ("this archive, a manifest of another fine-tune", held(),
     manifest(fine_tune_id="ft-b"), False, Unproven),
    ("this archive, a manifest of another key", held(), manifest(key="models/other"),
     False, Unproven),
    ("this archive, verified", held(), manifest(), False, Adopted),
    ("this archive, verified, unversioned", held(version_id=None),
     manifest(version_id=None), False, Adopted),
    ("this archive, verified, composite (no full-object value to compare)",
     held(checksum="Zm9v-3"), manifest(proof="composite-checksum"), False, Adopted),
    ("this archive, verified, a store that shows no checksum", held(checksum=None),
     manifest(proof="sha256-read-back"), False, Adopted),
    ("this archive, verified, --force", held(), manifest(), True, Unproven),
    ("another object, --force", held(size=15), None, True, Refused),
]  # fmt: skip


@pytest.mark.parametrize(
    ("held_object", "found_manifest", "force", "verdict"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_key_is_judged_by_what_it_holds(
    held_object: HeldObject | None,
    found_manifest: Manifest | None,
    force: bool,
    verdict: type[Verdict],
) -> None:
    assert type(judge_held(WANTED, held_object, found_manifest, MANIFEST_KEY, force)) is verdict


def test_an_adopted_archive_is_announced_as_its_manifest_describes_it() -> None:
    found = judge_held(WANTED, held(), manifest(), MANIFEST_KEY)
    assert isinstance(found, Adopted)
    detail = found.detail
    assert (detail.id, detail.checkpoint_step, detail.checkpoint_type) == (
        "ft-aaaa",
        None,
        "merged",
    )
    assert (detail.key, detail.manifest_key, detail.filename) == (
        KEY,
        MANIFEST_KEY,
        f"s3://b/{KEY}",
    )
    assert (detail.size, detail.etag, detail.version_id) == (SIZE, '"e-1"', "v1")
    assert (detail.sha256, detail.checksum, detail.duration_s) == ("ab" * 32, CHECKSUM, 0.0)


def test_a_refusal_says_what_the_key_holds() -> None:
    other = judge_held(WANTED, held(size=15), None, MANIFEST_KEY)
    assert isinstance(other, Refused)
    assert other.reason == "15 bytes, and this archive is 3,000,000"
    named = judge_held(WANTED, held(metadata={**METADATA, "fine-tune-id": "ft-b"}), None, "")
    assert isinstance(named, Refused)
    assert named.reason == "the archive of ft-b (merged at step final, Lora)"
