"""``ft-archiver serve`` stopped as a user or an orchestrator stops it: Ctrl-C at the
terminal (the whole process group) or SIGTERM. One clean exit, no traceback, and the
moto server it started is gone."""

import os
import signal
import socket
import subprocess
import sys
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
