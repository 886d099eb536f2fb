"""Province-scale benchmark: batch coverage partitioned by town, single process and on a Dask local cluster.

Run::

    .venv/bin/python scripts/bench_province.py --out docs/benchmarks.md [--sizes 1000000,10000000] [--check 100000000]

What it does:

1. for each size (settlements; facilities one per hundred settlements), a synthetic province at Sichuan's
   density (``gis_service.analysis.batch_synthetic``: 10,000,000 settlements in 3,100 towns of 12.5 km, so a
   size makes ``size / 3,226`` towns), the 1,500 m threshold of ``agency_station``, searched up to 3,000 m;
2. times (best of ``--runs``, each run in a fresh interpreter) the single-process loop (``synthetic_coverage``)
   and the Dask path (``synthetic_coverage_dask`` on a new ``LocalCluster`` of ``--workers`` worker processes,
   one thread each; the cluster's start is timed apart): towns generated inside the tasks, town summaries
   back; checks both give the same town table;
3. at each size also the in-memory path (``BatchSettlements`` built in the client, per-settlement results
   back): ``batch_coverage`` and ``batch_coverage_dask``, checked against one cKDTree over all the facilities;
4. samples memory every 50 ms (psutil): the peak RSS of the client process (with, for a LocalCluster, the
   scheduler) and of each worker process, summed; and the CPU time (user + system) they used during the run;
5. projects the last size × 10 from the measured scaling (time ∝ size^b, b from the last two sizes; memory
   linear through them), and with ``--check`` measures that size too, to see the projection hold;
6. replaces its own section (``<!-- bench:province -->``) of ``--out``.

Nothing touches a database.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchlib  # scripts/ is on sys.path when a script runs
import dask
import numpy as np
import pandas as pd
import psutil
import scipy

from gis_service.analysis.batch import BatchReport, BatchSettlements, FacilityIndex, batch_coverage
from gis_service.analysis.batch_dask import TOWNS_PER_TASK, batch_coverage_dask, local_client, synthetic_coverage_dask
from gis_service.analysis.batch_synthetic import (
    ProvinceSpec,
    province_facilities,
    province_settlements,
    synthetic_coverage,
)
from gis_service.analysis.coverage import FACILITY_THRESHOLDS, straight_line_nearest

ROOT = Path(__file__).resolve().parent.parent
SECTION = "province"
SEED = 20_260_526
SETTLEMENTS_PER_TOWN = 10_000_000 / 3_100  # Sichuan after the reform: about 3,100 towns
SETTLEMENTS_PER_FACILITY = 100
THRESHOLD_M = FACILITY_THRESHOLDS["agency_station"].limit
SEARCH_M = 2 * THRESHOLD_M
MIB = 1024 * 1024


# ================================================================ measuring


@dataclass
class Peaks:
    """Peak resident memory seen while sampling, in bytes, and the CPU time used meanwhile."""

    client: int = 0
    workers: dict[int, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def workers_sum(self) -> int:
        return sum(self.workers.values())

    @property
    def total(self) -> int:
        return self.client + self.workers_sum


@contextmanager
def sampled(worker_pids: Sequence[int], interval: float = 0.05) -> Iterator[Peaks]:
    """Sample this process's RSS and the workers' until the block ends."""
    me, peaks, stop = psutil.Process(), Peaks(), threading.Event()
    workers = [psutil.Process(pid) for pid in worker_pids]

    def sample() -> None:
        peaks.client = max(peaks.client, me.memory_info().rss)
        for worker in workers:
            try:
                peaks.workers[worker.pid] = max(peaks.workers.get(worker.pid, 0), worker.memory_info().rss)
            except psutil.NoSuchProcess:
                continue

    def loop() -> None:
        while not stop.wait(interval):
            sample()

    def cpu() -> float:
        """User + system seconds of this process and the workers: unlike wall time, barely moved by other load."""
        return sum(sum(p.cpu_times()[:2]) for p in (me, *workers))

    thread = threading.Thread(target=loop, daemon=True)
    sample()
    cpu_before = cpu()
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()
        sample()
        peaks.cpu_seconds = cpu() - cpu_before


PATHS = {
    "single": "single process",
    "dask": "Dask",
    "single-memory": "single process, in memory",
    "dask-memory": "Dask, in memory",
}


@dataclass
class Run:
    """One timed run, made in a process of its own (so no run inherits another's memory)."""

    size: int
    path: str
    seconds: float
    idle: int
    peaks: Peaks
    towns: pd.DataFrame
    startup: float = 0.0
    check: str = ""

    @property
    def label(self) -> str:
        return PATHS[self.path]


def spec_for(size: int, seed: int) -> ProvinceSpec:
    return ProvinceSpec(towns=max(1, round(size / SETTLEMENTS_PER_TOWN)), settlements=size,
                        facilities=size // SETTLEMENTS_PER_FACILITY, seed=seed)


# ================================================================ one run (in a child process)


def timed(call: Callable[[], BatchReport], client: Any = None) -> tuple[BatchReport, float, Peaks]:
    """Run ``call`` once, timed, sampling memory of this process and of ``client``'s worker processes."""
    pids = sorted(client.run(os.getpid).values()) if client is not None else []
    with sampled(pids) as peaks:
        start = time.perf_counter()
        report = call()
        seconds = time.perf_counter() - start
    return report, seconds, peaks


def exact_check(report: BatchReport, settlements: BatchSettlements, facility_xy: np.ndarray) -> str:
    """Whether the per-settlement results equal one cKDTree query over all the facilities."""
    nearest, distance = straight_line_nearest(settlements.xy, facility_xy, max_distance=np.nextafter(SEARCH_M, np.inf))
    rows = report.settlements
    same = rows is not None and np.array_equal(rows["nearest"].to_numpy(), nearest) \
        and np.array_equal(rows["distance_m"].to_numpy(), distance)
    return "identical" if same else "**differ**"


def measure(size: int, path: str, workers: int, towns_per_task: int, seed: int) -> Run:
    """One run of one path; inputs are made before the clock starts (in-memory inputs count in the memory)."""
    spec = spec_for(size, seed)
    facility_xy = province_facilities(spec)
    index = FacilityIndex.build(facility_xy)
    memory = path.endswith("memory")
    settlements = province_settlements(spec) if memory else None
    idle = psutil.Process().memory_info().rss
    calls: dict[str, Callable[[Any], BatchReport]] = {
        "single": lambda _: synthetic_coverage(spec, THRESHOLD_M, search_m=SEARCH_M, facilities=index),
        "dask": lambda c: synthetic_coverage_dask(spec, THRESHOLD_M, search_m=SEARCH_M, facilities=index, client=c,
                                                  towns_per_task=towns_per_task),
        "single-memory": lambda _: batch_coverage(settlements, index, THRESHOLD_M, search_m=SEARCH_M),  # type: ignore[arg-type]
        "dask-memory": lambda c: batch_coverage_dask(settlements, index, THRESHOLD_M, search_m=SEARCH_M,  # type: ignore[arg-type]
                                                     client=c, towns_per_task=towns_per_task),
    }
    startup = 0.0
    if path.startswith("dask"):
        began = time.perf_counter()
        with local_client(n_workers=workers) as client:
            startup = time.perf_counter() - began
            report, seconds, peaks = timed(lambda: calls[path](client), client)
    else:
        report, seconds, peaks = timed(lambda: calls[path](None))
    check = exact_check(report, settlements, facility_xy) if settlements is not None else ""
    return Run(size, path, seconds, idle, peaks, report.towns, startup, check)


def in_child(args: argparse.Namespace, size: int, path: str) -> Run:
    """``measure`` in a fresh interpreter: this script again, with ``--one``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.pickle"
        subprocess.run([sys.executable, __file__, "--one", f"{size}:{path}", "--result", str(out),
                        "--workers", str(args.workers), "--towns-per-task", str(args.towns_per_task),
                        "--seed", str(args.seed)], check=True)
        run: Run = pickle.loads(out.read_bytes())
    print(f"{size:>12,} {run.label:<28} {run.seconds:8.2f} s  client {run.peaks.client / MIB:7.0f} MiB  "
          f"workers {run.peaks.workers_sum / MIB:7.0f} MiB {run.check}", flush=True)
    return run


def best_of(args: argparse.Namespace, size: int, path: str) -> Run:
    """The fastest of ``--runs`` runs: on a shared machine the minimum is the best estimate of the work itself."""
    return min((in_child(args, size, path) for _ in range(args.runs)), key=lambda r: r.seconds)


# ================================================================ projection and report


def _exponent(t_small: float, t_large: float, small: int, large: int) -> float:
    """b in t ∝ size^b through two points."""
    return math.log(t_large / t_small) / math.log(large / small)


def projection(runs: list[Run], size: int) -> list[str]:
    """Time ∝ size^b and memory linear in size, both from each path's two largest sizes below ``size``."""
    lines = ["| path | from sizes | wall exponent b | projected wall time | CPU exponent | projected CPU time | "
             "projected peak total memory |", "|---|---|---:|---:|---:|---:|---:|"]
    for path in dict.fromkeys(r.path for r in runs):
        below = sorted((r for r in runs if r.path == path and r.size < size), key=lambda r: r.size)[-2:]
        if len(below) < 2:
            continue
        small, large = below
        b = _exponent(small.seconds, large.seconds, small.size, large.size)
        b_cpu = _exponent(small.peaks.cpu_seconds, large.peaks.cpu_seconds, small.size, large.size)
        per_settlement = (large.peaks.total - small.peaks.total) / (large.size - small.size)
        memory = large.peaks.total + per_settlement * (size - large.size)
        lines.append(f"| {large.label} | {small.size:,}, {large.size:,} | {b:.2f} | "
                     f"{large.seconds * (size / large.size) ** b:,.1f} s | {b_cpu:.2f} | "
                     f"{large.peaks.cpu_seconds * (size / large.size) ** b_cpu:,.1f} s | {memory / MIB:,.0f} MiB |")
    return lines


def runs_table(runs: list[Run]) -> list[str]:
    lines = ["| settlements | facilities | towns | path | wall s | CPU s | settlements/s | client before MiB | "
             "peak client MiB | peak workers MiB (sum) | peak total MiB |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(runs, key=lambda r: (r.size, list(PATHS).index(r.path))):
        lines.append(f"| {r.size:,} | {r.size // SETTLEMENTS_PER_FACILITY:,} | {len(r.towns):,} | {r.label} | "
                     f"{r.seconds:.2f} | {r.peaks.cpu_seconds:.2f} | {r.size / r.seconds:,.0f} | {r.idle / MIB:,.0f} | "
                     f"{r.peaks.client / MIB:,.0f} | {r.peaks.workers_sum / MIB:,.0f} | {r.peaks.total / MIB:,.0f} |")
    return lines


def checks(runs: list[Run]) -> list[str]:
    """What agreed with what, size by size."""
    lines = []
    for size in sorted({r.size for r in runs}):
        at = {r.path: r for r in runs if r.size == size}
        towns = [r.towns for r in at.values()]
        same = all(t.equals(towns[0]) for t in towns[1:])
        share = towns[0]["covered_demand"].sum() / towns[0]["demand"].sum()
        lines.append(f"- {size:,}: town tables of {', '.join(r.label for r in at.values())} "
                     f"{'identical' if same else '**differ**'} (share of people covered {share:.4f})"
                     + "".join(f"; {r.label} per settlement vs one cKDTree over all the facilities: {r.check}"
                               for r in at.values() if r.check) + ".")
    return lines


def machine_facts(load_before: tuple[float, float, float], workers: int) -> dict[str, str]:
    memory = psutil.virtual_memory()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{platform.processor() or platform.machine()}, nproc {os.cpu_count()}",
        "memory": f"{memory.total / 1024 ** 3:.1f} GiB",
        "load average (1, 5, 15 min)": f"before {benchlib.load_text(load_before)}; "
                                       f"after {benchlib.load_text(os.getloadavg())}",
        "OS": f"{benchlib.os_name()}, Linux {platform.release()}",
        "Python": platform.python_version(),
        "libraries": f"dask {dask.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
                     f"pandas {pd.__version__}, psutil {psutil.__version__}",
        "cluster": f"LocalCluster, {workers} worker processes × 1 thread, no dashboard",
    }


def render(facts: dict[str, str], runs: list[Run], projected: int, checked: bool, total: float,
           towns_per_task: int, runs_per: int) -> str:
    startup = max((r.startup for r in runs), default=0.0)
    lines = [
        f"<!-- bench:{SECTION} -->", "## Province-scale batch coverage (Dask)", "",
        f"Generated by `scripts/bench_province.py` (`make bench-province`) in {total:.0f} s. Each size and path ran "
        f"{runs_per} times, each time in a fresh process, and the fastest run is shown (the {projected:,} check ran "
        "once). The machine is shared with other work (see the load average), so wall times stretch when it is "
        "busy; CPU time (user + system of the client and the workers during the run) is much less affected by "
        "that and shows the work itself. Synthetic province at Sichuan's "
        f"density (seed {SEED}): {SETTLEMENTS_PER_TOWN:,.0f} settlements in a 12.5 km town, clustered around 8 "
        f"villages, one facility per {SETTLEMENTS_PER_FACILITY} settlements; covered within {THRESHOLD_M:,.0f} m "
        f"(agency station), nearest facility searched up to {SEARCH_M:,.0f} m. Partitions are towns; a Dask task "
        f"covers {towns_per_task} whole towns. Plain runs make each town inside the task (or loop step) that covers "
        "it and return town summaries; 'in memory' runs take settlements built in the client beforehand and return "
        "every settlement's result. Memory is resident memory sampled every 50 ms: the client process (with the "
        "LocalCluster's scheduler, and the in-memory input) and the sum of the worker processes' peaks. Cluster "
        f"start-up (up to {startup:.1f} s) is not in the times. See docs/province.md.", "",
        "| machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in facts.items()], "",
        *runs_table(runs), "", *checks(runs), "",
        f"### Projection to {projected:,} settlements", "",
        "Wall and CPU time ∝ size^b with b from each path's two largest sizes below it (b = 1 is linear); peak "
        "total memory linear in the size through the same two points.", "",
        *projection(runs, projected), "",
    ]
    if checked:
        lines += [f"The {projected:,} rows of the table above measure what is projected here.", ""]
    return "\n".join([*lines, f"<!-- /bench:{SECTION} -->"]) + "\n"


# ================================================================ main


def run(args: argparse.Namespace) -> None:
    started, load_before = time.perf_counter(), os.getloadavg()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    runs = [best_of(args, size, path) for size in sizes for path in PATHS]
    if args.check:
        runs += [in_child(args, args.check, path) for path in ("single", "dask")]
    projected = args.check or sizes[-1] * 10
    section = render(machine_facts(load_before, args.workers), runs, projected, bool(args.check),
                     time.perf_counter() - started, args.towns_per_task, args.runs)
    benchlib.write_section(args.out, SECTION, section)
    print(*checks(runs), *projection(runs, projected), sep="\n")
    print(f"wrote the {SECTION} section of {args.out} in {time.perf_counter() - started:.0f} s")


def one(args: argparse.Namespace) -> None:
    """The child's side of ``in_child``: measure one run and pickle it to ``--result``."""
    size, path = args.one.split(":")
    result = measure(int(size), path, args.workers, args.towns_per_task, args.seed)
    Path(args.result).write_bytes(pickle.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="Markdown file whose bench:province section is (re)written.")
    parser.add_argument("--sizes", default="1000000,10000000", help="Settlement counts, comma-separated.")
    parser.add_argument("--check", type=int, default=0,
                        help="Also measure this size (e.g. 100000000, not in memory) to check the projection.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3,
                        help="Runs of each size and path (--check: one): the fastest counts.")
    parser.add_argument("--towns-per-task", type=int, default=TOWNS_PER_TASK)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    one(args) if args.one else run(args)


if __name__ == "__main__":
    main()
