"""Layer import/export benchmark on SpatiaLite and PostGIS, with named peers (ogr2ogr, ``to_postgis``).

Run by ``make bench``::

    GIS_TEST_POSTGRES_URL=postgresql+psycopg://root@/gis_service_test?host=/var/run/postgresql \\
        .venv/bin/python scripts/bench.py --out docs/benchmarks.md

What it does:

1. generates a seeded synthetic county of 100,000 settlements and writes it once to a GeoPackage;
2. times, on both backends and on a freshly emptied database per run, the import and export of the demo
   town, the import of the county (whole pipeline and stage by stage: read, validate, bulk insert) and its
   export to GeoPackage and CSV; then ogr2ogr and ``GeoDataFrame.to_postgis`` loading the same data;
3. measures the peak resident memory of one county import in a fresh interpreter per backend;
4. replaces its own section (``<!-- bench:layers -->``) of ``--out`` with machine facts and tables.

The PostGIS database is its own (``<test database>_bench``), created and dropped here; SpatiaLite files and
the GeoPackage live in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchlib  # scripts/ is on sys.path when a script runs
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from gis_service.db.engine import create_db_engine
from gis_service.db.migrate import upgrade
from gis_service.fileio.formats import detect_format
from gis_service.fileio.readers import read_source
from gis_service.layers.registry import get_layer, list_layers
from gis_service.layers.validation import validate
from gis_service.repositories.layers import LayerRepository
from gis_service.services.demo import demo_files, load_demo
from gis_service.services.layers import LayerService
from gis_service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

SECTION = "layers"
DEFAULT_PG_URL = "postgresql+psycopg://root@/gis_service_test?host=/var/run/postgresql"
SEED = 20_260_526
COUNTY_FEATURES = 100_000
RUNS = 5  # per measurement; the slowest (SpatiaLite, 100k import) takes about 4 s a run
TARGET_SECONDS = 5.0  # "load 100,000 point features into PostGIS in under 5 s"
PEER_TABLE = "bench_peer_settlements"


# ================================================================ synthetic county

COUNTY_CENTRE = (105.25, 30.59)  # lon, lat (Daying county, Sichuan)
COUNTY_SIDE_M = 40_000.0
COUNTY_CODE = "510923"
TOWNSHIP_GRID = (5, 4)  # columns x rows of townships over the square
VILLAGE_COUNT = 360
SURNAMES = list("王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏"
                "叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常"
                "武乔贺赖龚文")
PLACE_WORDS = ["院子", "大院", "湾", "坝", "沟", "坡", "嘴", "垭口", "塝", "老屋", "岩", "坪", "塘", "林"]


def _village_table(rng: np.random.Generator) -> pd.DataFrame:
    """Village centres (metres from the county centre) with their 12-digit codes and former villages.

    Codes follow the statistical division scheme: county (6) + township (3) + village (3); the first
    village of each township is a community (``001``), the others ``2xx``; the villages merged away in
    the 2020 reform (former villages) are ``4xx``.
    """
    half = COUNTY_SIDE_M / 2
    x = rng.uniform(-half * 0.95, half * 0.95, VILLAGE_COUNT)
    y = rng.uniform(-half * 0.95, half * 0.95, VILLAGE_COUNT)
    cols, rows = TOWNSHIP_GRID
    township = (np.minimum(((y + half) / COUNTY_SIDE_M * rows).astype(int), rows - 1) * cols
                + np.minimum(((x + half) / COUNTY_SIDE_M * cols).astype(int), cols - 1))
    codes, formers = [], []
    seen: dict[int, int] = {}
    former_seen: dict[int, int] = {}
    for t in township:
        seq = seen.get(int(t), 0)
        seen[int(t)] = seq + 1
        prefix = f"{COUNTY_CODE}{100 + int(t):03d}"
        codes.append(f"{prefix}001" if seq == 0 else f"{prefix}{200 + seq:03d}")
        merged = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
        start = former_seen.get(int(t), 0)
        former_seen[int(t)] = start + (merged if merged > 1 else 0)
        formers.append([f"{prefix}{400 + start + k:03d}" for k in range(merged)] if merged > 1 else [])
    return pd.DataFrame({"x": x, "y": y, "code": codes, "formers": formers,
                         "weight": rng.gamma(2.0, 1.0, VILLAGE_COUNT),
                         "spread": rng.uniform(400.0, 900.0, VILLAGE_COUNT)})


def synthetic_county(n: int = COUNTY_FEATURES, seed: int = SEED) -> gpd.GeoDataFrame:
    """A deterministic county of ``n`` settlements (院落) in EPSG:4490.

    Settlements cluster around 360 village centres spread over a 40 x 40 km square around 105.25°E
    30.59°N; attributes follow a rural Sichuan county (about 10 people per settlement, a quarter of them
    over 60).

    Parameters
    ----------
    n
        Number of settlements.
    seed
        Seed of the numpy generator: the same seed gives the same county.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (unique), ``name``, ``village_code`` (12 digits), ``former_village_code``
        (12 digits or None), ``population``, ``households``, ``elderly``, ``children`` and Point geometry.
    """
    rng = np.random.default_rng(seed)
    villages = _village_table(rng)
    village_of = rng.choice(len(villages), size=n, p=(villages.weight / villages.weight.sum()).to_numpy())
    half = COUNTY_SIDE_M / 2
    spread = villages.spread.to_numpy()[village_of]
    x = np.clip(villages.x.to_numpy()[village_of] + rng.normal(0.0, 1.0, n) * spread, -half, half)
    y = np.clip(villages.y.to_numpy()[village_of] + rng.normal(0.0, 1.0, n) * spread, -half, half)
    lon0, lat0 = COUNTY_CENTRE
    lon = np.round(lon0 + x / (111_320.0 * np.cos(np.radians(lat0))), 7)
    lat = np.round(lat0 + y / 110_574.0, 7)

    serial = _serial_within(village_of)
    village_codes = villages.code.to_numpy()[village_of]
    formers = villages.formers.to_numpy()
    pick = rng.integers(0, 3, n)
    former_codes = [f[p % len(f)] if f else None for f, p in zip(formers[village_of], pick, strict=True)]
    population = np.maximum(1, np.round(rng.lognormal(np.log(8.0), 0.6, n))).astype(int)
    households = np.maximum(1, np.round(population / rng.uniform(2.4, 3.6, n))).astype(int)
    elderly = rng.binomial(population, 0.26)
    children = rng.binomial(population - elderly, 0.14)
    group = rng.integers(1, 13, n)
    surname = rng.integers(0, len(SURNAMES), n)
    word = rng.integers(0, len(PLACE_WORDS), n)
    names = [f"{g}组{SURNAMES[s]}家{PLACE_WORDS[w]}" for g, s, w in zip(group, surname, word, strict=True)]
    return gpd.GeoDataFrame(
        {
            "code": [f"{v}{s:04d}" for v, s in zip(village_codes, serial, strict=True)],
            "name": names,
            "village_code": village_codes,
            "former_village_code": former_codes,
            "population": population,
            "households": households,
            "elderly": elderly,
            "children": children,
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4490",
    )


def _serial_within(groups: np.ndarray) -> np.ndarray:
    """1-based position of each element among the elements of its group (in input order)."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(groups)]))
    serial = np.empty(len(groups), dtype=int)
    serial[order] = np.arange(len(groups)) - first + 1
    if serial.max() > 9999:
        raise ValueError("a village holds more than 9,999 settlements; the code format would overflow")
    return serial


def write_county(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write the county to a GeoPackage layer ``settlements`` and return ``path``.

    GeoPackage 1.3: the newest version the ogr2ogr peer (Debian's GDAL 3.6) reads without a warning.
    """
    pyogrio.write_dataframe(frame, path, layer="settlements", driver="GPKG", VERSION="1.3")
    return path


# ================================================================ results


@dataclass
class Result:
    """Wall times of one thing measured several times.

    Attributes
    ----------
    scenario
        Key of the scenario the row belongs to (a table in the report).
    label
        What ran: ``gis_service`` for our code, a step name, or the peer's name.
    backend
        ``SpatiaLite`` or ``PostGIS``.
    features
        Features handled per run (for features/s).
    seconds
        One wall time per run.
    peer
        True for another tool measured for comparison.
    """

    scenario: str
    label: str
    backend: str
    features: int
    seconds: list[float]
    peer: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.features / self.median if self.median > 0 else float("nan")


@dataclass
class MemoryResult:
    """Peak resident memory of one run in a fresh process.

    Attributes
    ----------
    label, backend
        As in :class:`Result`.
    peak_mib
        Peak resident set size of the process (MiB).
    baseline_mib
        Resident set size before the measured work began (MiB), ``None`` when unknown (external tools).
    seconds
        Wall time of that run.
    method
        How the peak was read.
    """

    label: str
    backend: str
    peak_mib: float
    baseline_mib: float | None
    seconds: float
    method: str


@dataclass(frozen=True)
class Scenario:
    """A table of the report."""

    key: str
    title: str  # ``{county}`` stands for the county's size, e.g. "100k"
    note: str = ""
    peer_scenario: str | None = None  # whose peer rows give the ratios
    compare: tuple[str, ...] = ("gis_service",)  # labels of our rows that get a ratio


SCENARIOS = [
    Scenario("demo_import", "Import of the demo town",
             "`load_demo(engine, Path('layers/demo'))`: every layer in one transaction."),
    Scenario("demo_export", "Export of the demo town to GeoPackage",
             "`LayerService.export(name, 'gpkg', path)` for every layer, one file each."),
    Scenario("county_import", "Import of the {county}-settlement GeoPackage",
             "`LayerService.import_file(path, 'settlements', mode='replace')`: read + validate + bulk "
             "insert + commit, into a table with a primary key, a unique index on `code` and a spatial "
             "index. ogr2ogr reads the same file, checks nothing and makes a primary key and a GiST index; "
             "`to_postgis` writes the same frame, already in memory (no file read, no checks), with a GiST "
             "index only.", peer_scenario="county_import"),
    Scenario("county_stages", "Where the time of the {county} import goes",
             "The steps of `LayerService.import_files`, same calls in the same order, timed one by one on a "
             "fresh database: `read_source` (pyogrio read + column mapping); `validate`, split into its "
             "field and geometry checks and the time spent in its `codes_taken` callback "
             "(`LayerRepository.existing_codes`, which asks the database which codes already exist, in "
             "chunks of 5,000); the bulk insert (`LayerRepository.insert` in 10,000-row chunks through the "
             "service's own loop: COPY on PostGIS, `executemany` on SpatiaLite) plus commit. The ratios of "
             "the insert and of the sum compare them with the peers' whole load.",
             peer_scenario="county_import", compare=("bulk insert + commit", "sum of the steps")),
    Scenario("county_export_gpkg", "Export of the {county} settlements to GeoPackage",
             "`LayerService.export('settlements', 'gpkg', path)`: read from the database + write."),
    Scenario("county_export_csv", "Export of the {county} settlements to CSV",
             "`LayerService.export('settlements', 'csv', path)`: Chinese headers, longitude/latitude columns."),
]


# ================================================================ backends


class Backend:
    """One storage backend: hands out freshly emptied, migrated databases and says how peers reach it."""

    name = "generic"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._engine: Engine | None = None

    def setup(self) -> None:
        """Create whatever the runs start from (called once)."""
        raise NotImplementedError

    def fresh_engine(self) -> Engine:
        """An engine on an empty, migrated database, already connected (the previous one is released)."""
        self.release()
        self._engine = self._empty_engine()
        with self._engine.connect():
            pass  # open the pooled connection (and load SpatiaLite) before any timing starts
        return self._engine

    def _empty_engine(self) -> Engine:
        raise NotImplementedError

    def release(self) -> None:
        """Dispose the current engine and forget its database."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def teardown(self) -> None:
        """Remove everything :meth:`setup` created."""
        self.release()

    def ogr2ogr_destination(self, run: int) -> list[str]:
        """ogr2ogr arguments naming the destination (a new, empty table ``PEER_TABLE``)."""
        raise NotImplementedError

    def peer_engine(self) -> Engine | None:
        """An engine for ``GeoDataFrame.to_postgis``, or None if the backend is not PostGIS."""
        return None

    def versions(self) -> dict[str, str]:
        raise NotImplementedError


class SpatiaLiteBackend(Backend):
    """A new SQLite file per run, copied from a migrated template (as the test suite does)."""

    name = "SpatiaLite"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir / "spatialite")
        self.template = self.workdir / "template.sqlite"
        self._current: Path | None = None
        self._runs = 0

    def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        engine = create_db_engine(Settings(database_url=f"sqlite:///{self.template}"))
        upgrade(engine)
        engine.dispose()

    def _empty_engine(self) -> Engine:
        self._runs += 1
        self._current = self.workdir / f"run-{self._runs}.sqlite"
        shutil.copy(self.template, self._current)
        return create_db_engine(Settings(database_url=f"sqlite:///{self._current}"))

    def release(self) -> None:
        super().release()
        if self._current is not None:
            for path in self._current.parent.glob(f"{self._current.name}*"):
                path.unlink()
            self._current = None

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def ogr2ogr_destination(self, run: int) -> list[str]:
        target = self.workdir / f"ogr2ogr-{run}.sqlite"
        target.unlink(missing_ok=True)
        return ["-f", "SQLite", "-dsco", "SPATIALITE=YES", str(target)]

    def versions(self) -> dict[str, str]:
        engine = create_db_engine(Settings(database_url=f"sqlite:///{self.template}"))
        with engine.connect() as conn:
            row = conn.execute(text("SELECT spatialite_version(), sqlite_version()")).one()
        engine.dispose()
        return {"SpatiaLite": row[0], "SQLite": row[1]}


class PostGISBackend(Backend):
    """A database of the benchmark's own, next to the test database; emptied by TRUNCATE per run."""

    name = "PostGIS"

    def __init__(self, workdir: Path, base_url: str) -> None:
        super().__init__(workdir)
        base = make_url(base_url)
        self.url: URL = base.set(database=f"{base.database}_bench")
        self.admin_url: URL = base.set(database="postgres")

    def _admin(self, statement: str) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(statement))
        finally:
            admin.dispose()

    def setup(self) -> None:
        name = self.url.database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{name}"')
        with create_engine(self.url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        engine = self._settings_engine()
        upgrade(engine)
        engine.dispose()

    def _settings_engine(self) -> Engine:
        return create_db_engine(Settings(database_url=self.url.render_as_string(hide_password=False)))

    def _empty_engine(self) -> Engine:
        engine = self._settings_engine()
        tables = ", ".join(f'"{spec.name}"' for spec in list_layers())
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
            conn.execute(text(f'DROP TABLE IF EXISTS "{PEER_TABLE}"'))
        return engine

    def teardown(self) -> None:
        super().teardown()
        self._admin(f'DROP DATABASE IF EXISTS "{self.url.database}" WITH (FORCE)')

    def libpq(self) -> str:
        """The database as a libpq connection string (without the password, which goes by PGPASSWORD)."""
        parts = {"dbname": self.url.database, "host": self.url.query.get("host") or self.url.host,
                 "port": self.url.port, "user": self.url.username}
        return " ".join(f"{key}={value}" for key, value in parts.items() if value)

    def ogr2ogr_destination(self, run: int) -> list[str]:
        return ["-f", "PostgreSQL", f"PG:{self.libpq()}", "-lco", "SPATIAL_INDEX=GIST"]

    def peer_engine(self) -> Engine | None:
        return self._engine

    def versions(self) -> dict[str, str]:
        engine = self._settings_engine()
        with engine.connect() as conn:
            row = conn.execute(text("SELECT postgis_lib_version(), current_setting('server_version')")).one()
        engine.dispose()
        return {"PostGIS": row[0], "PostgreSQL": row[1]}


# ================================================================ measuring


def measure(
    runs: int, describe: str, prepare: Callable[[], Any], action: Callable[[Any], object]
) -> list[float]:
    """Wall time of ``action(prepare())`` over ``runs`` runs; ``prepare`` is not timed.

    Parameters
    ----------
    runs
        How many times to run.
    describe
        Printed with each run's time.
    prepare
        Builds the starting state of one run (e.g. a freshly emptied database).
    action
        The measured work.

    Returns
    -------
    list of float
        Seconds per run.
    """
    times = []
    for run in range(1, runs + 1):
        state = prepare()
        gc.collect()
        start = time.perf_counter()
        action(state)
        times.append(time.perf_counter() - start)
        print(f"  {describe}: run {run}/{runs} {times[-1]:.3f} s", flush=True)
    return times


@dataclass
class Inputs:
    """What the scenarios work on."""

    workdir: Path
    demo_dir: Path
    demo_features: int
    county: gpd.GeoDataFrame
    county_gpkg: Path
    runs: int
    results: list[Result] = field(default_factory=list)
    memory: list[MemoryResult] = field(default_factory=list)

    def add(self, scenario: str, label: str, backend: Backend, features: int, seconds: list[float],
            peer: bool = False) -> None:
        self.results.append(Result(scenario, label, backend.name, features, seconds, peer))


def bench_demo(backend: Backend, inputs: Inputs) -> None:
    """Import of the whole demo town (fresh database each run), then its export to GeoPackage."""
    times = measure(inputs.runs, f"{backend.name} demo import", backend.fresh_engine,
                    lambda engine: load_demo(engine, inputs.demo_dir))
    inputs.add("demo_import", "gis_service", backend, inputs.demo_features, times)
    service = LayerService(backend.fresh_engine())
    load_demo(service.engine, inputs.demo_dir)
    names = [spec.name for spec in list_layers()]
    times = measure(inputs.runs, f"{backend.name} demo export", lambda: _scratch(inputs.workdir),
                    lambda out: [service.export(name, "gpkg", out / f"{name}.gpkg") for name in names])
    inputs.add("demo_export", "gis_service", backend, inputs.demo_features, times)


def bench_county_import(backend: Backend, inputs: Inputs) -> None:
    """The whole import pipeline through the service, on a freshly emptied database each run."""
    times = measure(inputs.runs, f"{backend.name} county import", backend.fresh_engine,
                    lambda engine: LayerService(engine).import_file(inputs.county_gpkg, "settlements",
                                                                    mode="replace"))
    inputs.add("county_import", "gis_service", backend, len(inputs.county), times)


STEPS = ("read_source", "validate: field and geometry checks", "validate: code look-up (existing_codes)",
         "bulk insert + commit", "sum of the steps")


class Stopwatch:
    """Wraps a callable and adds up the wall time spent in it."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.seconds = 0.0

    def __call__(self, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.func(*args)
        finally:
            self.seconds += time.perf_counter() - start


def bench_county_stages(backend: Backend, inputs: Inputs) -> None:
    """The steps of ``LayerService.import_files`` timed one by one (same calls, same order)."""
    layer = get_layer("settlements")
    fmt = detect_format(inputs.county_gpkg)
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    for run in range(1, inputs.runs + 1):
        service = LayerService(backend.fresh_engine())
        gc.collect()
        start = time.perf_counter()
        source = read_source(inputs.county_gpkg, layer, fmt)
        read_done = time.perf_counter()
        with service.engine.begin() as conn:
            repo = LayerRepository(conn, layer)
            repo.delete_all()
            lookup = Stopwatch(repo.existing_codes)
            validate_start = time.perf_counter()
            valid = validate(source, layer, codes_taken=lookup)
            insert_start = time.perf_counter()
            service._insert(repo, valid)  # the service's own chunked insert loop
        done = time.perf_counter()
        checks = insert_start - validate_start - lookup.seconds
        split = (read_done - start, checks, lookup.seconds, done - insert_start)
        split += (sum(split),)
        for step, seconds in zip(STEPS, split, strict=True):
            times[step].append(seconds)
        print(f"  {backend.name} county import by step: run {run}/{inputs.runs} "
              + ", ".join(f"{step} {s:.3f} s" for step, s in zip(STEPS, split, strict=True)), flush=True)
    for step in STEPS:
        inputs.add("county_stages", step, backend, len(inputs.county), times[step])


def bench_county_export(backend: Backend, inputs: Inputs) -> None:
    """Export of the 100k settlements left by the last import, to GeoPackage and to CSV."""
    service = LayerService(backend.fresh_engine())
    service.import_file(inputs.county_gpkg, "settlements", mode="replace")
    stored = next(s.stats.count for s in service.summaries() if s.layer.name == "settlements")
    if stored != len(inputs.county):
        raise RuntimeError(f"{backend.name}: {stored:,} settlements stored, expected {len(inputs.county):,}")
    for fmt in ("gpkg", "csv"):
        times = measure(inputs.runs, f"{backend.name} county export {fmt}",
                        lambda: _scratch(inputs.workdir),
                        lambda out, fmt=fmt: service.export("settlements", fmt, out / f"settlements.{fmt}"))
        inputs.add(f"county_export_{fmt}", "gis_service", backend, len(inputs.county), times)


def bench_peers(backend: Backend, inputs: Inputs) -> None:
    """ogr2ogr loading the county GeoPackage, and ``to_postgis`` writing the county frame (PostGIS only)."""
    env = _ogr_env(backend)
    runs = iter(range(1, inputs.runs + 1))

    def prepare() -> list[str]:
        backend.fresh_engine()
        return ["ogr2ogr", *backend.ogr2ogr_destination(next(runs)), str(inputs.county_gpkg),
                "-nln", PEER_TABLE, "-lco", "GEOMETRY_NAME=geom"]

    times = measure(inputs.runs, f"{backend.name} ogr2ogr", prepare,
                    lambda command: subprocess.run(command, check=True, env=env, capture_output=True))
    inputs.add("county_import", "ogr2ogr", backend, len(inputs.county), times, peer=True)
    if backend.peer_engine() is None:
        return

    def write(engine: Engine) -> None:
        inputs.county.to_postgis(PEER_TABLE, engine, if_exists="replace", index=False)

    times = measure(inputs.runs, f"{backend.name} GeoDataFrame.to_postgis",
                    lambda: backend.fresh_engine(), write)
    inputs.add("county_import", "to_postgis", backend, len(inputs.county), times, peer=True)


def _ogr_env(backend: Backend) -> dict[str, str]:
    env = dict(os.environ)
    if isinstance(backend, PostGISBackend) and backend.url.password:
        env["PGPASSWORD"] = str(backend.url.password)
    return env


def _scratch(workdir: Path) -> Path:
    """An empty directory for one run's output files (the previous run's is removed)."""
    out = workdir / "export"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    return out


# ================================================================ peak memory (fresh processes)

MEMORY_METHOD = ("VmHWM (peak resident set) from /proc/self/status of a fresh `python scripts/bench.py "
                 "--worker` process doing one import; baseline is VmRSS after its imports, before the work")
OGR_MEMORY_METHOD = "`/usr/bin/time -f %M` (ru_maxrss of the ogr2ogr process)"


def _proc_status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def worker(kind: str, url: str, gpkg: Path) -> None:
    """Run one import in this (fresh) process and print its time and memory as JSON.

    ``resource.getrusage().ru_maxrss`` is not used: on Linux a process started from a big parent keeps the
    parent's high-water mark through ``exec``, so the value would reflect the benchmark, not the import.
    """
    engine = create_db_engine(Settings(database_url=url))
    with engine.connect():
        pass
    baseline = _proc_status_kib("VmRSS")
    start = time.perf_counter()
    if kind == "import":
        LayerService(engine).import_file(gpkg, "settlements", mode="replace")
    else:  # to_postgis: read the file with geopandas, then write it
        gpd.read_file(gpkg).to_postgis(PEER_TABLE, engine, if_exists="replace", index=False)
    seconds = time.perf_counter() - start
    engine.dispose()
    print(json.dumps({"seconds": seconds, "peak_kib": _proc_status_kib("VmHWM"), "baseline_kib": baseline}))


def bench_memory(backend: Backend, inputs: Inputs) -> None:
    """Peak RSS of one county import by us (and by each peer) on ``backend``."""
    kinds = [("gis_service", "import")]
    if backend.peer_engine() is not None:
        kinds.append(("read_file + to_postgis", "to_postgis"))
    for label, kind in kinds:
        engine = backend.fresh_engine()
        env = {**os.environ, "BENCH_WORKER_URL": engine.url.render_as_string(hide_password=False)}
        engine.dispose()  # the worker opens its own connections; the database stays
        done = subprocess.run([sys.executable, __file__, "--worker", kind, str(inputs.county_gpkg)],
                              check=True, env=env, capture_output=True, text=True)
        data = json.loads(done.stdout.strip().splitlines()[-1])
        inputs.memory.append(MemoryResult(label, backend.name, data["peak_kib"] / 1024,
                                          data["baseline_kib"] / 1024, data["seconds"], MEMORY_METHOD))
        print(f"  {backend.name} {label} peak RSS {data['peak_kib'] / 1024:.0f} MiB", flush=True)
    backend.fresh_engine()
    command = ["/usr/bin/time", "-f", "%M", "ogr2ogr", *backend.ogr2ogr_destination(0),
               str(inputs.county_gpkg), "-nln", PEER_TABLE, "-lco", "GEOMETRY_NAME=geom"]
    start = time.perf_counter()
    done = subprocess.run(command, check=True, env=_ogr_env(backend), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    inputs.memory.append(MemoryResult("ogr2ogr", backend.name, peak, None, seconds, OGR_MEMORY_METHOD))
    print(f"  {backend.name} ogr2ogr peak RSS {peak:.0f} MiB", flush=True)


# ================================================================ report


def machine_facts(backends: list[Backend]) -> dict[str, str]:
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    mem = re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE)
    ogr = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{model.group(1).strip() if model else 'unknown'}, {os.cpu_count()} cores",
        "memory": f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "unknown",
        "OS": f"{benchlib.os_name()}, Linux {platform.release()}",
        "Python": platform.python_version(),
        "GDAL (pyogrio, used by gis_service)": pyogrio.__gdal_version_string__,
        "GDAL (ogr2ogr peer)": ogr.removeprefix("GDAL "),
    }
    for backend in backends:
        facts.update(backend.versions())
    import geoalchemy2
    import psycopg
    import sqlalchemy

    facts["libraries"] = (f"geopandas {gpd.__version__}, shapely {shapely.__version__}, pyogrio "
                          f"{pyogrio.__version__}, numpy {np.__version__}, pandas {pd.__version__}, "
                          f"SQLAlchemy {sqlalchemy.__version__}, GeoAlchemy2 {geoalchemy2.__version__}, "
                          f"psycopg {psycopg.__version__}")
    return facts




def _ratio_text(result: Result, peers: list[Result], compare: tuple[str, ...]) -> str:
    if result.peer:
        return "(peer)"
    if result.label not in compare:
        return ""
    ratios = [f"{result.median / p.median:.2f} vs {p.label}" for p in peers
              if p.backend == result.backend and p.median > 0]
    return "; ".join(ratios) or "—"


def scenario_table(scenario: Scenario, results: list[Result]) -> list[str]:
    """Markdown lines of one scenario: heading, note and a table (or a line saying it was not run)."""
    rows = [r for r in results if r.scenario == scenario.key]
    county = next((r.features for r in results if r.scenario.startswith("county")), 0)
    lines = [f"### {scenario.title.format(county=f'{county / 1000:g}k')}", ""]
    if scenario.note:
        lines += [scenario.note, ""]
    if not rows:
        return [*lines, "Not run.", ""]
    features = rows[0].features
    lines += [f"{features:,} features, {len(rows[0].seconds)} runs per row.", "",
              "| backend | what | median s | min s | max s | features/s | ours / peer |",
              "|---|---|---:|---:|---:|---:|---|"]
    peers = [r for r in results if r.peer and r.scenario == scenario.peer_scenario]
    for r in rows:
        lines.append(f"| {r.backend} | {r.label} | {r.median:.2f} | {min(r.seconds):.2f} | "
                     f"{max(r.seconds):.2f} | {r.rate:,.0f} | {_ratio_text(r, peers, scenario.compare)} |")
    return [*lines, ""]


def memory_table(memory: list[MemoryResult]) -> list[str]:
    lines = ["### Peak memory of one county import", ""]
    for method in dict.fromkeys(m.method for m in memory):
        lines.append(f"- {method}.")
    lines += ["", "| backend | what | peak RSS MiB | RSS before MiB | wall s (that run) |",
              "|---|---|---:|---:|---:|"]
    for m in memory:
        before = "—" if m.baseline_mib is None else f"{m.baseline_mib:.0f}"
        lines.append(f"| {m.backend} | {m.label} | {m.peak_mib:.0f} | {before} | {m.seconds:.2f} |")
    return [*lines, ""]


def target_lines(results: list[Result]) -> list[str]:
    """Whether 100,000 points load into PostGIS in under 5 s, for the full import and the COPY step."""
    def median_of(scenario: str, label: str) -> float | None:
        found = [r for r in results if r.scenario == scenario and r.label == label and r.backend == "PostGIS"]
        return found[0].median if found else None

    lines = [f"### Target: loading {COUNTY_FEATURES:,} point features into PostGIS in under {TARGET_SECONDS:g} s",
             ""]
    county = next((r.features for r in results if r.scenario == "county_import"), COUNTY_FEATURES)
    if county != COUNTY_FEATURES:
        lines += [f"Measured with {county:,} features only (`--features`): no verdict.", ""]
        return lines
    for what, scenario, label in (("full import (`import_file`: read + validate + insert)", "county_import",
                                   "gis_service"),
                                  ("bulk-insert step alone (COPY + commit)", "county_stages",
                                   "bulk insert + commit")):
        median = median_of(scenario, label)
        if median is None:
            lines.append(f"- {what}: not measured.")
        else:
            verdict = "**met**" if median < TARGET_SECONDS else "**not met**"
            lines.append(f"- {what}: median {median:.2f} s → {verdict}.")
    return [*lines, ""]


def render(facts: dict[str, str], inputs: Inputs, total_seconds: float) -> str:
    """The benchmark's section of the report, markers included."""
    lines = [f"<!-- bench:{SECTION} -->", "## Layer import and export (SpatiaLite and PostGIS)", "",
             f"Generated by `make bench` (`scripts/bench.py`) in {total_seconds / 60:.1f} min. "
             "The machine is shared with other work, so single runs vary: each row quotes the **median** "
             "of its runs, with min and max. Every import run starts from a freshly emptied, migrated "
             "database (PostGIS: `TRUNCATE … RESTART IDENTITY` of the layer tables; SpatiaLite: a new copy "
             "of a migrated file); only the measured call is timed, not the preparation.", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    lines += ["", f"Data: the demo town (`{_shown(inputs.demo_dir)}`, {inputs.demo_features:,} features in "
              f"{len(list_layers())} layers) and a synthetic county of {len(inputs.county):,} settlements "
              f"(seeded numpy, seed {SEED}; points clustered around {VILLAGE_COUNT} villages over "
              f"{COUNTY_SIDE_M / 1000:.0f} × {COUNTY_SIDE_M / 1000:.0f} km around 105.25°E 30.59°N, "
              "EPSG:4490, Chinese names, 12-digit village codes) written once to a GeoPackage. "
              "Peers on the same data in the same run: ogr2ogr (Debian gdal-bin) into PostGIS "
              "(`-lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST`, a separate table) and into a new "
              "SpatiaLite file (`-f SQLite -dsco SPATIALITE=YES`), and `GeoDataFrame.to_postgis`. "
              "Ratios are our median / the peer's median (below 1 means we are faster).", ""]
    lines += target_lines(inputs.results)
    for scenario in SCENARIOS:
        lines += scenario_table(scenario, inputs.results)
    if inputs.memory:
        lines += memory_table(inputs.memory)
    lines.append(f"<!-- /bench:{SECTION} -->")
    return "\n".join(lines) + "\n"


def _shown(path: Path) -> str:
    """``path`` relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)




# ================================================================ main


def prepare_inputs(workdir: Path, demo_dir: Path, features: int, runs: int) -> Inputs:
    """Generate the county, write its GeoPackage and count the demo town's features."""
    start = time.perf_counter()
    county = synthetic_county(features)
    gpkg = write_county(county, workdir / "county.gpkg")
    print(f"synthetic county: {len(county):,} settlements → {gpkg.name} "
          f"({gpkg.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s", flush=True)
    try:
        demo_features = sum(pyogrio.read_info(path)["features"] for path, _ in demo_files(demo_dir))
    except Exception as exc:  # noqa: BLE001 - missing demo data only skips the demo scenarios
        print(f"demo town not available, skipping its scenarios: {exc}", flush=True)
        demo_features = 0
    return Inputs(workdir, demo_dir, demo_features, county, gpkg, runs)


def run(args: argparse.Namespace) -> None:
    """Every scenario on every backend, then the report."""
    started = time.perf_counter()
    base_url = os.environ.get("GIS_TEST_POSTGRES_URL") or DEFAULT_PG_URL
    with tempfile.TemporaryDirectory(prefix="gis-bench-") as tmp:
        workdir = Path(tmp)
        inputs = prepare_inputs(workdir, args.demo_dir, args.features, args.runs)
        backends: list[Backend] = [SpatiaLiteBackend(workdir), PostGISBackend(workdir, base_url)]
        steps: list[Callable[[Backend, Inputs], None]] = [
            bench_county_import, bench_county_stages, bench_county_export, bench_peers, bench_memory]
        if inputs.demo_features:
            steps.insert(0, bench_demo)
        try:
            for backend in backends:
                print(f"[{backend.name}] setting up", flush=True)
                backend.setup()
                for step in steps:
                    step(backend, inputs)
                backend.release()
            facts = machine_facts(backends)
        finally:
            for backend in backends:
                backend.teardown()
    section = render(facts, inputs, time.perf_counter() - started)
    benchlib.write_section(args.out, SECTION, section)
    print(section)
    print(f"wrote {args.out} in {(time.perf_counter() - started) / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="Markdown file whose bench:layers section is (re)written.")
    parser.add_argument("--demo-dir", type=Path, default=ROOT / "layers" / "demo")
    parser.add_argument("--features", type=int, default=COUNTY_FEATURES,
                        help="Settlements in the synthetic county (default 100,000).")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"Runs per measurement (default {RUNS}).")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "GPKG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], os.environ["BENCH_WORKER_URL"], Path(args.worker[1]))
        return
    run(args)


if __name__ == "__main__":
    main()
