"""The benchmark: ft-archiver against what users do today, same machine, same run.

    make bench        (or: python -m tests.benchmarks.run --json bench-results.json)

Two S3 servers are the target in one run, each in turn: LocalStack's S3 (host mode, the
most AWS-like here, whose Python CompleteMultipartUpload dominates an archive) and
SeaweedFS (``weed mini``, a native server that completes in milliseconds); the Together
simulator is the source, all on 127.0.0.1 (with SeaweedFS, LocalStack still answers the
result events). Scenario A caps every source connection at 25 MB/s, as an internet
download is capped; scenario B is uncapped loopback. Every method runs as its own
process, timed end to end (interpreter start included), median of --runs, with the peak
RSS of that process, the client CPU its transfer took (user + system seconds per GiB,
imports excluded) and the servers' meanwhile (the S3 server's, LocalStack's and the
simulator's, which share the machine's cores with it); each method's object is checked
against the simulator's SHA-256 once.
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import boto3

from ft_archiver.domain.parts import parse_size
from ft_archiver_tools.local.localstack import LocalStack
from ft_archiver_tools.local.seaweedfs import SeaweedFS
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator
from ft_archiver_tools.template import function_names, load_template, resource
from tests.support.aws import aws_environment
from tests.support.bucket import BucketInspector
from tests.support.settings import archiver_variables

from .methods import METHODS

MIB = 1024 * 1024
GIB = 1024 * MIB
ROOT = Path(__file__).resolve().parents[2]
BUCKET = "bench"
CEILING = "ceiling: UploadPart from memory"


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)
    peak_rss_mib: list[float] = field(default_factory=list)
    cpu_s_per_gib: list[float] = field(default_factory=list)
    process_cpu_s: list[float] = field(default_factory=list)
    servers_cpu_s_per_gib: list[float] = field(default_factory=list)
    phases: list[dict[str, float]] = field(default_factory=list)
    verified: bool | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def summary(self) -> dict[str, Any]:
        servers = statistics.median(self.servers_cpu_s_per_gib)
        phases = {name: round(statistics.median(run[name] for run in self.phases), 2)
                  for name in PHASES if all(name in run for run in self.phases)}  # fmt: skip
        return {**asdict(self), "median_s": self.median_s,
                "median_cpu_s_per_gib": statistics.median(self.cpu_s_per_gib),
                "median_servers_cpu_s_per_gib": servers, "median_phases_s": phases}  # fmt: skip


# Where a method's wall time goes, in order (Sample.phases).
PHASES = {
    "start_s": "interpreter start and imports",
    "to_first_part_s": "to the first UploadPart sent",
    "parts_s": "from it to CompleteMultipartUpload sent",
    "complete_s": "CompleteMultipartUpload",
    "after_s": "after it, to the method's return",
    "exit_s": "interpreter exit",
}


class Sample(NamedTuple):
    seconds: float  # wall, interpreter start included
    peak_rss_mib: float
    cpu_s: float  # the transfer's user + system seconds, imports excluded
    process_cpu_s: float  # the whole process's, interpreter start and imports included
    phases: dict[str, float]  # seconds, keyed as PHASES (those the method's calls mark)


def phases_of(launched: float, marks: dict[str, float], exited: float) -> dict[str, float]:
    """The method's phases from the times it recorded (methods.Phases) and its process's
    launch and exit (epoch seconds, same clock)."""
    phases = {"start_s": marks["began"] - launched, "exit_s": exited - marks["ended"]}
    if "first_part_sent" in marks:
        phases |= {
            "to_first_part_s": marks["first_part_sent"] - marks["began"],
            "parts_s": marks["complete_sent"] - marks["first_part_sent"],
            "complete_s": marks["complete_answered"] - marks["complete_sent"],
            "after_s": marks["ended"] - marks["complete_answered"],
        }
    return {name: round(seconds, 3) for name, seconds in phases.items()}


def run_method(
    method: str, job_id: str, key: str, size: int, env: dict[str, str], cgroup: Path | None = None
) -> Sample:
    """One method as one process: the client alone, so its CPU is the client's. With
    ``cgroup``, the process runs in that cgroup (joined before it execs the interpreter)."""

    def join_cgroup() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    with tempfile.NamedTemporaryFile("r", suffix=".json") as cpu_file:
        started, launched = time.perf_counter(), time.time()
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.methods",
             method, job_id, BUCKET, key, str(size), cpu_file.name],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=join_cgroup if cgroup is not None else None,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        elapsed, exited = time.perf_counter() - started, time.time()
        stderr = process.stderr.read().decode() if process.stderr else ""
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            raise RuntimeError(f"{method} failed ({process.returncode}):\n{stderr[-2000:]}")
        cpu = json.load(cpu_file)
    return Sample(
        elapsed,
        usage.ru_maxrss / 1024,
        cpu["user_s"] + cpu["system_s"],
        usage.ru_utime + usage.ru_stime,
        phases_of(launched, cpu, exited),
    )


# Each probe runs in a fresh interpreter, as a Lambda cold start imports the handler.
WHOLE = """
import importlib, sys, time
started = time.perf_counter()
importlib.import_module(sys.argv[1])
print(time.perf_counter() - started, len(sys.modules))
"""
SPLIT = """
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


def handlers() -> dict[str, str]:
    """Each function of template.yaml and its handler's module."""
    template = load_template()
    return {
        name: str(resource(template, name)["Handler"]).rsplit(".", 1)[0]
        for name in function_names(template)
    }


def _python(script: str, *args: str) -> str:
    """``script`` run by this interpreter in a fresh process, as Lambda's region and the
    functions' Powertools variables set it up; its output."""
    env = {**os.environ, "POWERTOOLS_METRICS_NAMESPACE": "Bench", "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip


def _figures(script: str, *args: str) -> list[float]:
    return [float(x) for x in _python(script, *args).split()]


def cold_start(repeats: int = 5) -> dict[str, Any]:
    """Each function's handler import, the cold start's share that is ours (fresh processes,
    the functions interleaved, median of ``repeats``).

    ``import_s`` is the handler's whole import. For the split, a process first imports
    every module the handler's import loads but ours, in the same order, then the
    handler itself: the second figure is what our code adds.
    """
    modules = handlers()
    listed: dict[str, str] = {}
    for function, handler in modules.items():
        listing = _python(
            f"import sys; before = set(sys.modules); import {handler}; "
            "print(' '.join(m for m in sys.modules if m not in before))"
        )
        listed[function] = " ".join(m for m in listing.split() if not m.startswith("ft_archiver"))
    whole: dict[str, list[list[float]]] = {function: [] for function in modules}
    split: dict[str, list[list[float]]] = {function: [] for function in modules}
    for _ in range(repeats):
        for function, handler in modules.items():
            whole[function].append(_figures(WHOLE, handler))
            split[function].append(_figures(SPLIT, listed[function], handler))
    functions = {}
    for function, handler in modules.items():
        theirs = statistics.median(sample[0] for sample in split[function])
        ours = statistics.median(sample[1] for sample in split[function])
        functions[function] = {
            "handler": handler,
            "import_s": round(statistics.median(sample[0] for sample in whole[function]), 4),
            "modules": int(whole[function][0][1]),
            "dependencies_import_s": round(theirs, 4),
            "own_code_import_s": round(ours, 4),
            "own_code_share": round(ours / theirs, 3),
        }
    return {"functions": functions, "python": platform.python_version(), "repeats": repeats}


def render_phases(methods: dict[str, Any]) -> list[str]:
    """Where each method's wall time went (median seconds of each phase, so the phases
    need not add up to the median total)."""
    lines = ["Where the time went (median s): " + "; ".join(
                f"{name.removesuffix('_s')}: {meaning}" for name, meaning in PHASES.items()), "",
             "| method | " + " | ".join(name.removesuffix("_s") for name in PHASES) + " |",
             "| --- |" + " ---: |" * len(PHASES)]  # fmt: skip
    for name, runs in methods.items():
        phases = runs["median_phases_s"]
        cells = [f"{phases[phase]:.2f}" if phase in phases else "-" for phase in PHASES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_cold_start(cold: dict[str, Any]) -> list[str]:
    lines = [
        f"Cold start (Python {cold['python']}, the handler imported in a fresh process, "
        f"median of {cold['repeats']}):",
        "",
        "| function | import ms | modules loaded | dependencies ms | ours ms | ours |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for function, figures in cold["functions"].items():
        lines.append(
            f"| {function} | {figures['import_s'] * 1000:.0f} | {figures['modules']} | "
            f"{figures['dependencies_import_s'] * 1000:.0f} | "
            f"{figures['own_code_import_s'] * 1000:.0f} | {figures['own_code_share']:.0%} |"
        )
    return lines


def cpu_s(pid: int) -> float:
    """A process's user + system CPU seconds so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVERS = {"localstack": "LocalStack", "seaweedfs": "SeaweedFS"}


class World(NamedTuple):
    env: dict[str, str]  # a method's process environment
    s3: Any
    stored: BucketInspector
    together: TogetherSimulator
    server_pids: tuple[int, ...]  # the S3 server's, and LocalStack's for the events

    def servers_cpu_s(self) -> float:
        """The servers' CPU seconds so far and this process's, which is the simulator's
        while a method runs (it only waits for the method otherwise)."""
        return sum(cpu_s(pid) for pid in set(self.server_pids)) + cpu_s(os.getpid())


def s3_of(env: dict[str, str]) -> Any:
    """An S3 client as a method's process builds one from ``env``."""
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        region_name=env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env["AWS_ENDPOINT_URL"])


def target(
    together: TogetherSimulator, localstack: LocalStack, seaweedfs: SeaweedFS | None = None
) -> World:
    """The benchmark's bucket on LocalStack's S3, or with ``seaweedfs`` on it (LocalStack
    answering the other services), and the environment of a method's process: the
    product's own tuning, which is what is measured."""
    aws = aws_environment(localstack.endpoint_url)
    variables = archiver_variables(together, bus="default", tuning={})
    env = {**os.environ, **aws, **variables, "TOGETHER_DISABLE_TQDM": "1"}
    pids: tuple[int, ...] = (localstack.pid,)
    if seaweedfs is not None:
        env["AWS_ENDPOINT_URL_S3"] = seaweedfs.endpoint_url
        # SeaweedFS reads a session token as one its own STS issued, and refuses ours
        env.pop("AWS_SESSION_TOKEN", None)
        pids = (seaweedfs.pid, localstack.pid)
    s3 = s3_of(env)
    s3.create_bucket(Bucket=BUCKET)
    return World(env, s3, BucketInspector(s3, BUCKET), together, pids)


@contextmanager
def world() -> Iterator[World]:
    """LocalStack's S3 with the benchmark's bucket and the simulator."""
    with LocalStack() as localstack, TogetherSimulator() as together:
        yield target(together, localstack)


def measure(
    bench: World, job_id: str, expected: str, size: int, args: argparse.Namespace, label: str
) -> dict[str, Any]:
    """Every scenario and method on one server: the results' ``scenarios``."""
    scenarios: dict[str, Any] = {}
    for scenario in args.scenarios.split(","):
        rate = args.rate if scenario == "A" else None
        bench.together.set_faults(Faults(rate_limit_bps=rate))
        table: dict[str, Runs] = {}
        for method in args.methods.split(","):
            runs = table.setdefault(method, Runs())
            for n in range(args.runs):
                key = f"{scenario}/{method}/{n}".replace(" ", "_").replace(":", "")
                servers_before = bench.servers_cpu_s()
                seconds, rss, cpu, process_cpu, phases = run_method(
                    method, job_id, key, size, bench.env
                )
                servers = bench.servers_cpu_s() - servers_before
                runs.servers_cpu_s_per_gib.append(round(servers / (size / GIB), 3))
                runs.seconds.append(round(seconds, 2))
                runs.peak_rss_mib.append(round(rss, 1))
                runs.cpu_s_per_gib.append(round(cpu / (size / GIB), 3))
                runs.process_cpu_s.append(round(process_cpu, 2))
                runs.phases.append(phases)
                if n == 0 and method != CEILING:
                    runs.verified = bench.stored.sha256_of(key) == expected
                bench.s3.delete_object(Bucket=BUCKET, Key=key)
                print(
                    f"{label:10} {scenario} {method:34} run {n + 1}: {seconds:6.1f} s  "
                    f"{size / seconds / 1e6:6.1f} MB/s  peak RSS {rss:6.0f} MiB  "
                    f"CPU {cpu / (size / GIB):5.2f} s/GiB, "
                    f"servers {servers / (size / GIB):5.2f} s/GiB",
                    flush=True,
                )
        scenarios[scenario] = {
            "source_cap_bytes_per_s": rate,
            "methods": {m: r.summary() for m, r in table.items()},
        }
    bench.together.set_faults(Faults())
    return scenarios


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=25_000_000, help="scenario A, bytes/s")
    parser.add_argument("--memory-sizes", default="256MiB,1GiB,4GiB", help="empty: none")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--scenarios", default="A,B")
    parser.add_argument("--servers", default=",".join(SERVERS), help="S3 servers, in turn")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--cold-start-only", action="store_true", help="only each function's cold start"
    )
    args = parser.parse_args()
    if args.cold_start_only:
        cold = cold_start()
        print("\n".join(render_cold_start(cold)))
        if args.json:
            args.json.write_text(json.dumps({"cold_start": cold}, indent=2) + "\n")
        return 0
    size = parse_size(args.size)
    servers = args.servers.split(",")
    unknown = set(servers) - set(SERVERS)
    if unknown:
        parser.error(f"--servers: unknown {', '.join(sorted(unknown))} (of {', '.join(SERVERS)})")
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "size": size,
        "runs": args.runs,
        "servers": {},
    }
    with LocalStack() as localstack, TogetherSimulator() as together:
        job = together.add_job("Lora", size=size, model_output_name="bench")
        expected = together.sha256(together.archive_for(job.id, "merged"))
        first: World | None = None
        for server in servers:
            with contextlib.ExitStack() as stack:
                weed = stack.enter_context(SeaweedFS()) if server == "seaweedfs" else None
                bench = target(together, localstack, weed)
                results["servers"][server] = {
                    "scenarios": measure(bench, job.id, expected, size, args, SERVERS[server])
                }
                if first is None and server == "localstack":
                    first = bench
        results["memory_peak_rss_mib"] = memory_by_size(
            first or target(together, localstack), args.memory_sizes
        )
    results["cold_start"] = cold_start()
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def memory_by_size(bench: World, sizes: str) -> dict[str, float]:
    """ft-archiver's peak RSS archiving each of ``sizes`` (on LocalStack: it is the
    client's memory, whatever the server)."""
    memory: dict[str, float] = {}
    for text in filter(None, sizes.split(",")):
        bytes_ = parse_size(text)
        sized = bench.together.add_job("Lora", size=bytes_, model_output_name=f"mem-{text}")
        rss = run_method("ft-archiver", sized.id, f"mem/{text}", bytes_, bench.env).peak_rss_mib
        bench.s3.delete_object(Bucket=BUCKET, Key=f"mem/{text}")
        memory[text] = round(rss, 1)
        print(f"memory {text:>7}: peak RSS {rss:6.0f} MiB", flush=True)
    return memory


def render(results: dict[str, Any]) -> str:
    size = results["size"]
    lines = [f"Machine: {results['machine']}; archive {size / MIB:,.0f} MiB; "
             f"median of {results['runs']} runs.", ""]  # fmt: skip
    for server, measured in results["servers"].items():
        lines += [f"## {SERVERS[server]}", ""]
        lines += render_scenarios(measured["scenarios"], size)
    lines += render_side_by_side(results["servers"])
    lines += render_targets(results["servers"])
    memory = results.get("memory_peak_rss_mib", {})
    if memory:
        lines += ["ft-archiver peak RSS by archive size: "
                  + ", ".join(f"{k}: {v:.0f} MiB" for k, v in memory.items()), ""]  # fmt: skip
    cold = results.get("cold_start")
    if cold:
        lines += render_cold_start(cold)
    return "\n".join(lines)


def render_scenarios(scenarios: dict[str, Any], size: int) -> list[str]:
    lines: list[str] = []
    for scenario, data in scenarios.items():
        cap = data["source_cap_bytes_per_s"]
        title = f"{cap / 1e6:.0f} MB/s per source connection" if cap else "uncapped loopback"
        methods = data["methods"]
        ours = methods.get("ft-archiver", {})
        lines += [f"Scenario {scenario} ({title}):", "",
                  "| method | median s | MB/s | ft-archiver speed-up | peak RSS MiB "
                  "| client CPU s/GiB | ft-archiver's CPU | servers CPU s/GiB | SHA-256 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
        for name, runs in methods.items():
            median, cpu = runs["median_s"], runs["median_cpu_s_per_gib"]
            ratio = cpu_ratio = "-"
            if ours and name != "ft-archiver":
                ratio = f"{median / ours['median_s']:.2f}x"
                cpu_ratio = f"{ours['median_cpu_s_per_gib'] / cpu:.2f}x"
            if name == CEILING and ours:
                ratio = f"ft-archiver at {median / ours['median_s']:.2f}x of it"
            verified = {True: "ok", False: "MISMATCH", None: "-"}[runs["verified"]]
            lines.append(
                f"| {name} | {median:.1f} | {size / median / 1e6:.1f} | {ratio} | "
                f"{max(runs['peak_rss_mib']):.0f} | {cpu:.2f} | {cpu_ratio} | "
                f"{runs['median_servers_cpu_s_per_gib']:.2f} | {verified} |"
            )
        lines.append("")
        lines += render_phases(methods)
    return lines


def render_side_by_side(servers: dict[str, Any]) -> list[str]:
    """Each method's median seconds (and ft-archiver's speed-up over it) per server."""
    names = list(servers)
    lines = ["Side by side (median s; in brackets, that method's time over ft-archiver's "
             "on the same server):", "",
             "| scenario | method | " + " | ".join(SERVERS[n] for n in names) + " |",
             "| --- | --- |" + " ---: |" * len(names)]  # fmt: skip
    first = servers[names[0]]["scenarios"]
    for scenario, data in first.items():
        for method in data["methods"]:
            cells = []
            for name in names:
                methods = servers[name]["scenarios"][scenario]["methods"]
                median, ours = methods[method]["median_s"], methods.get("ft-archiver")
                ratio = f" ({median / ours['median_s']:.2f}x)" if ours else ""
                cells.append(f"{median:.1f}{ratio}")
            lines.append(f"| {scenario} | {method} | " + " | ".join(cells) + " |")
    return [*lines, ""]


# The performance targets (docs/performance.md, Targets): each a ratio and its threshold.
TARGETS = (
    ("A", "ft-archiver at least 0.8x the in-memory ceiling", CEILING, "speed", 0.8),
    ("B", "ft-archiver at least 1.0x upload_fileobj(GET)", "upload_fileobj(GET)", "speed", 1.0),
    ("B", "ft-archiver's client CPU per GiB at most 1.5x the ceiling's", CEILING, "cpu", 1.5),
)


def render_targets(servers: dict[str, Any]) -> list[str]:
    """Each target on each server: the ratio and whether it holds. They are judged where
    CompleteMultipartUpload does not dominate (SeaweedFS)."""
    lines = ["Targets (judged on SeaweedFS, where Complete takes milliseconds; on "
             "LocalStack its Python Complete is part of every figure):", "",
             "| target | " + " | ".join(SERVERS[n] for n in servers) + " |",
             "| --- |" + " --- |" * len(servers)]  # fmt: skip
    for scenario, text, peer, kind, threshold in TARGETS:
        cells = []
        for measured in servers.values():
            methods = measured["scenarios"].get(scenario, {}).get("methods", {})
            if "ft-archiver" not in methods or peer not in methods:
                cells.append("-")
                continue
            ours, theirs = methods["ft-archiver"], methods[peer]
            if kind == "speed":
                ratio = theirs["median_s"] / ours["median_s"]
                held = ratio >= threshold
            else:
                ratio = ours["median_cpu_s_per_gib"] / theirs["median_cpu_s_per_gib"]
                held = ratio <= threshold
            cells.append(f"{ratio:.2f}x {'holds' if held else 'MISSED'}")
        lines.append(f"| {scenario}: {text} | " + " | ".join(cells) + " |")
    return [*lines, ""]


if __name__ == "__main__":
    raise SystemExit(main())
