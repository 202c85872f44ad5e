"""The provenance manifest: redaction row by row, the checkpoint entry, the model."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.job import Checkpoint, FineTuneJob
from ft_archiver.domain.manifest import (
    Manifest,
    UnpackedPointer,
    build_manifest,
    checkpoint_entry,
    is_secret_name,
    redact,
)


@pytest.mark.parametrize(
    "name",
    ["wandb_api_key", "hf_api_token", "WANDB_KEY", "secret_x", "password", "Api-Key",
     "x_Secret", "db_PASSWORD_hash", "token", "keys", "monkey", "token_count"],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["model", "training_type", "model_output_name", "lora_r", "created_at", "wandb_url",
     "n_epochs", "pass", "secre", "tok", "ke", ""],
)  # fmt: skip
def test_names_that_stay(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"model": "m", "wandb_api_key": "w"}, {"model": "m"}),
        ({"WANDB_KEY": "w", "training_type": "Lora"}, {"training_type": "Lora"}),
        ({"secret_x": 1, "password": "p", "hf_api_token": "h"}, {}),
        (
            {"training_type": {"type": "Lora", "hf_api_token": "h", "lora_r": 8}},
            {"training_type": {"type": "Lora", "lora_r": 8}},
        ),
        (
            {"events": [{"message": "ok", "token": "t"}, {"nested": [{"Secret": 1, "a": 2}]}]},
            {"events": [{"message": "ok"}, {"nested": [{"a": 2}]}]},
        ),
        (
            {"a": {"b": {"c": {"deep_password": "p", "d": [1, "two", None]}}}},
            {"a": {"b": {"c": {"d": [1, "two", None]}}}},
        ),
        # a secret-named field goes with everything under it
        ({"api_key": {"value": "k", "model": "m"}, "model": "m"}, {"model": "m"}),
        # values are never inspected, only names
        ({"note": "my key is abc"}, {"note": "my key is abc"}),
        ([{"token": 1}, "key", 3], [{}, "key", 3]),
        ("plain", "plain"),
        (None, None),
    ],
)
def test_redact(document: Any, expected: Any) -> None:
    assert redact(document) == expected


def test_redact_does_not_touch_its_input() -> None:
    document = {"training_type": {"hf_api_token": "h"}, "wandb_api_key": "w"}
    redact(document)
    assert document == {"training_type": {"hf_api_token": "h"}, "wandb_api_key": "w"}


def entries(*pairs: tuple[int, str]) -> list[Checkpoint]:
    return [Checkpoint(step=step, checkpoint_type=kind) for step, kind in pairs]


CHECKPOINTS = entries((10, "Intermediate"), (20, "intermediate"), (21, "Final"))


@pytest.mark.parametrize(
    ("checkpoints", "step", "expected"),
    [
        (CHECKPOINTS, 10, (10, "Intermediate")),
        (CHECKPOINTS, 20, (20, "intermediate")),
        (CHECKPOINTS, None, (21, "Final")),
        (CHECKPOINTS, 21, None),  # the final entry's step is not an intermediate step
        (CHECKPOINTS, 15, None),
        (entries((10, "Intermediate")), None, None),
        ([], None, None),
        (entries((5, "Final"), (9, "Final")), None, (9, "Final")),
    ],
)
def test_checkpoint_entry(
    checkpoints: list[Checkpoint], step: int | None, expected: tuple[int, str] | None
) -> None:
    found = checkpoint_entry(checkpoints, step, "model_output_path")
    assert (None if found is None else (found.step, found.checkpoint_type)) == expected


LORA = entries((10, "Intermediate"), (11, "Final Merged"), (11, "Final Adapter"))


@pytest.mark.parametrize(
    ("checkpoints", "kind", "expected"),
    [
        (LORA, "merged", (11, "Final Merged")),
        (LORA, "adapter", (11, "Final Adapter")),
        # the step ties: chosen by type, not by whichever final comes last
        (entries((11, "Final Adapter"), (11, "Final Merged")), "merged", (11, "Final Merged")),
        (entries((11, "Final Adapter")), "merged", None),  # never the adapter's entry
        (entries((11, "Final")), "merged", (11, "Final")),  # an account that lists one
        (entries((11, "final adapter")), "adapter", (11, "final adapter")),
    ],
)
def test_a_lora_final_entry_is_the_one_of_the_resolved_type(
    checkpoints: list[Checkpoint], kind: str, expected: tuple[int, str] | None
) -> None:
    found = checkpoint_entry(checkpoints, None, kind)
    assert (None if found is None else (found.step, found.checkpoint_type)) == expected


def test_checkpoint_keeps_the_whole_entry() -> None:
    entry = {"step": 3, "checkpoint_type": "Intermediate", "path": "s3://x", "extra": [1]}
    assert Checkpoint.model_validate(entry).document == entry


DETAIL = ArchivedDetail(
    id="ft-1", checkpoint_step=None, checkpoint_type="merged", training_type="Lora",
    filename="s3://b/models/m.tar.zst", bucket="b", key="models/m.tar.zst",
    manifest_key="models/m.tar.zst.manifest.json", size=10,
    etag='"e-2"', version_id="v1", content_type="application/zstd", sha256="ab" * 32,
    checksum_algorithm="CRC64NVME", checksum="AAAAAAAAAAA=", parts=2, part_size=5,
    model_output_name="acme/m", duration_s=1.5,
)  # fmt: skip
JOB = {
    "id": "ft-1",
    "model": "meta-llama/Meta-Llama-3-8B",
    "wandb_api_key": "do-not-write-me",
    "training_type": {"type": "Lora", "lora_r": 8, "hf_api_token": "nor-me"},
}


def manifest(archived_at: datetime | None = None) -> Manifest:
    checkpoint = Checkpoint.model_validate(
        {"step": 7, "checkpoint_type": "Final", "path": "s3://p", "access_token": "t"}
    )
    when = archived_at or datetime(2026, 11, 25, 16, 57, 42, 123456, tzinfo=UTC)
    return build_manifest(DETAIL, FineTuneJob.model_validate(JOB).document, checkpoint, when, "9.9")


def test_manifest_as_written() -> None:
    written = json.loads(manifest().to_json())
    assert written == {
        "schema_version": 1,
        "fine_tune_id": "ft-1",
        "checkpoint_step": None,
        "checkpoint_type": "merged",
        "training_type": "Lora",
        "model_output_name": "acme/m",
        "job": {
            "id": "ft-1",
            "model": "meta-llama/Meta-Llama-3-8B",
            "training_type": {"type": "Lora", "lora_r": 8},
        },
        "checkpoint": {"step": 7, "checkpoint_type": "Final", "path": "s3://p"},
        "omitted_fields": {"job": [], "checkpoint": []},
        "result": {
            "bucket": "b", "key": "models/m.tar.zst", "size": 10,
            "content_type": "application/zstd", "sha256": "ab" * 32,
            "checksum_algorithm": "CRC64NVME", "checksum": "AAAAAAAAAAA=",
                "proof": "full-object-checksum", "etag": '"e-2"',
            "version_id": "v1", "parts": 2, "part_size": 5,
            "sha256_tree": None, "part_sha256": None,
            "archived_at": "2026-11-25T16:57:42.123Z", "ft_archiver_version": "9.9",
        },
    }  # fmt: skip


PROBE = {  # what a probe of the denylist kept, and fields Together may add
    "id": "ft-1", "model": "m", "authorization": "Bearer sk-1", "passwd": "p1",
    "signature": "s1", "owner_address": "me@example.com", "new_field_2027": {"x": "nv1"},
    "model_output_path": "https://alice:pw1@store.example/m/out?X-Amz-Signature=sig1#f",
    "from_hf_model": "https://hf.co/acme/base?token=t1",
    "training_method": {"method": "sft", "callback": "https://u:pw2@hooks.example/x?k=q"},
    "events": [{"message": "uploaded to https://store.example/m?X-Amz-Credential=c1"}],
}  # fmt: skip
ENTRY = {"step": 7, "checkpoint_type": "Final", "created_at": "t",
         "path": "s3://bucket/ft-1/final?versionId=v&sig=s2",
         "download_url": "https://x/y?z=1"}  # fmt: skip


def test_only_the_allowlisted_fields_are_kept_and_every_url_is_bare() -> None:
    written = json.loads(
        build_manifest(
            DETAIL, PROBE, Checkpoint.model_validate(ENTRY), datetime.now(UTC), "9"
        ).to_json()
    )
    assert written["job"] == {
        "id": "ft-1", "model": "m",
        "model_output_path": "https://store.example/m/out",
        "from_hf_model": "https://hf.co/acme/base",
        "training_method": {"method": "sft", "callback": "https://hooks.example/x"},
    }  # fmt: skip
    assert written["checkpoint"] == {"step": 7, "checkpoint_type": "Final", "created_at": "t",
                                     "path": "s3://bucket/ft-1/final"}  # fmt: skip
    # unknown fields by name only; a credential's name is not even that
    assert written["omitted_fields"] == {
        "job": ["events", "new_field_2027", "owner_address"], "checkpoint": ["download_url"],
    }  # fmt: skip
    text = json.dumps(written)
    for value in ("sk-1", "p1", "s1", "pw1", "sig1", "t1", "pw2", "c1", "s2", "me@example", "nv1"):
        assert value not in text, value


def test_no_secret_value_in_the_written_manifest() -> None:
    text = manifest().to_json().decode()
    assert "do-not-write-me" not in text
    assert "nor-me" not in text
    assert "access_token" not in text


def test_archived_at_is_written_in_utc() -> None:
    east = timezone(timedelta(hours=2))
    written = json.loads(manifest(datetime(2026, 1, 1, 2, 0, tzinfo=east)).to_json())
    assert written["result"]["archived_at"] == "2026-01-01T00:00:00.000Z"


def test_a_naive_archived_at_is_refused() -> None:
    with pytest.raises(ValidationError):
        manifest(datetime(2026, 1, 1))


def test_the_model_redacts_whatever_it_is_given() -> None:
    given = {**json.loads(manifest().to_json()), "job": JOB, "checkpoint": {"Token": "t"}}
    direct = Manifest.model_validate(given)
    assert direct.job == {"id": "ft-1", "model": "meta-llama/Meta-Llama-3-8B",
                          "training_type": {"type": "Lora", "lora_r": 8}}  # fmt: skip
    assert direct.checkpoint == {}


def test_a_manifest_round_trips_and_reads_later_versions() -> None:
    written = json.loads(manifest().to_json())
    assert Manifest.model_validate_json(manifest().to_json()) == manifest()
    later = {**written, "schema_version": 2, "something_new": {"a": 1}}
    assert Manifest.model_validate(later).schema_version == 2


def test_the_unpacked_pointer_is_written_only_once_there_is_one() -> None:
    plain = manifest()
    assert plain.unpacked is None
    assert "unpacked" not in json.loads(plain.to_json())
    when = datetime(2026, 12, 2, 7, 0, 1, 234567, tzinfo=timezone(timedelta(hours=1)))
    pointer = UnpackedPointer(folder="models/m/", index_key="models/m.files.json", files=3,
                              bytes=1024, unpacked_at=when)  # fmt: skip
    pointed = plain.model_copy(update={"unpacked": pointer})
    written = json.loads(pointed.to_json())
    assert written["unpacked"] == {"folder": "models/m/", "index_key": "models/m.files.json",
                                   "files": 3, "bytes": 1024,
                                   "unpacked_at": "2026-12-02T06:00:01.234Z"}  # fmt: skip
    assert {k: v for k, v in written.items() if k != "unpacked"} == json.loads(plain.to_json())
    assert Manifest.model_validate_json(pointed.to_json()) == pointed
    assert pointer.same_folder(pointer.model_copy(update={"unpacked_at": datetime.now(UTC)}))
    assert not pointer.same_folder(pointer.model_copy(update={"files": 4}))
