"""``ft-archiver backfill`` and ``archive --checkpoints`` as a user runs them: a separate
process against moto and a Together simulator of this test's own (backfill lists every
job of the account, so the shared simulator's jobs would leak in)."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.simulator import Shapes, TogetherSimulator

from .harness import PREFIX, Harness, json_lines, run

KIB = 1024


@pytest.fixture
def own(aws: MotoServer) -> Iterator[Harness]:
    with TogetherSimulator() as sim:
        yield Harness.deploy(aws, sim, f"b-{uuid.uuid4().hex[:12]}")


SHAPES = {
    "documented": Shapes(),
    "list with training_type": Shapes(list_entries="with-training-type"),
    "one LoRA Final": Shapes(lora_finals="final"),
    "every download redirects": Shapes(downloads="redirect"),
    "every download direct": Shapes(downloads="direct", legacy_full_types=False),
}


@pytest.mark.parametrize("shapes", list(SHAPES.values()), ids=list(SHAPES))
def test_every_shape_together_sends_archives_every_completed_job(
    aws: MotoServer, shapes: Shapes
) -> None:
    """Together's documented shapes and the richer ones some accounts see give the same
    archives: names, resolved types, and a manifest whose entry is of the archive's type."""
    with TogetherSimulator(shapes=shapes) as sim:
        own = Harness.deploy(aws, sim, f"b-{uuid.uuid4().hex[:12]}")
        full = sim.add_job("Full", size=100 * KIB, model_output_name="acme/full")
        legacy = sim.add_job("Full", size=100 * KIB, model_output_name="acme/legacy",
                             legacy_training_type=True)  # fmt: skip
        lora = sim.add_job("Lora", size=200 * KIB, model_output_name="acme/lora")
        done = run(own, "backfill", "--json", "--checkpoint-type", "all")
        assert done.returncode == 0, done.stderr
        outcomes = json_lines(done.stdout)
    assert [(o["action"], o["id"], o["key"]) for o in outcomes] == [
        ("archived", full.id, f"{PREFIX}acme--full.tar.zst"),
        ("archived", legacy.id, f"{PREFIX}acme--legacy.tar.zst"),
        ("archived", lora.id, f"{PREFIX}acme--lora.tar.zst"),
        ("archived", lora.id, f"{PREFIX}acme--lora-adapter.tar.zst"),
    ]
    entries = {}
    for outcome in outcomes:
        manifest = own.stored.manifest(outcome["detail"]["manifest_key"])
        entries[outcome["key"]] = (manifest["training_type"], manifest["checkpoint_type"],
                                   manifest["checkpoint"]["checkpoint_type"])  # fmt: skip
    lora_entry = (
        ("Final Merged", "Final Adapter") if shapes.lora_finals != "final" else ("Final",) * 2
    )
    assert entries == {
        f"{PREFIX}acme--full.tar.zst": ("Full", "model_output_path", "Final"),
        f"{PREFIX}acme--legacy.tar.zst": ("Full", "model_output_path", "Final"),
        f"{PREFIX}acme--lora.tar.zst": ("Lora", "merged", lora_entry[0]),
        f"{PREFIX}acme--lora-adapter.tar.zst": ("Lora", "adapter", lora_entry[1]),
    }


def summary(outcomes: list[dict[str, Any]]) -> list[tuple[str, str, int | None, str]]:
    return [(o["action"], o["id"], o["checkpoint_step"], o["checkpoint_type"]) for o in outcomes]


def test_backfill_archives_every_completed_job_and_a_second_run_nothing(own: Harness) -> None:
    sim = own.together
    lora = sim.add_job("Lora", size=300 * KIB, model_output_name="acme/one")
    full = sim.add_job("Full", size=200 * KIB, model_output_name="acme/two")
    sim.add_job("Lora", status="running")
    sim.add_job("Lora", status="cancelled")
    done = run(own, "backfill", "--json")
    assert done.returncode == 0, done.stderr
    first = json_lines(done.stdout)
    assert summary(first) == [
        ("archived", lora.id, None, "default"),
        ("archived", full.id, None, "default"),
    ]
    assert first[0]["key"] == f"{PREFIX}acme--one.tar.zst"
    assert first[0]["detail"]["sha256"] == sim.sha256(sim.archive_for(lora.id, "merged"))
    assert len([e for e in own.events.read() if e["detail-type"] == "Fine-tune Archived"]) == 2
    versions = sorted(own.stored.all_versions())

    again = run(own, "backfill", "--json")
    assert again.returncode == 0, again.stderr
    assert summary(json_lines(again.stdout)) == [
        ("skipped", lora.id, None, "default"),
        ("skipped", full.id, None, "default"),
    ]
    assert {o["reason"] for o in json_lines(again.stdout)} == {"already archived"}
    assert sorted(own.stored.all_versions()) == versions  # nothing uploaded
    assert own.events.read(wait_s=1) == []  # no event


def test_dry_run_contacts_together_only(own: Harness) -> None:
    sim = own.together
    job = sim.add_job(
        "Lora", size=300 * KIB, model_output_name="acme/dry", content_type="application/x-tar"
    )
    done = run(own, "backfill", "--dry-run", "--json", "--checkpoint-type", "all")
    assert done.returncode == 0, done.stderr
    assert [(o["action"], o["checkpoint_type"], o["key"]) for o in json_lines(done.stdout)] == [
        ("planned", "merged", f"{PREFIX}acme--dry.tar.gz"),
        ("planned", "adapter", f"{PREFIX}acme--dry-adapter.tar.gz"),
    ]
    own.stored.assert_nothing_written()
    assert own.events.read(wait_s=1) == []
    probes = [r for kind in ("merged", "adapter")
              for r in sim.blob_requests(sim.archive_for(job.id, kind))]  # fmt: skip
    assert [r.range for r in probes] == ["bytes=0-1", "bytes=0-1"]  # probes only


def test_since_takes_only_jobs_created_on_or_after_it(own: Harness) -> None:
    sim = own.together
    sim.add_job("Lora", size=100 * KIB, created_at="2026-10-31T23:59:59Z")
    recent = sim.add_job("Lora", size=100 * KIB, created_at="2026-11-01T00:00:00Z")
    done = run(own, "backfill", "--since", "2026-11-01", "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    assert [o["id"] for o in json_lines(done.stdout)] == [recent.id]


def test_a_failing_job_does_not_stop_the_others(own: Harness) -> None:
    sim = own.together
    good = sim.add_job("Lora", size=300 * KIB, model_output_name="acme/good")
    broken = sim.add_job("Lora", size=300 * KIB, model_output_name="acme/broken")
    del broken.final["merged"]  # its download answers 400: no such checkpoint
    after = sim.add_job("Full", size=300 * KIB, model_output_name="acme/after")
    done = run(own, "backfill", "--json")
    assert done.returncode == 1
    outcomes = json_lines(done.stdout)
    assert summary(outcomes) == [
        ("archived", good.id, None, "default"), ("failed", broken.id, None, "default"),
        ("archived", after.id, None, "default"),
    ]  # fmt: skip
    assert "ask for checkpoint type 'adapter'" in outcomes[1]["error"]
    # each archive with its manifest, nothing of the broken one
    assert sorted(own.stored.keys()) == [
        f"{PREFIX}acme--after.tar.zst", f"{PREFIX}acme--after.tar.zst.manifest.json",
        f"{PREFIX}acme--good.tar.zst", f"{PREFIX}acme--good.tar.zst.manifest.json",
    ]  # fmt: skip
    assert own.stored.open_uploads() == []
    assert "Traceback" not in done.stderr


def test_every_checkpoint_of_every_type(own: Harness) -> None:
    sim = own.together
    job = sim.add_job(
        "Lora", size=200 * KIB, model_output_name="acme/steps", steps={20: 90 * KIB, 10: 80 * KIB}
    )
    done = run(own, "backfill", "--checkpoints", "all", "--checkpoint-type", "all", "--json")
    assert done.returncode == 0, done.stderr
    outcomes = json_lines(done.stdout)
    assert summary(outcomes) == [
        ("archived", job.id, None, "merged"), ("archived", job.id, None, "adapter"),
        ("archived", job.id, 10, "default"), ("archived", job.id, 20, "default"),
    ]  # fmt: skip
    assert [o["key"] for o in outcomes] == [
        f"{PREFIX}acme--steps.tar.zst", f"{PREFIX}acme--steps-adapter.tar.zst",
        f"{PREFIX}acme--steps-checkpoint-10.tar.zst", f"{PREFIX}acme--steps-checkpoint-20.tar.zst",
    ]  # fmt: skip
    assert outcomes[2]["detail"]["sha256"] == sim.sha256(sim.archive_for(job.id, "merged", 10))


def test_enqueue_sends_the_requests_to_the_queue(own: Harness) -> None:
    sim = own.together
    job = sim.add_job("Lora", size=100 * KIB)
    done = run(own, "backfill", "--enqueue", "--json", ARCHIVE_QUEUE_URL=own.stack.queue_url)
    assert done.returncode == 0, done.stderr
    assert summary(json_lines(done.stdout)) == [("enqueued", job.id, None, "default")]
    sqs = own.aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=own.stack.queue_url).get("Messages", [])
    body = json.loads(message["Body"])
    assert (body["id"], body["origin"], body["checkpoint_step"]) == (job.id, "backfill", None)
    own.stored.assert_nothing_written()


def test_archive_with_checkpoints_makes_each_archive(own: Harness) -> None:
    sim = own.together
    job = sim.add_job("Lora", size=200 * KIB, model_output_name="acme/multi", steps={5: 70 * KIB})
    done = run(own, "archive", job.id, "--checkpoints", "all", "--json")
    assert done.returncode == 0, done.stderr
    details = json_lines(done.stdout)
    assert [(d["checkpoint_step"], d["checkpoint_type"]) for d in details] == [
        (None, "merged"),
        (5, "merged"),
    ]


def test_archive_of_a_step_that_does_not_exist_names_the_steps_that_do(own: Harness) -> None:
    sim = own.together
    job = sim.add_job("Lora", size=200 * KIB, steps={5: 70 * KIB, 9: 70 * KIB})
    done = run(own, "archive", job.id, "--checkpoints", "7")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ft-archiver: error: fine-tune {job.id} has no checkpoint at step 7; its intermediate "
        "checkpoints are at steps: 5, 9 (the final model is 'final')"
    ]
    own.stored.assert_nothing_written()


def test_the_state_table_says_done_even_where_the_object_is_gone(own: Harness) -> None:
    sim = own.together
    job = sim.add_job("Lora", size=100 * KIB, model_output_name="acme/ledger")
    table = {"STATE_TABLE_NAME": own.stack.table_name}
    first = run(own, "backfill", "--json", **table)
    assert first.returncode == 0, first.stderr
    [archived] = json_lines(first.stdout)
    s3 = own.aws.client("s3")
    s3.delete_object(Bucket=own.bucket, Key=archived["key"])  # a delete marker: no sha256 tag
    again = run(own, "backfill", "--json", **table)
    assert again.returncode == 0, again.stderr
    assert [(o["action"], o["id"], o["reason"]) for o in json_lines(again.stdout)] == [
        ("skipped", job.id, "already archived (state table)")
    ]
