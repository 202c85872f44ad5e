"""``GET /fine-tunes`` and ``GET /fine-tunes/{id}/checkpoints`` over HTTP against a
simulator of their own (the shared one holds other tests' jobs)."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.domain.job import JobStatus
from ft_archiver.domain.unexpected import UnexpectedAnswer
from ft_archiver.errors import TogetherAuthError, TogetherError
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator


@pytest.fixture
def sim() -> Iterator[TogetherSimulator]:
    with TogetherSimulator() as simulator:
        yield simulator


def client(base_url: str, key: str = "sim-together-key") -> TogetherClient:
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.01)
    return TogetherClient(key, base_url, read_timeout_s=10, retry=policy)


def test_every_status_of_the_api_is_read(sim: TogetherSimulator) -> None:
    for status in JobStatus:
        sim.add_job("Lora", status=status.value)
    jobs = client(sim.base_url).list_fine_tunes()
    assert [job.status for job in jobs] == [status.value for status in JobStatus]
    assert [job.completed for job in jobs].count(True) == 1


def test_jobs_come_oldest_first_whatever_the_order_sent(sim: TogetherSimulator) -> None:
    sim.list_order = "added"
    newest = sim.add_job(created_at="2026-11-03T00:00:00Z")
    oldest = sim.add_job(created_at="2026-11-01T00:00:00+00:00")
    middle = sim.add_job(created_at="2026-11-02T09:00:00+09:00")  # 00:00 UTC on the 2nd
    sent = [entry["id"] for entry in sim.job_list()]
    assert sent == [newest.id, oldest.id, middle.id]  # neither oldest nor newest first
    ids = [job.id for job in client(sim.base_url).list_fine_tunes()]
    assert ids == [oldest.id, middle.id, newest.id]


def test_unknown_fields_are_ignored_and_kept_for_provenance(sim: TogetherSimulator) -> None:
    job = sim.add_job("Full")
    job.extra = {"n_epochs": 3, "new_field_from_2027": {"nested": True}}
    retrieved = client(sim.base_url).retrieve(job.id)
    assert (retrieved.id, retrieved.training_type) == (job.id, "Full")
    assert retrieved.document["new_field_from_2027"] == {"nested": True}


def test_a_list_entry_carries_only_what_together_documents(sim: TogetherSimulator) -> None:
    """FinetuneResponseTruncated (openapi.yaml): no training_type, no model_output_path;
    the entry is read for id, status and created_at and nothing else."""
    job = sim.add_job("Full")
    [listed] = client(sim.base_url).list_fine_tunes()
    assert (listed.id, listed.status, listed.created_at) == (job.id, "completed", job.created_at)
    assert not {"training_type", "model_output_path"} & set(listed.document)
    assert not hasattr(listed, "training_type")


def test_the_legacy_empty_training_type_is_full(sim: TogetherSimulator) -> None:
    job = sim.add_job("Full", legacy_training_type=True)
    retrieved = client(sim.base_url).retrieve(job.id)
    assert retrieved.document["training_type"] == {"type": ""}
    assert retrieved.training_type == "Full"


def test_thousands_of_jobs_in_one_answer(sim: TogetherSimulator) -> None:
    for n in range(3000):
        sim.add_job("Lora", status="completed" if n % 3 else "cancelled")
    jobs = client(sim.base_url).list_fine_tunes()
    assert len(jobs) == 3000
    assert sum(job.completed for job in jobs) == 2000
    assert [job.created_at for job in jobs] == sorted(job.created_at or "" for job in jobs)


def test_a_rejected_key_is_an_auth_error_without_the_key(sim: TogetherSimulator) -> None:
    with pytest.raises(TogetherAuthError) as caught:
        client(sim.base_url, key="not-the-key").list_fine_tunes()
    assert "not-the-key" not in str(caught.value)


def test_a_5xx_is_retried(sim: TogetherSimulator) -> None:
    sim.add_job()
    sim.set_faults(Faults(fail_first=2, fail_status=502, targets=frozenset({"api"})))
    assert len(client(sim.base_url).list_fine_tunes()) == 1
    answers = [entry.status for entry in sim.requests_to("api") if entry.path == "/v1/fine-tunes"]
    assert answers == [502, 502, 200]


class _Canned(BaseHTTPRequestHandler):
    body: bytes = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def canned(answer: bytes) -> Iterator[str]:
    """A server answering every GET with ``answer``; yields its base URL."""
    handler = type("Handler", (_Canned,), {"body": answer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"<html>oops</html>", "did not answer JSON"),
        (b'["a list"]', "not an object"),
        (b'{"data": {"id": "ft-1"}}', "'data' that is not a list"),
        (b'{"data": null}', "'data' that is not a list"),
        (b'{"object": "list"}', "no 'data' list"),
    ],
)
def test_a_malformed_answer_is_a_clear_error(answer: bytes, says: str) -> None:
    with canned(answer) as base_url, pytest.raises(TogetherError, match=says) as caught:
        client(base_url).list_fine_tunes()
    assert "/v1/fine-tunes" in str(caught.value)


def test_a_bad_entry_is_reported_and_left_out_the_others_are_kept() -> None:
    """One entry Together's list would not send must not hide every other job: it is
    reported (and counted, in the functions) and the rest of the list is read."""
    good = {"status": "completed", "created_at": "2026-11-01T00:00:00Z"}
    answer = {"data": [{"id": "ft-1", **good}, "ft-2", {"status": "completed"},
                       {"id": "ft-4", "status": 7}, {"id": "ft-5", **good}]}  # fmt: skip
    heard: list[UnexpectedAnswer] = []
    policy = RetryPolicy(max_attempts=1, base_delay_s=0.001, max_delay_s=0.01)
    with canned(json.dumps(answer).encode()) as base_url:
        together = TogetherClient("k", base_url, retry=policy, on_unexpected=heard.append)
        assert [job.id for job in together.list_fine_tunes()] == ["ft-1", "ft-5"]
    assert [(h.job_id, h.field, h.found) for h in heard] == [
        (None, "entry", "bad at data[1]"), (None, "id", "bad at data[2]"),
        ("ft-4", "status", "bad at data[3]"),
    ]  # fmt: skip


def test_unknown_statuses_and_missing_fields_are_reported_not_refused() -> None:
    answer = {"data": [{"id": "ft-1", "status": "paused", "created_at": "2026-11-01T00:00:00Z"},
                       {"id": "ft-2", "status": "completed"}]}  # fmt: skip
    heard: list[UnexpectedAnswer] = []
    with canned(json.dumps(answer).encode()) as base_url:
        together = TogetherClient("k", base_url, on_unexpected=heard.append)
        jobs = together.list_fine_tunes()
    assert [(job.id, job.completed) for job in jobs] == [("ft-2", True), ("ft-1", False)]
    assert [h.describe() for h in heard] == [
        "Together's list answer for fine-tune ft-1 has status 'paused'",
        "Together's list answer for fine-tune ft-2 has created_at missing",
    ]


def test_a_checkpoint_list_without_data_is_an_error_not_an_empty_list() -> None:
    with canned(b"{}") as base_url, pytest.raises(TogetherError, match="no 'data' list") as caught:
        client(base_url).list_checkpoints("ft-1")
    assert "/v1/fine-tunes/ft-1/checkpoints" in str(caught.value)


def test_a_job_completes_over_time(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", steps={50: 1000}, completes_after_s=0.3)
    together = client(sim.base_url)
    [before] = together.list_fine_tunes()
    assert before.status == "running"
    assert [c.step for c in together.list_checkpoints(job.id)] == [50]  # no final model yet
    deadline = time.monotonic() + 10
    while not together.retrieve(job.id).completed:
        assert time.monotonic() < deadline, "the job never completed"
        time.sleep(0.05)
    checkpoints = together.list_checkpoints(job.id)
    assert [(c.step, c.intermediate) for c in checkpoints] == [(50, True), (51, False), (51, False)]


def test_a_download_of_an_unfinished_job_is_refused(sim: TogetherSimulator) -> None:
    from ft_archiver.domain.checkpoints import DownloadSpec, TrainingType

    job = sim.add_job("Lora", status="running")
    with pytest.raises(TogetherError, match="HTTP 400"):
        client(sim.base_url).open_download(DownloadSpec(job.id, None, TrainingType.LORA, "merged"))
