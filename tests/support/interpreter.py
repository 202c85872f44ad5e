"""Python code run in a fresh interpreter, as a Lambda cold start would run it."""

import os
import subprocess
import sys


def run_fresh(code: str, *args: str) -> str:
    """The standard output of ``code`` run by a new interpreter with ``args``."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout
