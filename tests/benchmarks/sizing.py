"""The archiver under the CPU share Lambda gives a function of each memory size.

    python -m tests.benchmarks.sizing        (make bench-sizing, part of make bench)

Lambda allocates CPU in proportion to memory, one vCPU at 1,769 MB. Here the archiver's
process alone (LocalStack and the simulator stay outside) runs in a child cgroup of
cgroup v1's cpu controller whose CFS quota is that share of a 100 ms period, with the
memory budget Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE gives it. The workload is the
benchmark's scenario A (1 GiB, each source connection at 25 MB/s), median of --runs.
Where the cpu controller is not writable (CI, containers), it says so and skips.
"""

import argparse
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ft_archiver.domain.parts import parse_size
from ft_archiver_tools.local.simulator import Faults

from .run import BUCKET, GIB, MIB, Sample, run_method, world

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000
MB_PER_VCPU = 1769  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html


def quota_us(memory_mb: int) -> int:
    """A ``memory_mb`` function's CPU time per period: 57,886 us of 100,000 at 1,024 MB."""
    return round(memory_mb / MB_PER_VCPU * PERIOD_US)


def unavailable() -> str | None:
    """Why no CPU quota can be set here, or None."""
    if not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
        return f"no cgroup v1 cpu controller at {CGROUP_CPU}"
    if not os.access(CGROUP_CPU, os.W_OK):
        return f"{CGROUP_CPU} is not writable"
    return None


@contextmanager
def cpu_quota(memory_mb: int) -> Iterator[Path]:
    """A child cgroup limited to a ``memory_mb`` function's CPU; removed after (its
    processes must have ended)."""
    path = CGROUP_CPU / f"ft-archiver-sizing-{os.getpid()}-{memory_mb}"
    path.mkdir()
    try:
        (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (path / "cpu.cfs_quota_us").write_text(str(quota_us(memory_mb)))
        yield path
    finally:
        path.rmdir()


def throttled(cgroup: Path) -> str:
    """The periods in which the quota stopped the cgroup's processes, of those they ran."""
    stat = dict(line.split() for line in (cgroup / "cpu.stat").read_text().splitlines())
    return f"{int(stat['nr_throttled']):,} of {int(stat['nr_periods']):,}"


def render(size: int, runs: int, rows: dict[int, list[Sample]], stops: dict[int, str]) -> str:
    lines = [
        f"ft-archiver, {size / MIB:,.0f} MiB, scenario A, median of {runs} runs:",
        "",
        "| function memory MB | CPU quota (vCPU) | median s | MB/s | peak RSS MiB "
        "| client CPU s/GiB | periods throttled, all runs |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for memory_mb, samples in rows.items():
        seconds = statistics.median(s.seconds for s in samples)
        rss = statistics.median(s.peak_rss_mib for s in samples)
        cpu = statistics.median(s.cpu_s for s in samples) / (size / GIB)
        lines.append(
            f"| {memory_mb:,} | {quota_us(memory_mb) / PERIOD_US:.2f} | {seconds:.1f} | "
            f"{size / seconds / 1e6:.0f} | {rss:.0f} | {cpu:.2f} | {stops[memory_mb]} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-sizes", default="1024,1769,3008", help="MB, Lambda's")
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=25_000_000, help="bytes/s per connection")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        print(f"sizing: skipped, {reason} (it needs cgroup v1's cpu controller, writable)")
        return 0
    size = parse_size(args.size)
    rows: dict[int, list[Sample]] = {}
    stops: dict[int, str] = {}
    with world() as (env, s3, stored, together, _):
        job = together.add_job("Lora", size=size, model_output_name="sizing")
        expected = together.sha256(together.archive_for(job.id, "merged"))
        together.set_faults(Faults(rate_limit_bps=args.rate))
        for memory_mb in (int(text) for text in args.memory_sizes.split(",")):
            lambda_env = {**env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
            with cpu_quota(memory_mb) as cgroup:
                for n in range(args.runs):
                    key = f"sizing/{memory_mb}/{n}"
                    sample = run_method("ft-archiver", job.id, key, size, lambda_env, cgroup)
                    if n == 0 and stored.sha256_of(key) != expected:
                        raise RuntimeError(f"{key}: SHA-256 mismatch")
                    s3.delete_object(Bucket=BUCKET, Key=key)
                    rows.setdefault(memory_mb, []).append(sample)
                    print(
                        f"{memory_mb:>5} MB run {n + 1}: {sample.seconds:6.1f} s  "
                        f"{size / sample.seconds / 1e6:6.1f} MB/s  "
                        f"peak RSS {sample.peak_rss_mib:5.0f} MiB",
                        flush=True,
                    )
                stops[memory_mb] = throttled(cgroup)
    print(render(size, args.runs, rows, stops))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
