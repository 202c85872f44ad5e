"""``ft-archiver archive ... --unpack`` as a user runs it against moto: the archive, then
its folder and index as ``ft-archiver unpack KEY`` makes them, in one result."""

import json

from ft_archiver.domain.naming import manifest_key
from ft_archiver_tools.local.model_archive import ModelSpec

from .harness import PREFIX, Harness, run

KIB = 1024


def test_archive_then_unpack_prints_one_json_object(harness: Harness) -> None:
    spec = ModelSpec(size=512 * KIB, seed=51)
    job = harness.together.add_job("Lora", model=spec, model_output_name="acme/both")
    done = run(harness, "archive", job.id, "--unpack", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    [line] = done.stdout.splitlines()
    result = json.loads(line)
    key = result["key"]
    folder = key.removesuffix(".tar.zst") + "/"
    assert key == f"{PREFIX}acme--both.tar.zst"
    assert result["id"] == job.id  # the event detail, as archive --json prints it
    assert result["sha256"] == harness.together.model_archive(spec).sha256
    assert result["unpack_note"] is None
    unpack = result["unpack"]
    assert unpack["archive"] == f"s3://{harness.bucket}/{key}"
    assert (unpack["folder"], unpack["status"]) == (folder, "complete")
    assert unpack["index_key"] == folder.rstrip("/") + ".files.json"
    assert unpack["manifest_pointer"] == "written"
    index = harness.stored.manifest(unpack["index_key"])
    assert index["status"] == "complete"
    assert index["file_count"] == unpack["files"] > 0
    top = f"{spec.top}/" if spec.top else ""
    expected = {
        path.removeprefix(top): digest.sha256
        for path, digest in harness.together.model_archive(spec).digests().items()
    }
    assert {entry["path"]: entry["sha256"] for entry in index["files"]} == expected
    for entry in index["files"]:
        assert harness.stored.sha256_of(entry["key"]) == entry["sha256"]
    assert harness.stored.manifest(manifest_key(key))["unpacked"]["folder"] == folder
    events = {event["detail-type"]: event["detail"] for event in harness.events.read()}
    assert events["Fine-tune Archived"]["key"] == key
    assert events["Fine-tune Unpacked"]["id"] == job.id
    assert events["Fine-tune Unpacked"]["folder"] == folder


def test_archive_then_unpack_prints_both_and_a_prefix_moves_the_folder(
    harness: Harness,
) -> None:
    job = harness.together.add_job("Lora", model=ModelSpec(size=256 * KIB, seed=52),
                                   model_output_name="acme/text")  # fmt: skip
    done = run(harness, "archive", job.id, "--unpack", "--unpack-prefix", "unpacked/")
    assert done.returncode == 0, done.stderr
    archived, unpacked, index, manifest, *verdicts = done.stdout.splitlines()
    assert archived.startswith(f"archived s3://{harness.bucket}/{PREFIX}acme--text.tar.zst: ")
    assert unpacked.startswith(f"unpacked s3://{harness.bucket}/{PREFIX}acme--text.tar.zst "
                               f"into s3://{harness.bucket}/unpacked/acme--text/: ")  # fmt: skip
    assert index == f"index s3://{harness.bucket}/unpacked/acme--text.files.json"
    assert manifest.endswith("points at the index")
    assert any("vllm_runai_streamer" in verdict for verdict in verdicts)
    again = run(harness, "archive", job.id, "--unpack", "--unpack-prefix", "unpacked/")
    assert again.returncode == 0, again.stderr
    assert f"already unpacked into s3://{harness.bucket}/unpacked/acme--text/" in again.stdout


def test_an_archive_that_is_no_tar_is_archived_and_not_unpacked(harness: Harness) -> None:
    job = harness.together.add_job("Lora", model=ModelSpec(size=256 * KIB, seed=53),
                                   model_output_name="acme/plain")  # fmt: skip
    done = run(harness, "archive", job.id, "--key", "other/plain.bin", "--unpack", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["key"] == "other/plain.bin"
    assert result["unpack"] is None
    assert result["unpack_note"] == "other/plain.bin is neither .tar.zst nor .tar.gz: not unpacked"
    text = run(harness, "archive", job.id, "--key", "other/plain.bin", "--unpack")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1] == (
        "other/plain.bin is neither .tar.zst nor .tar.gz: not unpacked"
    )
    assert harness.stored.versions_under("other/plain/") == []


def test_unpack_prefix_without_unpack_is_a_usage_error(harness: Harness) -> None:
    done = run(harness, "archive", "ft-00000000-0000-0000-0000-000000000000",
               "--unpack-prefix", "unpacked/")  # fmt: skip
    assert done.returncode == 2
    assert "add --unpack" in done.stderr


def test_a_refused_unpack_still_prints_the_archive_and_exits_as_unpack_does(
    harness: Harness,
) -> None:
    spec = ModelSpec(size=256 * KIB, seed=54, variant="symlink")
    job = harness.together.add_job("Lora", model=spec, model_output_name="acme/hostile")
    done = run(harness, "archive", job.id, "--unpack", "--json")
    assert done.returncode == 2
    result = json.loads(done.stdout)
    assert result["key"] == f"{PREFIX}acme--hostile.tar.zst"
    assert harness.stored.tags(result["key"])["sha256"] == result["sha256"]  # archived
    assert result["unpack"] is None
    assert result["unpack_note"].startswith("not unpacked: member ")
    assert done.stderr.startswith("ft-archiver: error: member ")
    assert harness.stored.versions_under(f"{PREFIX}acme--hostile/") == []
