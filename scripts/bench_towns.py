"""Many towns in one PostGIS database: what partitions by town and row-level security cost a town's queries.

Run by ``make bench`` (and ``make bench-towns``)::

    GIS_TEST_POSTGRES_URL=postgresql+psycopg://$USER@/gis_service_test?host=/var/run/postgresql \\
        .venv/bin/python scripts/bench_towns.py --out docs/benchmarks.md [--towns 300] [--runs 30]

Two peers, measured in the same run, in a database of its own next to the test database:

1. **1 town**: the current schema (every town table partitioned by town code, row-level security), the demo town;
2. **N towns**: the same database with ``--towns`` towns (each a partition of all 21 town tables), the demo town
   loaded into a second one too (the import, with every layer replaced, is also what once ran out of lock slots).

On each, the median of ``--runs`` runs of what the API does most: a page of 100 assets, one asset by id, the
settlements in a 1 km box (GiST), and an empty transaction (the per-transaction ``set_config`` of the town and
role). Also the time to add one town (its partitions of every table) and the planning time of the page query.
Replaces its section (``<!-- bench:towns -->``) of ``--out``; the databases are dropped.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib  # scripts/ is on sys.path when a script runs
from benchlib import Timing, timed
from sqlalchemy import Engine, select, text

from gis_service.db.migrate import upgrade
from gis_service.layers.registry import get_layer
from gis_service.repositories.features import FeatureQuery
from gis_service.services.demo import demo_files
from gis_service.services.features import FeatureService
from gis_service.services.layers import LayerService
from gis_service.services.towns import TownService
from gis_service.settings import Settings
from gis_service.towns import working_on

SECTION = "towns"
SECOND_TOWN = "510923101"
BOX = (105.22, 30.55, 105.235, 30.565)  # about 1.4 km x 1.7 km in the middle of the demo town
DEFAULT_PG = "postgresql+psycopg://{user}@/gis_service_test?host=/var/run/postgresql"


def _load_demo_layers(engine: Engine) -> None:
    LayerService(engine).import_files(demo_files(Settings().demo_dir), mode="replace")


def _measure(peer: str, engine: Engine, runs: int) -> list[Timing]:
    features = FeatureService(engine)
    assets, settlements = get_layer("assets"), get_layer("settlements")
    with engine.connect() as conn:
        some_id = int(conn.execute(text("SELECT id FROM assets ORDER BY id OFFSET 50 LIMIT 1")).scalar_one())

    def empty_transaction() -> None:
        with engine.connect() as conn:
            conn.execute(select(1))

    cases: list[tuple[str, Callable[[], Any], str]] = [
        ("page of 100 assets", lambda: features.page(assets, FeatureQuery(limit=100, offset=200)),
         "`FeatureService.page`: rows, count, GeoJSON-ready features"),
        ("one asset by id", lambda: features.get(assets, some_id), "primary key look-up"),
        ("settlements in a box", lambda: features.page(settlements, FeatureQuery(bbox=BOX, limit=1000)),
         "GiST index, about 1.5 km square"),
        ("empty transaction", empty_transaction, "BEGIN, `SELECT 1`, COMMIT: the per-transaction town setting"),
        ("layer versions of a town", lambda: features.versions(frozenset({"510923100"})),
         "what every cached page and tile waits for (batched per event loop)"),
    ]
    return [Timing(peer, label, timed(call, runs), note) for label, call, note in cases]


def _planning_ms(engine: Engine, bound: bool) -> float:
    """Planning time of a page query left to row security alone, or with the town bound as a value."""
    where = "WHERE town_code = '510923100' " if bound else ""
    with engine.connect() as conn:
        plan = conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM assets {where}"
                                 "ORDER BY id LIMIT 100 OFFSET 200"))
        return float(plan.scalar_one()[0]["Planning Time"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--towns", type=int, default=300)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    base = os.environ.get("GIS_TEST_POSTGRES_URL") or DEFAULT_PG.format(user=os.environ.get("USER", "root"))
    load_before, started = os.getloadavg(), time.perf_counter()
    rows: list[Timing] = []
    planning: dict[str, float] = {}

    engine, drop = benchlib.postgis_database(base, "gis_service_bench_towns")
    try:
        upgrade(engine)
        _load_demo_layers(engine)
        rows += _measure("1 town", engine, args.runs)
        planning["1 town, row security only"] = _planning_ms(engine, False)
        planning["1 town, town bound"] = _planning_ms(engine, True)
        towns = TownService(engine)
        adds = []
        for number in range(1, args.towns):
            code = f"5109{number // 1000:02d}{number % 1000:03d}" if number != 1 else SECOND_TOWN
            start = time.perf_counter()
            towns.add(code, f"镇{number}")
            adds.append(time.perf_counter() - start)
        with working_on(SECOND_TOWN):
            _load_demo_layers(engine)
        label = f"{args.towns} towns"
        rows += _measure(label, engine, args.runs)
        rows.append(Timing(label, "add one town", adds, "`TownService.add`: its partition of each of 21 tables"))
        planning[f"{label}, row security only"] = _planning_ms(engine, False)
        planning[f"{label}, town bound"] = _planning_ms(engine, True)
        with engine.connect() as conn:
            partitions = conn.execute(text("SELECT count(*) FROM pg_inherits")).scalar_one()
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    finally:
        drop()

    total = time.perf_counter() - started
    lines = [f"<!-- bench:{SECTION} -->", "## Many towns in one PostGIS database", "",
             benchlib.provenance("bench_towns.py", total, load_before), "",
             f"Peers: the partitioned schema with one town, and with {args.towns} towns ({partitions:,} partitions and "
             f"their indexes, database "
             f"{size / 2**20:,.0f} MiB); the demo town in one town, and again in a second one for the second peer. "
             f"Median of {args.runs} runs after a warm-up; in-process calls of the service, no HTTP.", "",
             *benchlib.timing_table(rows), "",
             "Planning time of `SELECT * FROM assets ORDER BY id LIMIT 100 OFFSET 200` (EXPLAIN ANALYZE, ms), left to "
             "row security alone (pruned only when the query starts) and with the town bound as a value, as the "
             "layer, feature and tile queries do (`db/dialects.py: town_scope`): "
             + ", ".join(f"{peer} {ms:.2f}" for peer, ms in planning.items()) + ".", "",
             f"<!-- /bench:{SECTION} -->", ""]
    benchlib.write_section(args.out, SECTION, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
