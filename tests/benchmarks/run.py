"""The benchmark: ft-archiver against what users do today, same machine, same run.

    make bench        (or: python -m tests.benchmarks.run --json bench-results.json)

LocalStack's S3 (host mode) is the target, the Together simulator the source, both on
127.0.0.1. Scenario A caps every source connection at 25 MB/s, as an internet download
is capped; scenario B is uncapped loopback. Every method runs as its own process, timed
end to end (interpreter start included), median of --runs, with the peak RSS of that
process; each method's object is checked against the simulator's SHA-256 once.
"""

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from ft_archiver.domain.parts import parse_size
from ft_archiver_tools.local.aws import TEST_CREDENTIALS
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator

from .methods import METHODS

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]
BUCKET = "bench"
CEILING = "ceiling: UploadPart from memory"


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)
    peak_rss_mib: list[float] = field(default_factory=list)
    verified: bool | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


def run_method(
    method: str, job_id: str, key: str, size: int, env: dict[str, str]
) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one method as one process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.methods", method, job_id, BUCKET, key, str(size)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{method} failed ({process.returncode}):\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def object_sha256(s3: Any, key: str) -> str:
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
    for chunk in iter(lambda: body.read(8 * MIB), b""):
        digest.update(chunk)
    return digest.hexdigest()


PROBE = """
import importlib, sys, time
listed = sys.argv[1].split()
started = time.perf_counter()
for name in listed:
    try:
        importlib.import_module(name)
    except ImportError:  # aliases such as __mp_main__ cannot be imported by name
        pass
dependencies = time.perf_counter() - started
started = time.perf_counter()
importlib.import_module(sys.argv[2])
print(dependencies, time.perf_counter() - started)
"""


def cold_start(repeats: int = 5) -> dict[str, Any]:
    """The archiver handler's own import cost against its dependencies' (fresh processes).

    Each process first imports every module the handler's import loads but ours, in the
    same order, then the handler itself: the second figure is what our code adds.
    """
    handler = "ft_archiver.handlers.archiver"
    env = {**os.environ, "POWERTOOLS_METRICS_NAMESPACE": "Bench"}
    listing = subprocess.run(
        [sys.executable, "-c",
         f"import sys; before = set(sys.modules); import {handler}; "
         "print(' '.join(m for m in sys.modules if m not in before))"],
        cwd=ROOT, capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    dependencies = " ".join(m for m in listing.split() if not m.startswith("ft_archiver"))
    samples = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, dependencies, handler],
            cwd=ROOT, capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        samples.append(tuple(float(x) for x in done.stdout.split()))
    theirs = statistics.median(s[0] for s in samples)
    ours = statistics.median(s[1] for s in samples)
    return {
        "dependencies_import_s": round(theirs, 4),
        "own_code_import_s": round(ours, 4),
        "own_code_share": round(ours / theirs, 3),
        "python": platform.python_version(),
        "repeats": repeats,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=25_000_000, help="scenario A, bytes/s")
    parser.add_argument("--memory-sizes", default="256MiB,1GiB,4GiB")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--scenarios", default="A,B")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = parse_size(args.size)
    methods = args.methods.split(",")
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "size": size,
        "runs": args.runs,
        "scenarios": {},
    }
    with LocalStack() as localstack, TogetherSimulator() as together:
        env = {
            **os.environ, **TEST_CREDENTIALS,
            "AWS_ENDPOINT_URL": localstack.endpoint_url,
            "TOGETHER_API_KEY": together.api_key,
            "TOGETHER_BASE_URL": together.base_url,
            "EVENT_BUS_NAME": "default",
            "TOGETHER_DISABLE_TQDM": "1",
        }  # fmt: skip
        os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", *TEST_CREDENTIALS)})
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        job = together.add_job("Lora", size=size, model_output_name="bench")
        expected = together.sha256(together.archive_for(job.id, "merged"))
        for scenario in args.scenarios.split(","):
            rate = args.rate if scenario == "A" else None
            together.set_faults(Faults(rate_limit_bps=rate))
            table: dict[str, Runs] = {}
            for method in methods:
                runs = table.setdefault(method, Runs())
                for n in range(args.runs):
                    key = f"{scenario}/{method}/{n}".replace(" ", "_").replace(":", "")
                    seconds, rss = run_method(method, job.id, key, size, env)
                    runs.seconds.append(round(seconds, 2))
                    runs.peak_rss_mib.append(round(rss, 1))
                    if n == 0 and method != CEILING:
                        runs.verified = object_sha256(s3, key) == expected
                    s3.delete_object(Bucket=BUCKET, Key=key)
                    rate_mb = size / seconds / 1e6
                    print(
                        f"{scenario} {method:34} run {n + 1}: {seconds:6.1f} s  "
                        f"{rate_mb:6.1f} MB/s  peak RSS {rss:6.0f} MiB",
                        flush=True,
                    )
            results["scenarios"][scenario] = {
                "source_cap_bytes_per_s": rate,
                "methods": {m: {**asdict(r), "median_s": r.median_s} for m, r in table.items()},
            }
        together.set_faults(Faults())
        memory: dict[str, float] = {}
        for text in args.memory_sizes.split(","):
            bytes_ = parse_size(text)
            sized = together.add_job("Lora", size=bytes_, model_output_name=f"mem-{text}")
            _, rss = run_method("ft-archiver", sized.id, f"mem/{text}", bytes_, env)
            s3.delete_object(Bucket=BUCKET, Key=f"mem/{text}")
            memory[text] = round(rss, 1)
            print(f"memory {text:>7}: peak RSS {rss:6.0f} MiB", flush=True)
        results["memory_peak_rss_mib"] = memory
    results["cold_start"] = cold_start()
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def render(results: dict[str, Any]) -> str:
    size = results["size"]
    lines = [f"Machine: {results['machine']}; archive {size / MIB:,.0f} MiB; "
             f"median of {results['runs']} runs.", ""]  # fmt: skip
    for scenario, data in results["scenarios"].items():
        cap = data["source_cap_bytes_per_s"]
        title = f"{cap / 1e6:.0f} MB/s per source connection" if cap else "uncapped loopback"
        methods = data["methods"]
        ours = methods.get("ft-archiver", {}).get("median_s")
        lines += [f"Scenario {scenario} ({title}):", "",
                  "| method | median s | MB/s | ft-archiver speed-up | peak RSS MiB | SHA-256 |",
                  "| --- | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
        for name, runs in methods.items():
            median = runs["median_s"]
            ratio = f"{median / ours:.2f}x" if ours and name != "ft-archiver" else "-"
            if name == CEILING and ours:
                ratio = f"ft-archiver at {median / ours:.2f}x of it"
            verified = {True: "ok", False: "MISMATCH", None: "-"}[runs["verified"]]
            lines.append(
                f"| {name} | {median:.1f} | {size / median / 1e6:.1f} | {ratio} | "
                f"{max(runs['peak_rss_mib']):.0f} | {verified} |"
            )
        lines.append("")
    memory = results.get("memory_peak_rss_mib", {})
    if memory:
        lines += ["ft-archiver peak RSS by archive size: "
                  + ", ".join(f"{k}: {v:.0f} MiB" for k, v in memory.items()), ""]  # fmt: skip
    cold = results.get("cold_start")
    if cold:
        lines.append(
            f"Cold start (Python {cold['python']}, fresh process, median of {cold['repeats']}): "
            f"the archiver handler's dependencies import in "
            f"{cold['dependencies_import_s'] * 1000:.0f} ms; our own code adds "
            f"{cold['own_code_import_s'] * 1000:.0f} ms ({cold['own_code_share']:.0%})."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
