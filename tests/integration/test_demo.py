"""``ft-archiver demo`` as a new user runs it (smaller): both triggers, both verified."""

import subprocess
import sys


def test_demo_archives_one_job_by_webhook_and_one_by_the_poller() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ft_archiver_tools", "demo", "--size", "2MiB"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("(matches the simulator)") == 2
    assert "1. webhook" in done.stdout
    assert "2. poller" in done.stdout
    assert done.stdout.rstrip().endswith("both verified, events out")
    assert "Traceback" not in done.stderr
