"""``ft-archiver list`` as a user runs it, against what archiving left in S3 (moto)."""

import subprocess
import sys
from collections.abc import Iterator

import pytest

from ft_archiver.adapters.s3_catalog import S3Catalog
from ft_archiver.domain.events import ArchivedDetail
from ft_archiver.domain.requests import ArchiveRequest
from ft_archiver.errors import StorageError
from ft_archiver_tools.local.aws import free_port
from ft_archiver_tools.local.model_archive import ModelSpec
from ft_archiver_tools.local.s3_fault_proxy import S3Fault, S3FaultProxy
from tests.support.faults import s3_fault_proxy

from .harness import PREFIX, Harness, cli_env, json_lines, run

KIB = 1024
SAME = ("bucket", "key", "manifest_key", "size", "sha256", "checkpoint_step",
        "checkpoint_type", "training_type")  # fmt: skip


def two_archives(harness: Harness) -> tuple[ArchivedDetail, ArchivedDetail]:
    """A Full final model, then a LoRA adapter's checkpoint at step 40."""
    full = harness.together.add_job("Full", size=300 * KIB, model_output_name="acme/full")
    lora = harness.together.add_job("Lora", model_output_name="acme/lora",
                                     steps={40: 500 * KIB})  # fmt: skip
    first = harness.archive(ArchiveRequest(full.id))
    second = harness.archive(ArchiveRequest(f"{lora.id}:40", checkpoint_type="adapter"))
    return first, second


def test_list_json_shows_both_archives_newest_first(harness: Harness) -> None:
    first, second = two_archives(harness)
    done = run(harness, "list", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    listed = json_lines(done.stdout)
    assert [entry["key"] for entry in listed] == [second.key, first.key]
    for entry, detail in zip(listed, [second, first], strict=True):
        assert {f: entry[f] for f in SAME} == {f: getattr(detail, f) for f in SAME}
        assert entry["fine_tune_id"] == detail.id
        manifest = harness.stored.manifest(entry["manifest_key"])
        assert entry["archived_at"] == manifest["result"]["archived_at"]
    assert listed[0]["archived_at"] > listed[1]["archived_at"]
    assert (listed[0]["checkpoint_step"], listed[1]["checkpoint_step"]) == (40, None)


def test_list_prints_a_table(harness: Harness) -> None:
    first, second = two_archives(harness)
    done = run(harness, "list")
    assert done.returncode == 0, done.stderr
    header, newest, oldest = done.stdout.splitlines()
    assert first.sha256 is not None
    assert second.sha256 is not None
    assert header.split() == ["ARCHIVED", "AT", "JOB", "STEP", "TYPE", "SIZE", "SHA256", "KEY",
                              "UNPACKED"]  # fmt: skip
    assert newest.split()[1:4] == [second.id, "40", "adapter"]
    assert newest.endswith(f"  {second.sha256[:12]}  {second.key}")
    assert oldest.split()[1:4] == [first.id, "final", "model_output_path"]
    assert oldest.endswith(f"  {first.sha256[:12]}  {first.key}")
    assert "300.0 KiB" in oldest
    assert header.index("KEY") == newest.index(second.key) == oldest.index(first.key)


def test_list_shows_the_folder_an_archive_was_unpacked_into(harness: Harness) -> None:
    first, second = two_archives(harness)
    lora = harness.together.add_job("Lora", model=ModelSpec(size=256 * KIB, seed=41),
                                    model_output_name="acme/unpacked")  # fmt: skip
    third = harness.archive(ArchiveRequest(lora.id))
    unpacked = run(harness, "unpack", third.key)
    assert unpacked.returncode == 0, unpacked.stderr
    folder = third.key.removesuffix(".tar.zst") + "/"
    done = run(harness, "list", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the folder's files and index are no archives, and not named
    listed = json_lines(done.stdout)
    assert [(entry["key"], entry["unpacked"]) for entry in listed] == [
        (third.key, folder), (second.key, None), (first.key, None),
    ]  # fmt: skip
    done = run(harness, "list")
    header, newest, *older = done.stdout.splitlines()
    assert newest.split()[-2:] == [third.key, folder]
    assert newest.index(folder) == header.index("UNPACKED")
    assert all(line.endswith(".tar.zst") for line in older)


def test_list_in_an_empty_bucket(harness: Harness) -> None:
    done = run(harness, "list")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"no archives under s3://{harness.bucket}/{PREFIX}\n"
    done = run(harness, "list", "--json")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_archives_without_a_readable_manifest_are_listed_from_their_objects(
    harness: Harness,
) -> None:
    first, second = two_archives(harness)
    assert first.manifest_key
    assert second.manifest_key
    s3 = harness.aws.client("s3")
    s3.delete_object(Bucket=harness.bucket, Key=first.manifest_key)  # as before manifests
    s3.put_object(Bucket=harness.bucket, Key=second.manifest_key, Body=b"{truncated")
    done = run(harness, "list", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        f"ft-archiver: warning: manifest s3://{harness.bucket}/{second.manifest_key} "
        "is not valid JSON (JSONDecodeError); skipped\n"
    )
    listed = {entry["key"]: entry for entry in json_lines(done.stdout)}
    assert set(listed) == {first.key, second.key}
    for detail in (first, second):
        entry = listed[detail.key]
        assert entry["manifest_key"] is None
        assert entry["sha256"] == detail.sha256  # from the object's tag
        assert (entry["fine_tune_id"], entry["size"]) == (detail.id, detail.size)
        assert entry["checkpoint_step"] == detail.checkpoint_step  # from its metadata
    table = run(harness, "list")
    assert table.stdout.count("(no manifest)") == 2


def test_flags_override_the_environment(harness: Harness) -> None:
    two_archives(harness)
    done = run(harness, "list", "--prefix", "other/")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"no archives under s3://{harness.bucket}/other/\n"
    done = run(harness, "list", "--json", ARCHIVE_BUCKET="", ARCHIVE_PREFIX="")
    assert done.returncode == 2
    assert done.stderr == "ft-archiver: error: no bucket: pass --bucket or set ARCHIVE_BUCKET\n"
    done = run(harness, "list", "--json", "--bucket", harness.bucket, ARCHIVE_BUCKET="")
    assert (done.returncode, len(done.stdout.splitlines())) == (0, 2)


def test_aws_failures_exit_1_with_one_line(harness: Harness) -> None:
    done = run(harness, "list", "--bucket", "no-such-bucket-here")
    assert done.returncode == 1
    assert done.stderr == (
        f"ft-archiver: error: S3 ListObjectsV2 of s3://no-such-bucket-here/{PREFIX} failed "
        "(NoSuchBucket: The specified bucket does not exist)\n"
    )
    unreachable = f"http://127.0.0.1:{free_port()}"
    done = run(harness, "list", AWS_ENDPOINT_URL=unreachable)
    assert done.returncode == 1
    assert done.stderr.startswith("ft-archiver: error: S3 ListObjectsV2 of s3://")
    assert done.stderr.endswith("failed (EndpointConnectionError)\n")


def test_listing_follows_every_page(harness: Harness) -> None:
    s3 = harness.aws.client("s3")
    keys = [f"{PREFIX}k{n}" for n in range(5)]
    for key in keys:
        s3.put_object(Bucket=harness.bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=harness.bucket, Key="elsewhere/k", Body=b"x")
    listed = S3Catalog(s3, page_size=2).list_objects(harness.bucket, PREFIX)
    assert sorted(o.key for o in listed) == keys
    assert {o.size for o in listed} == {1}


def test_list_into_a_closed_pipe_ends_quietly(harness: Harness) -> None:
    two_archives(harness)
    lister = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "list", "--json"],
        env=cli_env(harness), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert lister.stdout is not None
    lister.stdout.close()  # `| head -0`: the reader is gone before the first line
    _, stderr = lister.communicate(timeout=60)
    assert lister.returncode == 141
    assert b"Traceback" not in stderr


@pytest.fixture
def proxy(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3FaultProxy]:
    with s3_fault_proxy(harness.aws.endpoint_url, monkeypatch.setenv) as faulty:
        yield faulty


def test_only_verified_archives_are_listed_and_an_unverified_one_is_named_incomplete(
    harness: Harness, proxy: S3FaultProxy
) -> None:
    """Complete built the object and answered 500, then tagging it failed too: the object
    is there, untagged and without its manifest, until a retry finishes it. ``list``
    names it on stderr and lists only the verified archive beside it."""
    verified = harness.archive(ArchiveRequest(harness.together.add_job(
        "Lora", size=300 * KIB, model_output_name="verified").id))  # fmt: skip
    job = harness.together.add_job("Lora", size=3 * 256 * KIB, model_output_name="window")
    key = f"{PREFIX}window.tar.zst"
    proxy.faults = [
        S3Fault("POST", {"uploadId": "*"}, 500, "InternalError", times=100, forward=True),
        S3Fault("PUT", {"tagging": "*"}, 500, "InternalError", times=100),
    ]
    with pytest.raises(StorageError, match=r"PutObjectTagging .*the object was left in place"):
        harness.archive(ArchiveRequest(job.id))
    proxy.faults = []
    assert harness.stored.head(key)["ContentLength"] == 3 * 256 * KIB  # it is there
    done = run(harness, "list", "--json")
    assert done.returncode == 0, done.stderr
    assert [entry["key"] for entry in json_lines(done.stdout)] == [verified.key]
    assert done.stderr == (
        f"ft-archiver: warning: incomplete: s3://{harness.bucket}/{key} (768.0 KiB) has no "
        "manifest and no sha256 tag: its bytes were never verified (a write that failed, "
        "or one still under way); not listed\n"
    )
    table = run(harness, "list")
    assert key not in table.stdout
    assert "(no manifest)" not in table.stdout
    retried = harness.archive(ArchiveRequest(job.id))  # the retry: these very bytes, kept
    assert len(harness.stored.versions_of(key)) == 1
    done = run(harness, "list", "--json")
    assert (done.returncode, done.stderr) == (0, "")
    assert [entry["key"] for entry in json_lines(done.stdout)] == [retried.key, verified.key]
