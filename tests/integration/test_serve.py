"""``ft-archiver serve`` stopped as a user or an orchestrator stops it: Ctrl-C at the
terminal (the whole process group) or SIGTERM. One clean exit, no traceback, and the
moto server it started is gone."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("how", ["Ctrl-C", "SIGTERM"])
def test_serve_stops_cleanly_and_takes_moto_with_it(how: str) -> None:
    serve = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "serve", "--sample-size", "1MiB"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    assert serve.stdout is not None
    lines: list[str] = []
    for line in serve.stdout:
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    [moto] = [line for line in lines if line.startswith("AWS (moto)")]
    port = int(moto.rsplit(":", 1)[1])
    assert port_open(port)
    time.sleep(1)  # a poll or two under way
    if how == "Ctrl-C":
        os.killpg(serve.pid, signal.SIGINT)  # what the terminal sends: every process in it
    else:
        serve.send_signal(signal.SIGTERM)  # what an orchestrator sends: the process alone
    rest, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, rest
    assert "Traceback" not in rest
    deadline = time.monotonic() + 10
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_open(port), "moto outlived serve"


@pytest.mark.parametrize("stage", ["--unpack", "--import"])
def test_serve_with_a_stage_archives_and_unpacks_a_webhooks_job(stage: str) -> None:
    """``serve --unpack``: the sample job sent by ``send-webhook`` as the banner says is
    archived, then unpacked by the stack's unpack stage; both events are printed.
    ``serve --import``: then imported into the fake Bedrock too, a third event."""
    last = "Fine-tune Imported" if stage == "--import" else "Fine-tune Unpacked"
    serve = subprocess.Popen(
        [sys.executable, "-m", "ft_archiver_tools", "serve", stage, "--sample-size", "1MiB"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    assert serve.stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def read_lines() -> None:
        for line in serve.stdout or []:
            lines.put(line)

    reader = threading.Thread(target=read_lines)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any("Ctrl-C stops everything" in line for line in seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        assert any(line.startswith("unpack queue/DLQ") for line in seen)
        imports = [line for line in seen if line.startswith("import queue/DLQ")]
        assert len(imports) == (1 if stage == "--import" else 0)
        [command] = [line.split() for line in seen if "ft-archiver send-webhook" in line]
        sent = subprocess.run(
            [sys.executable, "-m", "ft_archiver_tools", *command[1:]],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        while not any(last in line for line in seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
        reader.join(timeout=10)
    [archived] = [line for line in seen if "event  Fine-tune Archived" in line]
    [unpacked] = [line for line in seen if "event  Fine-tune Unpacked" in line]
    assert archived.rstrip().endswith("/models/acme--sample.tar.zst")
    assert unpacked.rstrip().endswith("/models/acme--sample/")
    if stage == "--import":
        [imported] = [line for line in seen if "event  Fine-tune Imported" in line]
        assert ":imported-model/" in imported
    assert serve.returncode == 0
