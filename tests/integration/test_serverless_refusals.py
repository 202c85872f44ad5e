"""What a webhook-secret holder can ask of the deployed topology, and what it is refused
(issue 17, section 3): another archive's key, and a job larger than MaxArchiveGiB. Each
refusal is one failure event, not retried, and counted by name."""

import time
from collections.abc import Callable, Iterator

import pytest

from ft_archiver.domain.parts import GIB
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from tests.support.aws import set_all
from tests.support.sandbox import local_deployment
from tests.support.settings import archiver_variables

from .test_serverless import Topology, emitted_metrics, lora

KIB = 1024


@pytest.fixture(scope="module")
def deployment(together: TogetherSimulator) -> Iterator[LocalDeployment]:
    environment = archiver_variables(FT_ARCHIVER_LEASE_WAIT=0)
    with local_deployment(together, "serverless-refusals", environment) as local:
        yield local


@pytest.fixture
def topology(
    deployment: LocalDeployment, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Topology]:
    set_all(monkeypatch.setenv, deployment.environment)
    together.set_faults(Faults())
    yield Topology(deployment, together)
    together.set_faults(Faults())


def assert_refused_once(topology: Topology, error_type: str) -> str:
    """Consumed without a retry or a dead letter; one failure event; its message."""
    assert topology.queued() == 0
    assert topology.queued(topology.stack.dead_letter_queue_url) == 0
    [event] = topology.events.read()
    assert event["detail-type"] == "Fine-tune Archive Failed"
    assert (event["detail"]["error_type"], event["detail"]["retryable"]) == (error_type, False)
    message: str = event["detail"]["error"]
    return message


def test_a_signed_webhook_cannot_replace_the_archive_at_its_key(
    topology: Topology, capsys: pytest.CaptureFixture[str]
) -> None:
    key = f"{topology.stack.prefix}team/{time.time_ns()}/model.tar.zst"
    victim = lora(topology)
    assert topology.send({"id": victim.id, "key": key}).status_code == 202
    assert topology.run_archiver() == 1
    [archived] = topology.events.read()
    kept = topology.stored.versions_of(key)
    manifest = topology.stored.manifest(f"{key}.manifest.json")
    intruder = lora(topology)
    assert topology.send({"id": intruder.id, "key": key}).status_code == 202  # signed: queued
    capsys.readouterr()
    assert topology.run_archiver() == 1
    message = assert_refused_once(topology, "ArchiveConflictError")
    assert f"s3://{topology.stack.bucket}/{key} already holds another object" in message
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics["ArchiveFailures"], metrics["ArchivesRefusedConflict"]) == ([1.0], [1.0])
    assert topology.stored.versions_of(key) == kept
    assert topology.stored.sha256_of(key) == archived["detail"]["sha256"]
    assert topology.stored.manifest(f"{key}.manifest.json") == manifest
    assert topology.stored.open_uploads() == []


def test_a_job_above_max_archive_gib_is_refused_before_any_byte_moves(
    topology: Topology,
    reconfigure: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    limit = 512 * KIB / GIB
    reconfigure("FT_ARCHIVER_MAX_ARCHIVE_GIB", repr(limit))
    job = lora(topology, size=600 * KIB)
    assert topology.send({"id": job.id}).status_code == 202
    capsys.readouterr()
    assert topology.run_archiver() == 1
    message = assert_refused_once(topology, "ArchiveOverLimitError")
    assert f"({600 * KIB:,} bytes), above the limit of {limit:g} GiB" in message
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics["ArchiveFailures"], metrics["ArchivesRefusedTooLarge"]) == ([1.0], [1.0])
    archive = topology.together.archive_for(job.id, "merged")
    assert [r.range for r in topology.together.blob_requests(archive)] == ["bytes=0-1"]
    assert topology.stored.open_uploads() == []
