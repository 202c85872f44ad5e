"""The unpack benchmark: ``ft-archiver unpack`` against the by-hand path, same archive,
same machine, same run.

    make bench-unpack   (or: python -m tests.benchmarks.unpack --json bench-unpack.json)

A deterministic ``.tar.zst`` of a Hugging Face-shaped model (ModelArchive) is put into
each S3 server in turn (--servers: LocalStack's S3 in host mode, whose Python process is
slower than either client, and SeaweedFS, a native server that is not), 127.0.0.1,
tagged with its SHA-256 as ft-archiver tags a verified archive. Then each method runs as
its own process, timed end to end (interpreter start included), median of --runs, with
that process's own peak RSS (VmHWM; the by-hand path's ``zstd`` and ``tar`` apart), the
client CPU it took (user + system seconds per GiB of archive, imports excluded; ``zstd``
and ``tar`` included), the server's CPU meanwhile, and the disk it used (the peak size of
its temporary folder, sampled every 50 ms):

- ft-archiver: the service as ``ft-archiver unpack KEY`` runs it, default settings.
- by hand: ``download_file`` of the archive to disk, ``zstd -dc | tar -x`` into a folder
  (python-zstandard and tarfile when there is no ``zstd`` binary), then every file with
  ``upload_file`` in a thread pool as large as ft-archiver's upload concurrency (what
  ``aws s3 sync`` does), CRC64NVME checksums on.

Each method's objects are checked once per size against the archive's own SHA-256 of
every file; the bucket is emptied of them after every run. Ratio = by-hand wall time /
ft-archiver's wall time: 1.0x or more means ft-archiver is no slower.
"""

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import boto3

from ft_archiver.domain.parts import DEFAULT_UPLOAD_CONCURRENCY, parse_size
from ft_archiver.domain.unpack.layout import folder_prefix, unpack_layout
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.model_archive import ModelArchive, ModelSpec
from ft_archiver_tools.local.seaweedfs import SeaweedFS
from tests.benchmarks.run import s3_of
from tests.support.aws import aws_environment

MIB = 1024 * 1024
GIB = 1024 * MIB
ROOT = Path(__file__).resolve().parents[2]
BUCKET = "bench-unpack"
SOURCE = "archives/"  # where the archives are put
OURS = "ft-archiver"
BY_HAND = "by hand"
SAMPLE_S = 0.05


# -- the methods, each run in a process of its own ---------------------------------------


def ours(bucket: str, key: str, prefix: str, workdir: str) -> None:
    """``ft-archiver unpack KEY --prefix PREFIX --no-event``, in process, with its
    defaults (no event: the by-hand path publishes none, and the server has no bus)."""
    from ft_archiver_tools.cli import main

    command = ["unpack", key, "--bucket", bucket, "--prefix", prefix, "--json", "--no-event"]
    if main(command) != 0:
        raise SystemExit(1)


def by_hand(bucket: str, key: str, prefix: str, workdir: str) -> None:
    """GET to disk, ``zstd -dc | tar -x``, then every file up with ``upload_file``."""
    from concurrent.futures import ThreadPoolExecutor

    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    work = Path(workdir)
    archive, folder = work / Path(key).name, work / "extracted"
    folder.mkdir()
    s3: Any = boto3.client("s3", config=Config(max_pool_connections=64))
    started = time.perf_counter()
    s3.download_file(bucket, key, str(archive))
    PHASES["get_s"] = time.perf_counter() - started
    extract(archive, folder)
    PHASES["extract_s"] = time.perf_counter() - started - PHASES["get_s"]
    files = [path for path in folder.rglob("*") if path.is_file()]
    # The archive's single top-level folder is stripped, as ft-archiver strips it.
    tops = {path.relative_to(folder).parts[0] for path in files}
    base = (
        folder / tops.pop()
        if len(tops) == 1 and all(len(path.relative_to(folder).parts) > 1 for path in files)
        else folder
    )

    def send(path: Path) -> None:
        target = f"{folder_of(key, prefix)}{path.relative_to(base).as_posix()}"
        s3.upload_file(str(path), bucket, target, ExtraArgs={"ChecksumAlgorithm": "CRC64NVME"},
                       Config=TransferConfig())  # fmt: skip

    with ThreadPoolExecutor(DEFAULT_UPLOAD_CONCURRENCY) as pool:
        list(pool.map(send, files))
    PHASES["upload_s"] = time.perf_counter() - started - PHASES["get_s"] - PHASES["extract_s"]


def extract(archive: Path, folder: Path) -> None:
    """``zstd -dc ARCHIVE | tar -x -C FOLDER``; python-zstandard and tarfile without them."""
    if ZSTD and TAR:
        with subprocess.Popen([ZSTD, "-dc", "-q", str(archive)], stdout=subprocess.PIPE) as z:
            untar = subprocess.Popen([TAR, "-x", "-C", str(folder)], stdin=z.stdout)
            assert z.stdout is not None
            z.stdout.close()
            with PeakWatch([z.pid, untar.pid]):
                untar.wait()
                z.wait()
        if z.returncode or untar.returncode:
            raise RuntimeError(f"zstd -d | tar -x failed ({z.returncode}, {untar.returncode})")
        return
    import tarfile

    import zstandard

    with archive.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(
        raw, read_across_frames=True
    ) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:  # fmt: skip
        tar.extractall(folder, filter="data")


ZSTD, TAR = shutil.which("zstd"), shutil.which("tar")
DECOMPRESSOR = "zstd -dc | tar -x" if ZSTD and TAR else "python-zstandard + tarfile"

# Where the by-hand path's time went (seconds): the GET to disk, zstd | tar, the uploads.
PHASES: dict[str, float] = {}

METHODS: dict[str, Callable[[str, str, str, str], None]] = {OURS: ours, BY_HAND: by_hand}
IMPORTS: dict[str, list[str]] = {
    OURS: ["ft_archiver_tools.cli", "ft_archiver_tools.cli_unpack", "ft_archiver.wiring.unpacker",
           "ft_archiver.service.unpack.unpacker"],
    BY_HAND: ["boto3", "boto3.s3.transfer", "concurrent.futures"],
}  # fmt: skip


def peak_rss_mib(pid: int | str = "self") -> float:
    """A process's own peak RSS (VmHWM, of its memory since its exec).

    Not wait4's ru_maxrss: Linux carries the spawning process's peak into it at exec
    (Popen spawns with vfork), so a child of a large parent reports the parent's RSS.
    """
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


class PeakWatch:
    """The largest peak RSS of some child processes (zstd, tar), read every 20 ms while
    they run (so their last 20 ms may be missed)."""

    peak_mib = 0.0

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self.pids:
                with contextlib.suppress(OSError, IndexError, ValueError):  # exited
                    PeakWatch.peak_mib = max(PeakWatch.peak_mib, peak_rss_mib(pid))

    def __enter__(self) -> "PeakWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measured(name: str, bucket: str, key: str, prefix: str, workdir: str) -> dict[str, Any]:
    """One method, its imports loaded first; the CPU seconds it took, its children's
    (zstd, tar) included; its peak RSS and theirs."""
    for module in IMPORTS[name]:
        importlib.import_module(module)
    before, started = os.times(), time.perf_counter()
    METHODS[name](bucket, key, prefix, workdir)
    after, wall = os.times(), time.perf_counter() - started
    cpu = sum(getattr(after, n) - getattr(before, n)
              for n in ("user", "system", "children_user", "children_system"))  # fmt: skip
    return {"cpu_s": cpu, "wall_s": wall, "peak_rss_mib": peak_rss_mib(),
            "children_peak_rss_mib": PeakWatch.peak_mib, "phases": PHASES}  # fmt: skip


# -- the parent: the S3 servers, the archives, the runs --------------------------------------


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)
    peak_rss_mib: list[float] = field(default_factory=list)
    children_peak_rss_mib: list[float] = field(default_factory=list)
    cpu_s_per_gib: list[float] = field(default_factory=list)
    disk_peak_mib: list[float] = field(default_factory=list)
    servers_cpu_s_per_gib: list[float] = field(default_factory=list)  # the S3 server's
    phases: list[dict[str, float]] = field(default_factory=list)
    verified: bool | None = None

    def add(self, sample: "Sample", gib: float) -> None:
        self.seconds.append(round(sample.seconds, 2))
        self.peak_rss_mib.append(round(sample.peak_rss_mib, 1))
        self.children_peak_rss_mib.append(round(sample.children_peak_rss_mib, 1))
        self.cpu_s_per_gib.append(round(sample.cpu_s / gib, 3))
        self.disk_peak_mib.append(round(sample.disk_peak_bytes / MIB, 1))
        self.servers_cpu_s_per_gib.append(round(sample.servers_cpu_s / gib, 3))
        self.phases.append({k: round(v, 3) for k, v in sample.phases.items()})

    def summary(self) -> dict[str, Any]:
        names = self.phases[0] if self.phases else {}
        phases = {name: round(statistics.median(run[name] for run in self.phases), 2)
                  for name in names}  # fmt: skip
        return {**asdict(self), "median_s": statistics.median(self.seconds),
                "median_servers_cpu_s_per_gib": statistics.median(self.servers_cpu_s_per_gib),
                "median_phases_s": phases,
                "median_cpu_s_per_gib": statistics.median(self.cpu_s_per_gib),
                "max_peak_rss_mib": max(self.peak_rss_mib),
                "max_disk_peak_mib": max(self.disk_peak_mib)}  # fmt: skip


def folder_bytes(folder: Path) -> int:
    """What a folder's files take on disk (allocated blocks), racing a writer."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


class DiskPeak:
    """The peak size of a folder while a method runs, sampled every SAMPLE_S."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak = folder, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, folder_bytes(self.folder))
            if self._stop.wait(SAMPLE_S):
                return

    def __enter__(self) -> "DiskPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, folder_bytes(self.folder))


@dataclass
class Sample:
    seconds: float
    peak_rss_mib: float
    children_peak_rss_mib: float
    cpu_s: float
    disk_peak_bytes: int
    servers_cpu_s: float
    phases: dict[str, float]


def cpu_s(pid: int) -> float:
    """A process's user + system CPU seconds so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_method(method: str, key: str, prefix: str, env: dict[str, str], server: int) -> Sample:
    """One method as one process, in a fresh temporary folder (its TMPDIR too)."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-unpack-") as workdir,
        tempfile.NamedTemporaryFile("r", suffix=".json") as cpu_file,
    ):
        work = Path(workdir) / "work"
        work.mkdir()
        child_env = {**env, "TMPDIR": str(work)}
        command = [sys.executable, "-m", "tests.benchmarks.unpack", "--method", method,
                   BUCKET, key, prefix, str(work), cpu_file.name]  # fmt: skip
        server_before = cpu_s(server)
        with DiskPeak(work) as disk:
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=ROOT, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            _, status, _ = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - started
        server_cpu = cpu_s(server) - server_before
        stderr = process.stderr.read().decode() if process.stderr else ""
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{method} failed:\n{stderr[-3000:]}")
        figures = json.load(cpu_file)
    return Sample(elapsed, figures["peak_rss_mib"], figures["children_peak_rss_mib"],
                  figures["cpu_s"], disk.peak, server_cpu, figures["phases"])  # fmt: skip


class CompressedReader:
    """The archive's compressed bytes as a file object, for upload_fileobj."""

    def __init__(self, archive: ModelArchive) -> None:
        self._pieces: Iterator[memoryview] = archive.iter_compressed(8 * MIB)
        self._left = b""

    def read(self, size: int = -1) -> bytes:
        chunks, have = [self._left], len(self._left)
        while size < 0 or have < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            chunks.append(bytes(piece))
            have += len(piece)
        data = b"".join(chunks)
        if size < 0:
            self._left = b""
            return data
        self._left = data[size:]
        return data[:size]


def put_archive(s3: Any, archive: ModelArchive, key: str) -> None:
    """The archive in the bucket, tagged sha256 as ft-archiver tags a verified archive."""
    s3.upload_fileobj(CompressedReader(archive), BUCKET, key,
                      ExtraArgs={"ContentType": archive.content_type})  # fmt: skip
    tags = {"TagSet": [{"Key": "sha256", "Value": archive.sha256}]}
    s3.put_object_tagging(Bucket=BUCKET, Key=key, Tagging=tags)


def folder_of(key: str, prefix: str) -> str:
    """Where ``unpack KEY --prefix PREFIX`` puts the archive's folder, without an
    ARCHIVE_PREFIX (domain/unpack/layout.py): the key's sub-folders kept under the
    prefix. The by-hand path writes to the same folder."""
    return unpack_layout(folder_prefix(key, "", prefix), Path(key).name).folder


def keys_under(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def empty(s3: Any, prefix: str) -> None:
    keys = keys_under(s3, prefix)
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=BUCKET, Delete={
            "Objects": [{"Key": k} for k in keys[start : start + 1000]]})  # fmt: skip
    for upload in s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])


def sha256_of(s3: Any, key: str) -> str:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(8 * MIB), b""):
        digest.update(chunk)
    return digest.hexdigest()


def same_files(s3: Any, archive: ModelArchive, folder: str) -> bool:
    """The folder holds exactly the archive's files (its top folder stripped), each with
    the SHA-256 ModelArchive computed from the file's description."""
    top = f"{archive.spec.top}/" if archive.spec.top else ""
    expected = {folder + name.removeprefix(top): d.sha256 for name, d in archive.digests().items()}
    found = keys_under(s3, folder)
    if sorted(found) != sorted(expected):
        print(f"  objects differ under {folder}: {sorted(set(found) ^ set(expected))}")
        return False
    bad = [key for key, sha in expected.items() if sha256_of(s3, key) != sha]
    for key in bad:
        print(f"  SHA-256 mismatch: {key}")
    return not bad


def attempt(
    s3: Any, archive: ModelArchive, key: str, prefix: str, run: Callable[[], Sample]
) -> Sample:
    """One run; once more after a failure that another LocalStack's stop caused (each
    one removes /tmp/localstack-s3-storage, this one's objects with it, on its way out:
    a test suite run on the same machine meanwhile), with the archive put back."""
    for left in (2, 1, 0):
        try:
            return run()
        except RuntimeError as failed:
            if "localstack-s3-storage" not in str(failed) or not left:
                raise
            print("  LocalStack's storage was removed under it (another LocalStack "
                  "stopped): archive put back, run again", flush=True)  # fmt: skip
            empty(s3, prefix)
            put_archive(s3, archive, key)
    raise AssertionError("unreachable")


SERVERS = {"localstack": "LocalStack", "seaweedfs": "SeaweedFS"}


@contextlib.contextmanager
def s3_server(server: str) -> Iterator[tuple[dict[str, str], int]]:
    """The environment of a method's process against one S3 server, and that server's
    pid (its CPU is measured beside the clients')."""
    with LocalStack() if server == "localstack" else SeaweedFS() as running:
        aws = aws_environment(running.endpoint_url)
        if server == "seaweedfs":
            # SeaweedFS reads a session token as one its own STS issued, and refuses ours
            aws.pop("AWS_SESSION_TOKEN", None)
        env = {**os.environ, **aws}
        for name in ("ARCHIVE_BUCKET", "ARCHIVE_PREFIX", "UNPACK_PREFIX", "AWS_PROFILE",
                     "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):  # fmt: skip
            env.pop(name, None)
        env.update(aws)
        yield env, running.pid


def bench_server(server: str, sizes: list[str], methods: list[str], runs: int) -> dict[str, Any]:
    """Every size and method on one S3 server, the methods interleaved run by run."""
    results: dict[str, Any] = {}
    with s3_server(server) as (env, pid):
        s3 = s3_of(env)
        s3.create_bucket(Bucket=BUCKET)
        for text in sizes:
            archive = ModelArchive(ModelSpec(size=parse_size(text), seed=18))
            name = f"model-{text}"
            key = f"{SOURCE}{name}.tar.zst"
            put_archive(s3, archive, key)
            size = archive.size
            gib = size / GIB
            table: dict[str, Runs] = {}
            for n in range(runs):
                for method in methods:
                    runs_of = table.setdefault(method, Runs())
                    prefix = f"out/{method.replace(' ', '-')}/"
                    one = partial(run_method, method, key, prefix, env, pid)
                    sample = attempt(s3, archive, key, prefix, one)
                    if n == 0:
                        runs_of.verified = same_files(s3, archive, folder_of(key, prefix))
                    empty(s3, prefix)
                    runs_of.add(sample, gib)
                    print(f"{SERVERS[server]:10} {text:>7} {method:12} run {n + 1}: "
                          f"{sample.seconds:6.1f} s  {size / sample.seconds / 1e6:6.1f} MB/s  "
                          f"peak RSS {sample.peak_rss_mib:5.0f} MiB  CPU "
                          f"{sample.cpu_s / gib:5.2f} s/GiB  disk "
                          f"{sample.disk_peak_bytes / MIB:6.0f} MiB  server "
                          f"{sample.servers_cpu_s / gib:5.2f} s/GiB  {sample.phases or ''}",
                          flush=True)  # fmt: skip
            s3.delete_object(Bucket=BUCKET, Key=key)
            results[text] = {
                "archive_bytes": size,
                "files": len(archive.files),
                "methods": {method: runs_of.summary() for method, runs_of in table.items()},
            }
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="256MiB,1GiB", help="the models' sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="the S3 servers, each in turn: localstack, seaweedfs")  # fmt: skip
    parser.add_argument("--json", type=Path)
    parser.add_argument("--method", help=argparse.SUPPRESS)  # a child: run one method
    parser.add_argument("child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        bucket, key, prefix, workdir, cpu_path = args.child
        figures = measured(args.method, bucket, key, prefix, workdir)
        Path(cpu_path).write_text(json.dumps(figures))
        return 0
    servers = args.servers.split(",")
    if unknown := sorted(set(servers) - set(SERVERS)):
        parser.error(f"--servers: unknown {', '.join(unknown)} (localstack, seaweedfs)")
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores (shared with the S3 server), "
        f"{platform.machine()}, {platform.platform()}",
        "runs": args.runs,
        "by_hand_decompressor": DECOMPRESSOR,
        "upload_concurrency": DEFAULT_UPLOAD_CONCURRENCY,
        "ratio": "by-hand wall time / ft-archiver's wall time (>= 1.0x: ft-archiver no slower)",
        "servers": {
            server: bench_server(server, args.sizes.split(","), args.methods.split(","), args.runs)
            for server in servers
        },
    }
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def render(results: dict[str, Any]) -> str:
    lines = [f"Machine: {results['machine']}; median of {results['runs']} runs; by hand: "
             f"download_file, {results['by_hand_decompressor']}, upload_file x "
             f"{results['upload_concurrency']} threads; ratio = by-hand s / ft-archiver s.",
             "", "| server | archive | method | median s | MB/s | ratio | peak RSS MiB "
             "| client CPU s/GiB | server CPU s/GiB | disk MiB | SHA-256 per file |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| --- |"]  # fmt: skip
    for server, sizes in results["servers"].items():
        for data in sizes.values():
            lines.extend(_rows(SERVERS[server], data))
    lines.append("")
    for server, sizes in results["servers"].items():
        for text, data in sizes.items():
            phases = data["methods"].get(BY_HAND, {}).get("median_phases_s")
            if phases:
                lines.append(f"by hand on {SERVERS[server]}, {text} (median s): GET to disk "
                             f"{phases['get_s']:.1f}, zstd -d | tar x {phases['extract_s']:.1f}, "
                             f"upload_file {phases['upload_s']:.1f}")  # fmt: skip
    return "\n".join(lines)


def _rows(server: str, data: dict[str, Any]) -> list[str]:
    size, methods = data["archive_bytes"], data["methods"]
    rows = []
    for method, runs in methods.items():
        median = runs["median_s"]
        ratio = "-"
        if method == OURS and BY_HAND in methods:
            ratio = f"{methods[BY_HAND]['median_s'] / median:.2f}x"
        children = max(runs["children_peak_rss_mib"])
        rss = f"{runs['max_peak_rss_mib']:.0f}" + (
            f" (+{children:.0f} zstd/tar)" if children else ""
        )
        verified = {True: "same", False: "MISMATCH", None: "-"}[runs["verified"]]
        rows.append(
            f"| {server} | {size / MIB:,.0f} MiB, {data['files']} files | {method} | "
            f"{median:.1f} | {size / median / 1e6:.1f} | {ratio} | {rss} | "
            f"{runs['median_cpu_s_per_gib']:.2f} | {runs['median_servers_cpu_s_per_gib']:.2f} | "
            f"{runs['max_disk_peak_mib']:,.0f} | {verified} |"
        )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
