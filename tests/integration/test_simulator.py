"""The simulator itself: the bytes it serves are the bytes it claims, in any range; its job
list and the statuses its jobs report."""

import hashlib
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
import requests

from ft_archiver.domain.job import JobStatus
from ft_archiver_tools.local import archive_bytes
from ft_archiver_tools.local.simulator import TogetherSimulator

MIB = 1024 * 1024


def get(sim: TogetherSimulator, path: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    return requests.get(f"{sim.base_url}{path}", headers=headers, timeout=5, allow_redirects=False)


def test_every_mib_and_chunk_differs() -> None:
    blocks = {archive_bytes.block(7, n) for n in range(4)}
    assert len(blocks) == 4
    first = archive_bytes.block(7, 0)
    chunks = {first[i : i + 4096] for i in range(0, MIB, 4096)}
    assert len(chunks) == MIB // 4096


def test_ranges_concatenate_to_the_announced_digest() -> None:
    size = 2 * MIB + 333
    pieces = [archive_bytes.read(3, start, min(700_001, size - start))
              for start in range(0, size, 700_001)]  # fmt: skip
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == archive_bytes.sha256(3, size)


def test_swapped_parts_change_the_digest() -> None:
    whole = archive_bytes.read(5, 0, 2 * MIB)
    half = len(whole) // 2
    swapped = whole[half:] + whole[:half]
    assert hashlib.sha256(swapped).digest() != hashlib.sha256(whole).digest()


def test_blob_answers_head_get_and_ranges(together: TogetherSimulator) -> None:
    job = together.add_job("Full", size=5000)
    archive = together.archive_for(job.id, "model_output_path")
    url = together.blob_url(archive)
    head = requests.head(url, timeout=5)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "5000"
    assert head.headers["ETag"] == archive.etag
    ranged = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=5)
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == "bytes 100-199/5000"
    assert ranged.content == archive_bytes.read(archive.seed, 100, 100)
    suffix = requests.get(url, headers={"Range": "bytes=-10"}, timeout=5)
    assert suffix.content == archive_bytes.read(archive.seed, 4990, 10)
    beyond = requests.get(url, headers={"Range": "bytes=5000-"}, timeout=5)
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == "bytes */5000"
    whole = requests.get(url, timeout=5)
    assert hashlib.sha256(whole.content).hexdigest() == together.sha256(archive)


def test_api_wants_the_bearer_key(together: TogetherSimulator) -> None:
    job = together.add_job("Lora")
    url = f"{together.base_url}/fine-tunes/{job.id}"
    assert requests.get(url, timeout=5).status_code == 401
    ok = requests.get(url, headers={"Authorization": f"Bearer {together.api_key}"}, timeout=5)
    assert ok.json()["training_type"]["type"] == "Lora"
    assert ok.json()["training_type"]["lora_r"] == 8


def test_the_job_list_is_oldest_first_and_insertion_is_creation() -> None:
    with TogetherSimulator() as sim:
        first, second = sim.add_job("Lora"), sim.add_job("Full")
        # 01:00 UTC on Jan 1st, after both defaults: sorts before them as text, not as time
        later = sim.add_job(created_at="2025-12-31T20:00:00-05:00")
        answer = get(sim, "/fine-tunes")
        assert answer.status_code == 200
        data = answer.json()["data"]
        assert [entry["id"] for entry in data] == [first.id, second.id, later.id]
        assert data[0]["created_at"] < data[1]["created_at"]
        assert {entry["status"] for entry in data} == {"completed"}
        sim.list_order = "added"
        sim.add_job(job_id="ft-oldest", created_at="2020-01-01T00:00:00Z")
        assert [e["id"] for e in get(sim, "/fine-tunes").json()["data"]][-1] == "ft-oldest"


def test_add_job_takes_every_status_of_the_api_and_refuses_others() -> None:
    with TogetherSimulator() as sim:
        for status in JobStatus:
            sim.add_job(job_id=f"ft-{status.value}", status=status)
        listed = {e["id"]: e["status"] for e in get(sim, "/fine-tunes").json()["data"]}
        assert listed == {f"ft-{status.value}": status.value for status in JobStatus}
        with pytest.raises(ValueError, match="'canceled' is not one Together reports"):
            sim.add_job(status="canceled")
        with pytest.raises(ValueError, match="not both"):
            sim.add_job(status="queued", completes_after_s=1)
        assert len(sim.jobs) == len(JobStatus)


def checkpoints(sim: TogetherSimulator, job_id: str) -> list[tuple[int, str]]:
    entries = get(sim, f"/fine-tunes/{job_id}/checkpoints").json()["data"]
    return [(entry["step"], entry["checkpoint_type"]) for entry in entries]


def test_a_job_runs_then_completes_and_only_then_has_a_final_model() -> None:
    with TogetherSimulator() as sim:
        # 1 s: the checks before completion take milliseconds; no assertion on speed.
        job = sim.add_job("Lora", steps={40: 1000}, completes_after_s=1.0)
        download = f"/finetune/download?ft_id={job.id}&checkpoint=merged"
        assert get(sim, f"/fine-tunes/{job.id}").json()["status"] == "running"
        assert checkpoints(sim, job.id) == [(40, "Intermediate")]
        refused = get(sim, download)
        assert refused.status_code == 400
        assert "is not completed" in refused.json()["error"]["message"]
        assert get(sim, f"{download}&checkpoint_step=40").status_code == 302  # steps exist
        deadline = time.monotonic() + 10
        while get(sim, f"/fine-tunes/{job.id}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the job never completed"
            time.sleep(0.05)
        assert checkpoints(sim, job.id) == [
            (40, "Intermediate"), (41, "Final Merged"), (41, "Final Adapter"),
        ]  # fmt: skip
        assert get(sim, download).headers["Location"].startswith(f"http://localhost:{sim.port}/")


def test_a_job_redirected_elsewhere_answers_302_to_that_location(
    together: TogetherSimulator,
) -> None:
    job = together.add_job("Lora")
    job.redirect_to = "http://169.254.169.254/latest/meta-data/"
    answer = get(together, f"/finetune/download?ft_id={job.id}&checkpoint=merged")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "http://169.254.169.254/latest/meta-data/"


def test_a_client_that_resets_its_connection_leaves_no_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with TogetherSimulator() as sim:
        address = urlsplit(sim.base_url)
        for _ in range(3):
            client = socket.create_connection((address.hostname, address.port))
            client.sendall(b"GET /v1/fine-tunes HTTP/1.1\r\n")  # and then a reset, no more
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
        time.sleep(0.5)  # the server's threads see the resets
        assert get(sim, "/fine-tunes").status_code == 200  # and it still serves
    assert "Traceback" not in capfd.readouterr().err
