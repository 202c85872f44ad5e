"""``ft-archiver demo`` as a new user runs it (smaller): both triggers, both verified,
both unpacked by the stack's unpack stage and imported by its import stage."""

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
    # Unpack=true: each archived model also a folder of its files, each checked
    assert done.stdout.count("each matches the simulator") == 2
    assert "1. webhook" in done.stdout
    assert "2. poller" in done.stdout
    # Import=bedrock: each folder imported into the fake Bedrock, which holds the model
    assert done.stdout.count("(held by Bedrock)") == 2
    assert done.stdout.rstrip().endswith("both verified, unpacked and imported, events out")
    assert "Traceback" not in done.stderr
