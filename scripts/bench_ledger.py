"""Ledger benchmark: the progress summary, the reconciliation and the inventory check on a synthetic county.

Run::

    .venv/bin/python scripts/bench_ledger.py --out docs/benchmarks.md [--assets 20000] [--villages 300] [--runs 5]

What it does:

1. draws a seeded synthetic county in EPSG:4544: 300 merged villages (2 km squares on a grid), each split into
   three former villages (vertical strips); 20,000 assets uniform in the county, owned by their merged village
   (half, with a completed transfer), still by their former village (40 %, some with a pending transfer) or by
   the town (10 %); two claims or debts per former village; a revitalisation plan for every idle asset;
2. loads it into a PostGIS database of its own (``gis_service_bench_ledger``, created next to the test
   database and dropped at the end) and into a SpatiaLite file in a temporary folder;
3. times, on each backend, the service calls end to end from the database (read, project, compute):
   ``LedgerProgressService.progress``, ``LedgerCheckService.reconciliation`` and ``inventory_check``, one
   untimed warm-up each, then the median of ``--runs`` runs;
4. replaces its own section (``<!-- bench:ledger -->``) of ``--out``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import benchlib  # scripts/ is on sys.path when a script runs
import numpy as np
import shapely
from benchlib import Timing, timed
from sqlalchemy import Engine, insert

from gis_service.crs import analysis_crs, storage_crs, transform_geometries
from gis_service.db.base import STORAGE_SRID
from gis_service.db.dialects import dialect_for
from gis_service.layers.registry import get_layer
from gis_service.repositories.ledger_books import CLAIMS, PLANS, TRANSFERS
from gis_service.services.ledger_checks import LedgerCheckService
from gis_service.services.ledger_progress import LedgerProgressService

ROOT = Path(__file__).resolve().parent.parent
SECTION = "ledger"
SEED = 20_210_531
ASSETS = 20_000
VILLAGES = 300
RUNS = 5
TARGET_SECONDS = 1.0
CELL_M = 2_000.0
COLUMNS = 20  # villages per grid row
ORIGIN = (480_000.0, 3_360_000.0)
TOWN = "510923100"
AS_OF = date(2021, 10, 15)
DEFAULT_PG = "postgresql+psycopg://{user}@/gis_service_test?host=/var/run/postgresql"


@dataclass
class County:
    """Rows per table: (columns, rows, geometries in EPSG:4490) for layers, dicts for ledger tables."""

    layers: dict[str, tuple[list[str], list[tuple[Any, ...]], dict[str, np.ndarray]]]
    ledger: dict[str, list[dict[str, Any]]]


def _lonlat(geometries: np.ndarray) -> np.ndarray:
    return transform_geometries(geometries, analysis_crs(), storage_crs())


def synthetic_county(n_assets: int, n_villages: int, seed: int) -> County:
    """The seeded county described in the module docstring."""
    rng = np.random.default_rng(seed)
    col, row = np.arange(n_villages) % COLUMNS, np.arange(n_villages) // COLUMNS
    x0, y0 = ORIGIN[0] + col * CELL_M, ORIGIN[1] + row * CELL_M
    village_codes = [f"5109231{i:05d}" for i in range(n_villages)]
    villages = shapely.multipolygons([[shapely.box(x, y, x + CELL_M, y + CELL_M)] for x, y in zip(x0, y0, strict=True)])
    third = CELL_M / 3
    former_codes = [f"5109232{i:05d}" for i in range(3 * n_villages)]
    former = shapely.multipolygons([[shapely.box(x0[i // 3] + (i % 3) * third, y0[i // 3],
                                                 x0[i // 3] + (i % 3 + 1) * third, y0[i // 3] + CELL_M)]
                                    for i in range(3 * n_villages)])
    village = rng.integers(0, n_villages, n_assets)
    dx, dy = rng.uniform(1, CELL_M - 1, n_assets), rng.uniform(1, CELL_M - 1, n_assets)
    strip = village * 3 + (dx // third).astype(int)
    points = shapely.points(x0[village] + dx, y0[village] + dy)
    kind = rng.choice(["village", "former", "town"], n_assets, p=[0.5, 0.4, 0.1])
    status = rng.choice(["in_use", "idle", "partly_idle", "leased"], n_assets, p=[0.5, 0.2, 0.1, 0.2])
    codes = [f"JT{i:06d}" for i in range(n_assets)]
    owner = np.where(kind == "village", np.array(village_codes, dtype=object)[village],
                     np.where(kind == "former", np.array(former_codes, dtype=object)[strip], TOWN))
    inventoried = [date(2021, 3, 1) + timedelta(days=int(d)) for d in rng.integers(0, 60, n_assets)]
    asset_columns = ["code", "name", "ownership", "asset_class", "category", "use_status", "owner_code",
                     "village_code", "former_village_code", "location", "land_area", "floor_area", "original_value",
                     "net_value", "inventoried_on"]
    asset_rows = [(codes[i], f"资产{i}", "town_state" if kind[i] == "town" else "village_collective", "operating",
                   "warehouse", status[i], owner[i], village_codes[village[i]], former_codes[strip[i]], f"第{i % 9}组",
                   float(rng.integers(50, 5000)), float(rng.integers(0, 2000)), float(rng.integers(1, 500)),
                   float(rng.integers(1, 300)), inventoried[i]) for i in range(n_assets)]
    merged_into = [village_codes[i // 3] for i in range(3 * n_villages)]
    layers = {
        "villages": (["code", "name", "kind"], [(c, f"村{i}", "village") for i, c in enumerate(village_codes)],
                     {"geom": _lonlat(villages)}),
        "former_villages": (["code", "name", "merged_into"],
                            [(c, f"原村{i}", merged_into[i]) for i, c in enumerate(former_codes)],
                            {"geom": _lonlat(former)}),
        "assets": (asset_columns, asset_rows, {"geom": _lonlat(points), "footprint": np.full(n_assets, None)}),
    }
    return County(layers, _ledger_rows(rng, codes, kind, strip, village, status, former_codes, village_codes))


def _ledger_rows(rng: np.random.Generator, codes: list[str], kind: np.ndarray, strip: np.ndarray,
                 village: np.ndarray, status: np.ndarray, former_codes: list[str], village_codes: list[str]
                 ) -> dict[str, list[dict[str, Any]]]:
    transfers = [{"asset_code": codes[i], "from_code": former_codes[strip[i]], "to_code": village_codes[village[i]],
                  "status": "completed", "transfer_date": date(2021, 4, 1) + timedelta(days=int(i % 90)),
                  "approval": "蓬府〔2021〕1号", "recorded_by": "bench"} for i in np.flatnonzero(kind == "village")]
    transfers += [{"asset_code": codes[i], "from_code": former_codes[strip[i]], "to_code": village_codes[village[i]],
                   "status": "pending", "transfer_date": None, "approval": None, "recorded_by": "bench"}
                  for i in np.flatnonzero(kind == "former")[::4]]
    claims = [{"former_village_code": f, "kind": k, "counterparty": "对方", "amount": float(rng.integers(1, 50)),
               "status": "pending", "recorded_by": "bench"} for f in former_codes for k in ("claim", "debt")]
    modes = ["convenience_service", "welfare_rebuild", "collective_economy", "market_operation"]
    plans = [{"asset_code": codes[i], "mode": modes[i % 4], "target_use": "lease", "lead_unit": f"单位{i % 7}",
              "responsible_person": "张三", "planned_on": date(2021, 5, 1) + timedelta(days=int(i % 70)),
              "deadline": date(2021, 8, 1) + timedelta(days=int(i % 150)),
              "status": ("pending", "in_progress", "struck_off")[i % 3],
              "struck_off_on": date(2021, 9, 1) if i % 3 == 2 else None}
             for i in np.flatnonzero(np.isin(status, ["idle", "partly_idle"]))]
    return {"asset_transfers": transfers, "village_claims": claims, "revitalisation_plans": plans}


def load(engine: Engine, county: County) -> None:
    """Write the county in one transaction: layers by the dialect's bulk insert, ledger rows by executemany."""
    with engine.begin() as conn:
        dialect = dialect_for(conn)
        for name, (columns, rows, geometries) in county.layers.items():
            dialect.bulk_insert(conn, get_layer(name).table, columns, rows, geometries, STORAGE_SRID)
        for table in (TRANSFERS, CLAIMS, PLANS):
            rows = county.ledger[table.name]
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start:start + 5000])


def bench(backend: str, engine: Engine, county: County, runs: int) -> list[Timing]:
    start = time.perf_counter()
    load(engine, county)
    print(f"{backend}: loaded in {time.perf_counter() - start:.1f} s", flush=True)
    progress = LedgerProgressService(engine, 2021)
    checks = LedgerCheckService(engine)
    report = checks.reconciliation()
    print(f"{backend}: reconciliation balanced={report.balanced}, {len(report.causes)} causes", flush=True)
    rows = [
        Timing(backend, "progress summary", timed(lambda: progress.progress(AS_OF), runs),
            "`LedgerProgressService.progress`: by status, village, lead unit, mode; overdue; 4 milestones per village"),
        Timing(backend, "reconciliation", timed(checks.reconciliation, runs),
            "`LedgerCheckService.reconciliation`: every asset in its former and merged village, books before/after"),
        Timing(backend, "inventory check", timed(checks.inventory_check, runs),
            "`LedgerCheckService.inventory_check`: location, duplicate codes and names (20 m), outside villages"),
    ]
    for row in rows:
        print(f"{backend}: {row.label} median {row.median:.3f} s", flush=True)
    return rows


# ================================================================ report


def render(rows: list[Timing], county: County, runs: int, total: float, load_before: tuple[float, float, float]) -> str:
    n_assets = len(county.layers["assets"][1])
    n_villages = len(county.layers["villages"][1])
    lines = [f"<!-- bench:{SECTION} -->", "## Ledger: progress summary and reconciliation", "",
             benchlib.provenance("bench_ledger.py", total, load_before), "",
             f"Synthetic county (seed {SEED}): {n_assets:,} assets, {n_villages} merged villages of 2 km, "
             f"{len(county.layers['former_villages'][1])} former villages, "
             f"{len(county.ledger['asset_transfers']):,} transfers, {len(county.ledger['village_claims']):,} claims "
             f"and debts, {len(county.ledger['revitalisation_plans']):,} plans. Each call is a service call end to "
             f"end from the database (read, project to EPSG:4544, compute); one warm-up, then {runs} runs.", "",
             f"### Target: progress summary and reconciliation each under {TARGET_SECONDS:g} s on PostGIS (median)", ""]
    for row in rows:
        if row.backend == "PostGIS" and row.label in ("progress summary", "reconciliation"):
            verdict = "**met**" if row.median < TARGET_SECONDS else "**not met**"
            lines.append(f"- {row.label}: median {row.median:.3f} s → {verdict}.")
    lines += ["", *benchlib.timing_table(rows)]
    return "\n".join([*lines, f"<!-- /bench:{SECTION} -->"]) + "\n"


def run(args: argparse.Namespace) -> None:
    started, load_before = time.perf_counter(), os.getloadavg()
    county = synthetic_county(args.assets, args.villages, args.seed)
    rows = benchlib.on_both_backends(args.postgres_url, SECTION,
                                     lambda backend, engine: bench(backend, engine, county, args.runs))
    benchlib.write_section(args.out, SECTION, render(rows, county, args.runs, time.perf_counter() - started,
                                                     load_before))
    print(f"wrote the {SECTION} section of {args.out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--assets", type=int, default=ASSETS)
    parser.add_argument("--villages", type=int, default=VILLAGES)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--postgres-url", default=os.environ.get("GIS_TEST_POSTGRES_URL")
                        or DEFAULT_PG.format(user=os.environ.get("USER", "root")),
                        help="The test database's URL; the benchmark makes its own database next to it.")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
