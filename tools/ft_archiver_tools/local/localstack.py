"""LocalStack in host mode (no Docker): the faithful S3 for integrity checks and figures.

moto assembles every object in RAM and validates no checksum; LocalStack's S3 refuses a
wrong part or full-object checksum with BadDigest and keeps memory flat, so the
conformance suite and the benchmark run against it. It needs Python 3.13 and a few pins
(see the Makefile's .venv-localstack); everything it writes stays under ``root``.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

from ft_archiver_tools.local.aws import free_port

ROOT = Path(__file__).resolve().parents[3]  # the repository
PYTHON = ROOT / ".venv-localstack" / "bin" / "python"
# LocalStack keeps S3 object bytes here whatever its other directories are.
S3_STORAGE = Path("/tmp/localstack-s3-storage")  # noqa: S108 - its fixed location


class LocalStack:
    def __init__(self, root: Path | None = None, python: Path = PYTHON) -> None:
        self.root = root or ROOT / ".localstack"
        self.python = python
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "LocalStack is not started"
        return self._process.pid

    def start(self, timeout_s: float = 90.0) -> "LocalStack":
        if not self.python.exists():
            raise RuntimeError(f"{self.python} is missing: run `make localstack` first")
        self.port = free_port()
        directories = {name: self.root / name for name in ("fs", "config", "volume", "tmp")}
        for directory in directories.values():
            directory.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "OVERRIDE_IN_DOCKER": "0",
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "SERVICES": "s3,sqs,events,sts,stepfunctions",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DNS_ADDRESS": "0",
            "DISABLE_EVENTS": "1",
            "FILESYSTEM_ROOT": str(directories["fs"]),
            "CONFIG_DIR": str(directories["config"]),
            "LOCALSTACK_VOLUME_DIR": str(directories["volume"]),
            "TMPDIR": str(directories["tmp"]),
        }
        log = (self.root / "localstack.log").open("wb")
        self._process = subprocess.Popen(
            [str(self.python), "-m", "localstack.runtime.main"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_until_ready(timeout_s)
        except BaseException:  # not ready, or interrupted while starting: nothing left behind
            self.stop()
            raise
        return self

    def _wait_until_ready(self, timeout_s: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"LocalStack exited; see {self.root / 'localstack.log'}")
            try:
                health = requests.get(f"{self.endpoint_url}/_localstack/health", timeout=1)
                if health.ok and health.json()["services"].get("s3") in ("available", "running"):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"LocalStack did not start in {timeout_s:.0f} s")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s, or at once when the wait is interrupted
        (a Ctrl-C on the way out must not leave LocalStack running)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            _kill(process)
        except BaseException:  # interrupted while waiting: kill it, then the interrupt goes on
            _kill(process)
            raise
        shutil.rmtree(S3_STORAGE, ignore_errors=True)

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _kill(process: "subprocess.Popen[bytes]") -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
