"""One way of moving a Together fine-tune into S3, run as its own process by the benchmark.

    python -m tests.benchmarks.methods METHOD JOB_ID BUCKET KEY SIZE [CPU_FILE]

Together's base URL and key come from TOGETHER_BASE_URL and TOGETHER_API_KEY, S3 from
boto3's own AWS_* variables. Each method does what its users do, with its defaults.
With CPU_FILE, the CPU seconds the transfer took (user and system, every thread of this
process, imports excluded) are written there as JSON, with the times (epoch seconds) of
what the method did: its start and end, and its S3 calls (Phases).
"""

import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

MIB = 1024 * 1024


def download_url(job_id: str) -> str:
    return f"{os.environ['TOGETHER_BASE_URL']}/finetune/download?ft_id={job_id}&checkpoint=merged"


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['TOGETHER_API_KEY']}"}


def ft_archiver(job_id: str, bucket: str, key: str, size: int) -> None:
    from ft_archiver_tools.cli import main

    if main(["archive", job_id, "--bucket", bucket, "--key", key]) != 0:
        raise SystemExit(1)


def together_sdk(job_id: str, bucket: str, key: str, size: int) -> None:
    """What users do today: the SDK downloads to disk, then boto3 uploads the file."""
    from together import Together

    client = Together(
        api_key=os.environ["TOGETHER_API_KEY"], base_url=os.environ["TOGETHER_BASE_URL"]
    )
    with tempfile.TemporaryDirectory() as folder:
        result = client.fine_tuning.download(job_id, output=os.path.join(folder, "model.tar.zst"))
        boto3.client("s3").upload_file(result.filename, bucket, key)


def upload_fileobj(job_id: str, bucket: str, key: str, size: int) -> None:
    """boto3's managed upload fed by one streaming GET."""
    import requests

    with requests.get(download_url(job_id), headers=auth(), stream=True, timeout=60) as response:
        response.raise_for_status()
        s3: Any = boto3.client("s3")
        s3.upload_fileobj(response.raw, bucket, key)


def smart_open_writer(job_id: str, bucket: str, key: str, size: int) -> None:
    """smart_open's S3 writer fed by one streaming GET."""
    import requests
    import smart_open

    client = boto3.client("s3")
    with (
        requests.get(download_url(job_id), headers=auth(), stream=True, timeout=60) as response,
        smart_open.open(f"s3://{bucket}/{key}", "wb", transport_params={"client": client}) as out,
    ):
        response.raise_for_status()
        for chunk in response.iter_content(8 * MIB):
            out.write(chunk)


def ceiling(job_id: str, bucket: str, key: str, size: int) -> None:
    """No source at all: parallel UploadPart of bytes already in memory, 16 MiB x 8."""
    import base64
    import random

    from awscrt import checksums
    from botocore.config import Config

    part_size, in_flight = 16 * MIB, 8
    body = random.Random(0).randbytes(part_size)
    s3: Any = boto3.client(
        "s3",
        config=Config(
            max_pool_connections=in_flight + 4, request_checksum_calculation="when_required"
        ),
    )

    def encode(crc: int) -> str:
        return base64.b64encode(crc.to_bytes(8, "big")).decode()

    upload = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )["UploadId"]
    count = -(-size // part_size)
    lengths = [min(part_size, size - n * part_size) for n in range(count)]
    crcs = [checksums.crc64nvme(memoryview(body)[:length]) for length in lengths]

    def send(number: int) -> dict[str, Any]:
        length = lengths[number - 1]
        data = body if length == part_size else body[:length]
        response = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data,
            ChecksumAlgorithm="CRC64NVME", ChecksumCRC64NVME=encode(crcs[number - 1]),
        )  # fmt: skip
        return {"PartNumber": number, "ETag": response["ETag"],
                "ChecksumCRC64NVME": encode(crcs[number - 1])}  # fmt: skip

    with ThreadPoolExecutor(in_flight) as pool:
        parts = list(pool.map(send, range(1, count + 1)))
    total = 0
    for crc, length in zip(crcs, lengths, strict=True):
        total = checksums.combine_crc64nvme(total, crc, length)
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, ChecksumType="FULL_OBJECT",
        ChecksumCRC64NVME=encode(total), MultipartUpload={"Parts": parts},
    )  # fmt: skip


METHODS: dict[str, Callable[[str, str, str, int], None]] = {
    "ft-archiver": ft_archiver,
    "together SDK + upload_file": together_sdk,
    "upload_fileobj(GET)": upload_fileobj,
    "smart_open(GET)": smart_open_writer,
    "ceiling: UploadPart from memory": ceiling,
}

# What each method imports, loaded before its CPU is counted: a warm Lambda has them.
IMPORTS: dict[str, list[str]] = {
    "ft-archiver": ["ft_archiver_tools.cli_archive", "ft_archiver.wiring.archiver"],
    "together SDK + upload_file": ["boto3", "together"],
    "upload_fileobj(GET)": ["boto3", "requests"],
    "smart_open(GET)": ["boto3", "requests", "smart_open"],
    "ceiling: UploadPart from memory": ["boto3", "awscrt.checksums"],
}


class Phases:
    """When the S3 calls of a method happened: handlers on botocore's before-call and
    after-call events of boto3's default session, registered before the method creates
    its clients (every method's clients come from that session; a client made from
    another session would not be seen)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []  # operation, sent, answered
        session = boto3.session.Session()
        boto3.DEFAULT_SESSION = session
        events = session.events
        events.register("before-call.s3", self._sent)
        events.register("after-call.s3", self._answered)

    @staticmethod
    def _sent(context: dict[str, Any], **_: Any) -> None:
        context["bench_sent"] = time.time()

    def _answered(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, context["bench_sent"], time.time()))

    def marks(self) -> dict[str, float]:
        """The first UploadPart sent, the last one answered, and Complete's two ends."""
        parts = [(sent, answered) for name, sent, answered in self.calls if name == "UploadPart"]
        complete = [(sent, answered) for name, sent, answered in self.calls
                    if name == "CompleteMultipartUpload"]  # fmt: skip
        if not parts or not complete:
            return {}
        return {"first_part_sent": min(sent for sent, _ in parts),
                "last_part_answered": max(answered for _, answered in parts),
                "complete_sent": complete[0][0], "complete_answered": complete[-1][1]}  # fmt: skip


def measured(name: str, job_id: str, bucket: str, key: str, size: int) -> dict[str, float]:
    """Run one method; its CPU seconds (user, system), wall seconds and Phases' marks.

    This process holds the client alone (LocalStack and the simulator are other
    processes), so the process's CPU clock (every thread's user + system) is the
    client's CPU; per-thread clocks would miss threads that botocore, s3transfer or
    awscrt start and end on their own.
    """
    for module in IMPORTS[name]:
        importlib.import_module(module)
    phases = Phases()
    before, started, began = os.times(), time.perf_counter(), time.time()
    METHODS[name](job_id, bucket, key, size)
    after, wall = os.times(), time.perf_counter() - started
    return {"user_s": after.user - before.user, "system_s": after.system - before.system,
            "wall_s": wall, "began": began, "ended": time.time(), **phases.marks()}  # fmt: skip


if __name__ == "__main__":
    name, job, bucket_name, object_key, size_text = sys.argv[1:6]
    figures = measured(name, job, bucket_name, object_key, int(size_text))
    if len(sys.argv) > 6:
        with open(sys.argv[6], "w") as out:
            json.dump(figures, out)
