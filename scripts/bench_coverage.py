"""Coverage benchmark: straight-line coverage of a million settlements, and network coverage of the demo town.

Run::

    .venv/bin/python scripts/bench_coverage.py --out docs/benchmarks.md [--settlements 1000000] [--runs 3]

What it does:

1. draws a seeded synthetic county: 1,000,000 settlements (population 20-300) and 10,000 facilities, uniform
   in a 50 × 50 km square in EPSG:4544, settlements grouped into 400 villages by 2.5 km grid cells;
2. times, with runs interleaved (so drift in the machine's load falls on every contender alike) after one
   untimed warm-up of each fast contender: our ``coverage(..., method="straight")`` (the full report:
   nearest facility and distance of every settlement, covered flags, village and town sums), our
   ``straight_line_nearest`` on arrays, a raw ``scipy.spatial.cKDTree`` build + query, and geopandas
   ``sjoin_nearest(max_distance=...)``; it checks that they agree on who is covered;
3. times the demo town's network coverage (``RoadNetwork.from_geodataframes`` + ``coverage`` for the service
   points; then the solve alone; then every standard and the 1+N diagnosis);
4. replaces its own section (``<!-- bench:coverage -->``) of ``--out`` with machine facts, versions and tables.

Nothing touches a database.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchlib  # scripts/ is on sys.path when a script runs
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy
import shapely
from scipy.spatial import cKDTree

from gis_service.analysis.coverage import FACILITY_THRESHOLDS, coverage, straight_line_nearest
from gis_service.analysis.network import RoadNetwork, point_coordinates
from gis_service.analysis.one_plus_n import diagnose_one_plus_n

ROOT = Path(__file__).resolve().parent.parent
SECTION = "coverage"
SEED = 20_260_526
SETTLEMENTS = 1_000_000
FACILITIES = 10_000
SIDE_M = 50_000.0
VILLAGE_CELL_M = 2_500.0
ORIGIN = (480_000.0, 3_360_000.0)  # south-west corner in EPSG:4544, around Daying county
# At 10,000 facilities in 2,500 km² (one per 0.25 km²) every settlement lies within the standards' 1-3 km
# radii; 500 m leaves about 4 % uncovered, so the covered flags and the uncovered distances carry information.
STANDARD = dataclasses.replace(FACILITY_THRESHOLDS["agency_station"], key="bench_500m", metres=500.0)
NETWORK_STANDARD = FACILITY_THRESHOLDS["agency_station"]
RUNS_STRAIGHT = 3
RUNS_NETWORK = 5
TARGET_SECONDS = 1.0
DEMO_LAYERS = ("roads", "rivers", "bridges", "settlements", "service_points", "schools", "facilities", "villages")


@dataclass
class Row:
    """Wall times of one contender.

    Attributes
    ----------
    table
        Which table the row belongs to.
    label
        What ran.
    seconds
        One wall time per timed run.
    peer
        Another tool, measured for comparison.
    note
        What exactly the call does.
    """

    table: str
    label: str
    seconds: list[float]
    peer: bool = False
    note: str = ""
    short: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# ================================================================ data


def synthetic_county(n: int, m: int, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``n`` settlements and ``m`` facilities, uniform in the square, seeded."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, SIDE_M, (n, 2)) + ORIGIN
    fxy = rng.uniform(0.0, SIDE_M, (m, 2)) + ORIGIN
    cell = ((xy - ORIGIN) // VILLAGE_CELL_M).astype(np.int64)
    per_row = int(SIDE_M // VILLAGE_CELL_M)
    village = np.char.add("510923", np.char.zfill((201 + cell[:, 1] * per_row + cell[:, 0]).astype(str), 6))
    settlements = gpd.GeoDataFrame(
        {"code": np.char.add("JM", np.char.zfill(np.arange(n).astype(str), 7)), "village_code": village,
         "population": rng.integers(20, 301, n)},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4544")
    facilities = gpd.GeoDataFrame(
        {"code": np.char.add("FW", np.char.zfill(np.arange(m).astype(str), 5)), "kind": "agency_station"},
        geometry=gpd.points_from_xy(fxy[:, 0], fxy[:, 1]), crs="EPSG:4544")
    return settlements, facilities


def read_demo(demo_dir: Path) -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(demo_dir / f"{name}.geojson").to_crs(4544) for name in DEMO_LAYERS}


# ================================================================ timing


def interleaved(contenders: dict[str, Callable[[], Any]], runs: int, warm: set[str]) -> dict[str, list[float]]:
    """Wall times of each contender, run by run in turn; ``warm`` ones first get one untimed run."""
    for name in warm:
        contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):
        for name, call in contenders.items():
            gc.collect()
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


def bench_straight(settlements: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, runs: int) -> tuple[list[Row], str]:
    """Our straight-line coverage against a raw KD-tree and geopandas, and a check that they agree."""
    dxy, fxy = point_coordinates(settlements, "settlements"), point_coordinates(facilities, "facilities")
    radius = STANDARD.limit
    calls: dict[str, Callable[[], Any]] = {
        "ours": lambda: coverage(settlements, facilities, STANDARD, method="straight"),
        "arrays": lambda: straight_line_nearest(dxy, fxy),
        "ckdtree": lambda: cKDTree(fxy).query(dxy, k=1, workers=-1),
        "sjoin": lambda: gpd.sjoin_nearest(settlements[["geometry"]], facilities[["geometry"]],
                                           max_distance=radius, distance_col="distance"),
    }
    times = interleaved(calls, runs, warm={"ours", "arrays", "ckdtree"})
    short = {"ckdtree": "cKDTree", "sjoin": "sjoin_nearest"}
    notes = {
        "ours": ("gis_service `coverage(method='straight')`", False,
                 "full report: nearest facility, distance, minutes, covered flag of every settlement; "
                 f"{settlements['village_code'].nunique()} village sums; town totals (from the GeoDataFrames)"),
        "arrays": ("gis_service `straight_line_nearest`", False, "nearest facility and distance, from arrays"),
        "ckdtree": ("scipy `cKDTree(f).query(d, workers=-1)`", True, "tree build + nearest query, from arrays"),
        "sjoin": (f"geopandas `sjoin_nearest(max_distance={radius:g})`", True,
                  "nearest facility within the radius (STRtree), from the GeoDataFrames; no sums"),
    }
    rows = [Row("straight", notes[k][0], times[k], notes[k][1], notes[k][2], short.get(k, "")) for k in calls]
    return rows, agreement(settlements, facilities, radius)


def agreement(settlements: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, radius: float) -> str:
    """Whether our covered set equals the settlements sjoin_nearest finds a facility for."""
    ours = coverage(settlements, facilities, STANDARD, method="straight")
    joined = gpd.sjoin_nearest(settlements[["geometry"]], facilities[["geometry"]], max_distance=radius)
    theirs = np.zeros(len(settlements), dtype=bool)
    theirs[settlements.index.get_indexer(joined.index.unique())] = True
    same = bool(np.array_equal(ours.settlements.covered, theirs))
    return (f"Check: ours and `sjoin_nearest` {'agree' if same else '**disagree**'} on who is covered "
            f"({int(ours.settlements.covered.sum()):,} vs {int(theirs.sum()):,} settlements within {radius:g} m; "
            f"town share {ours.town.share:.4f}).")


def bench_network(demo: dict[str, gpd.GeoDataFrame], runs: int) -> list[Row]:
    """The demo town along the roads: build + solve, solve alone, every standard, the 1+N diagnosis."""
    roads, rivers, bridges = demo["roads"], demo["rivers"], demo["bridges"]
    homes, points = demo["settlements"], NETWORK_STANDARD.select(demo["service_points"])

    def build() -> RoadNetwork:
        return RoadNetwork.from_geodataframes(roads, rivers, bridges)

    net = build()

    def every_standard() -> None:
        for standard in FACILITY_THRESHOLDS.values():
            coverage(homes, standard.select(demo[standard.layer]), standard, network=net)

    calls: dict[str, Callable[[], Any]] = {
        "build_solve": lambda: coverage(homes, points, NETWORK_STANDARD, network=build()),
        "build": build,
        "solve": lambda: coverage(homes, points, NETWORK_STANDARD, network=net),
        "all": every_standard,
        "diagnosis": lambda: diagnose_one_plus_n(homes, demo["service_points"], demo["villages"], rivers=rivers,
                                                 network=net),
    }
    times = interleaved(calls, runs, warm=set(calls))
    notes = {
        "build_solve": ("build + solve", f"`RoadNetwork.from_geodataframes` + `coverage` of {len(homes)} "
                                         f"settlements by {len(points)} service points (1,500 m)"),
        "build": ("build only", f"noding {len(roads)} roads with {len(rivers)} rivers and {len(bridges)} bridges "
                                f"→ {net.n_nodes} nodes, {net.n_edges} edges"),
        "solve": ("solve only", "attach the points, one multi-source Dijkstra, village and town sums"),
        "all": ("solve, all 6 standards", ", ".join(FACILITY_THRESHOLDS)),
        "diagnosis": ("1+N diagnosis", f"{len(demo['villages'])} villages: own-point distances, river sides, "
                                       "greedy station sites"),
    }
    return [Row("network", notes[k][0], times[k], note=notes[k][1]) for k in calls]


# ================================================================ report


def machine_facts(load_before: tuple[float, float, float]) -> dict[str, str]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    load_after = os.getloadavg()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{model.group(1).strip() if model else 'unknown'}, nproc {os.cpu_count()}",
        "load average (1, 5, 15 min)": (f"before {benchlib.load_text(load_before)}; "
                                        f"after {benchlib.load_text(load_after)}"),
        "OS": f"{benchlib.os_name()}, Linux {platform.release()}",
        "Python": platform.python_version(),
        "libraries": (f"numpy {np.__version__}, scipy {scipy.__version__}, shapely {shapely.__version__}, "
                      f"geopandas {gpd.__version__}, pandas {pd.__version__}, pyproj {pyproj.__version__}"),
    }






def table(rows: list[Row], count: int, unit: str) -> list[str]:
    """Markdown table of one group of rows, with ratios of ours to each peer."""
    peers = [r for r in rows if r.peer]
    lines = ["| what | median s | min s | max s | " + unit + "/s | ours / peer | measures |",
             "|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        ratio = "(peer)" if r.peer else "; ".join(f"{r.median / p.median:.2f} vs {p.short}" for p in peers) or "—"
        lines.append(f"| {r.label} | {r.median:.3f} | {min(r.seconds):.3f} | {max(r.seconds):.3f} | "
                     f"{count / r.median:,.0f} | {ratio} | {r.note} |")
    return [*lines, ""]


def target_lines(straight: list[Row], network: list[Row], n: int, m: int) -> list[str]:
    ours = straight[0].median
    whole = network[0].median
    full = n == SETTLEMENTS and m == FACILITIES
    first = (f"- straight-line coverage of {n:,} settlements × {m:,} facilities: median {ours:.2f} s → "
             + (("**met**" if ours < TARGET_SECONDS else "**not met**") if full else "no verdict (not the full size)"))
    second = (f"- network coverage of the demo town (build + solve): median {whole:.3f} s → "
              + ("**met**" if whole < TARGET_SECONDS else "**not met**"))
    raw = next((r.median for r in straight if r.short == "cKDTree"), float("nan"))
    first += (f" (a raw cKDTree build + query alone took {raw:.2f} s in the same runs; the issue's reference for "
              "it, measured on this machine when it was quieter, is about 0.4 s: the load average below says how "
              "busy it was)")
    return [f"### Targets: each under {TARGET_SECONDS:g} s", "", first + ".", second + ".", ""]


def render(facts: dict[str, str], straight: list[Row], check: str, network: list[Row], n: int, m: int,
           demo_settlements: int, total: float) -> str:
    lines = [f"<!-- bench:{SECTION} -->", "## Coverage: straight line and road network", "",
             f"Generated by `scripts/bench_coverage.py` in {total:.0f} s. The machine is shared with other work "
             "(see the load average), so single runs vary: each row quotes the **median**, with min and max. "
             "Contenders run in turn, run by run, so drift in the load falls on all of them alike; the fast ones "
             "get one untimed warm-up first. Ratios are our median / the peer's (below 1: we are faster).", "",
             "| machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in facts.items()], "",
             *target_lines(straight, network, n, m),
             f"### Straight-line coverage, {n:,} settlements × {m:,} facilities", "",
             f"Synthetic (seeded numpy, seed {SEED}): settlements and facilities uniform in a "
             f"{SIDE_M / 1000:.0f} × {SIDE_M / 1000:.0f} km square in EPSG:4544, settlements grouped into villages "
             f"by {VILLAGE_CELL_M / 1000:g} km cells. Threshold {STANDARD.limit:g} m: at this density (one facility "
             "per 0.25 km²) the standards' 1-3 km radii cover every settlement, 500 m leaves a few uncovered. "
             f"{len(straight[0].seconds)} runs per row.", "",
             *table(straight, n, "settlements"), check, "",
             f"### Network coverage of the demo town ({demo_settlements} settlements)", "",
             "Walking, rivers crossed only at bridges (`layers/demo`, read and projected to EPSG:4544 once, "
             f"outside the timing). {len(network[0].seconds)} runs per row.", "",
             *table(network, demo_settlements, "settlements"),
             f"<!-- /bench:{SECTION} -->"]
    return "\n".join(lines) + "\n"




# ================================================================ main


def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()
    t = time.perf_counter()
    settlements, facilities = synthetic_county(args.settlements, args.facilities, args.seed)
    print(f"synthetic county: {len(settlements):,} settlements, {len(facilities):,} facilities "
          f"in {time.perf_counter() - t:.1f} s", flush=True)
    straight, check = bench_straight(settlements, facilities, args.runs)
    print(*(f"{r.label}: median {r.median:.3f} s" for r in straight), check, sep="\n", flush=True)
    del settlements, facilities
    demo = read_demo(args.demo_dir)
    network = bench_network(demo, args.network_runs)
    print(*(f"{r.label}: median {r.median:.4f} s" for r in network), sep="\n", flush=True)
    section = render(machine_facts(load_before), straight, check, network, args.settlements, args.facilities,
                     len(demo["settlements"]), time.perf_counter() - started)
    benchlib.write_section(args.out, SECTION, section)
    print(f"wrote the {SECTION} section of {args.out} in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="Markdown file whose bench:coverage section is (re)written.")
    parser.add_argument("--demo-dir", type=Path, default=ROOT / "layers" / "demo")
    parser.add_argument("--settlements", type=int, default=SETTLEMENTS)
    parser.add_argument("--facilities", type=int, default=FACILITIES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--runs", type=int, default=RUNS_STRAIGHT, help="Runs of each straight-line contender.")
    parser.add_argument("--network-runs", type=int, default=RUNS_NETWORK, help="Runs of each network contender.")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
