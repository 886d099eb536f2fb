"""Load benchmark: ``gis-service serve --workers 2`` on PostGIS with the demo town, 200 concurrent clients.

Run by ``make bench`` (and ``make bench-load``) after ``scripts/setup_bench.sh`` has installed wrk::

    GIS_TEST_POSTGRES_URL=postgresql+psycopg://$USER@/gis_service_test?host=/var/run/postgresql \\
        .venv/bin/python scripts/bench_load.py --out docs/benchmarks.md [--duration 60] [--per-url 15]

What it does:

1. creates its own database ``gis_service_bench_load`` next to the one of ``GIS_TEST_POSTGRES_URL`` (dropped
   and created anew, like the tests' databases), loads the demo town and builds the map reports into a
   temporary folder (``gis-service demo --no-serve``);
2. starts ``gis-service serve --workers 2`` on it, loopback only, in a process group of its own;
3. runs ``wrk`` with 200 connections for ``--duration`` seconds over a mix of requests that a Lua script
   rotates (feature pages at eight offsets, one vector tile, the agency-station coverage, the map index and one
   map report), then each kind of request alone for ``--per-url`` seconds to get its own p50/p99;
4. samples the resident memory of every worker once a second during all of it, and counts the stored analysis
   runs and the database size before and after (each coverage request stores a run);
5. replaces its section (``<!-- bench:load -->``) of ``--out``.

Everything started is stopped at the end, whatever happens; the database is dropped.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import benchlib  # scripts/ is on sys.path when a script runs
import orjson
import psutil
from bench_api import WrkResult, _tile_of, free_port, parse_wrk, start, stop
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
SECTION = "load"
DATABASE = "gis_service_bench_load"
WORKERS = 2
CONNECTIONS = 200
DURATION_S = 60
PER_URL_S = 15
WRK_THREADS = 2
WRK_TIMEOUT_S = 30  # slower answers are errors to wrk; keep them in the latencies instead
STARTUP_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 600.0
TILE_ZOOM = 13
DEFAULT_PG = "postgresql+psycopg://{user}@/gis_service_test?host=/var/run/postgresql"


@dataclass(frozen=True)
class Kind:
    """One kind of request: ``paths`` are rotated by the Lua script (several only for feature pages)."""

    key: str
    label: str
    paths: tuple[str, ...]


@dataclass
class Memory:
    """Resident memory of each worker (MiB), sampled once a second."""

    samples: dict[int, list[float]] = field(default_factory=dict)

    def add(self, pid: int, mib: float) -> None:
        self.samples.setdefault(pid, []).append(mib)


def kinds(tile: tuple[int, int, int]) -> list[Kind]:
    z, x, y = tile
    return [
        Kind("items", "`/collections/assets/items?limit=100` (8 offsets)",
             tuple(f"/collections/assets/items?limit=100&offset={o}" for o in range(0, 800, 100))),
        Kind("tile", f"MVT tile `settlements/{z}/{x}/{y}`",
             (f"/collections/settlements/tiles/WebMercatorQuad/{z}/{x}/{y}",)),
        Kind("maps", "`/maps/index.html`", ("/maps/index.html",)),
        Kind("report", "`/maps/assets.html` (a map report)", ("/maps/assets.html",)),
        Kind("coverage", "`/analysis/coverage?standard=agency_station`",
             ("/analysis/coverage?standard=agency_station",)),
    ]


# ================================================================ database and server


def admin_url() -> URL:
    base = os.environ.get("GIS_TEST_POSTGRES_URL") or DEFAULT_PG.format(user=os.environ.get("USER", "root"))
    return make_url(base)


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh PostGIS database ``gis_service_bench_load``; dropped afterwards."""
    base = admin_url()
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    url = base.set(database=DATABASE)
    extension = create_engine(url, isolation_level="AUTOCOMMIT")
    with extension.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    extension.dispose()
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        admin.dispose()


def database_state(url: str) -> tuple[int, int]:
    """Stored analysis runs and the database's size in bytes."""
    engine = create_engine(url)
    with engine.connect() as conn:
        runs = int(conn.execute(text("SELECT count(*) FROM analysis_runs")).scalar_one())
        size = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    engine.dispose()
    return runs, size


def densest_tile(base_url: str) -> tuple[int, int, int]:
    """The zoom-13 tile holding the most settlements (the map view a user opens first)."""
    with urllib.request.urlopen(f"{base_url}/collections/settlements/items?limit=10000", timeout=60) as answer:
        features = orjson.loads(answer.read())["features"]
    counts = Counter(_tile_of(*f["geometry"]["coordinates"][:2], TILE_ZOOM) for f in features)
    (x, y), _count = counts.most_common(1)[0]
    return TILE_ZOOM, x, y


@contextmanager
def server(env: dict[str, str], workdir: Path) -> Iterator[tuple[str, psutil.Process]]:
    """``gis-service serve --workers N`` until the block ends; yields its URL and its main process."""
    port = free_port()
    command = [str(ROOT / ".venv" / "bin" / "gis-service"), "serve", "--port", str(port),
               "--workers", str(WORKERS)]
    process = start(command, env, workdir / "server.log", ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers(f"{url}/ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {workdir / 'server.log'}:\n"
                                   + (workdir / "server.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield url, psutil.Process(process.pid)
    finally:
        stop(process)


def drain(url: str) -> float:
    """Wait until the server has worked off what a finished run left queued: wrk closes its connections at the
    end, but requests already accepted are still computed. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT_S:
        clock = time.monotonic()
        if _answers(f"{url}/ready") and time.monotonic() - clock < 0.2:  # /ready needs a request thread
            break
        time.sleep(1.0)
    return time.monotonic() - started


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@contextmanager
def sampling(main: psutil.Process, memory: Memory) -> Iterator[None]:
    """Sample every worker's RSS once a second while the block runs."""
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            for child in main.children(recursive=True):
                try:
                    if not any("spawn_main" in part for part in child.cmdline()):
                        continue  # multiprocessing's resource tracker, not a worker
                    memory.add(child.pid, child.memory_info().rss / 2**20)
                except psutil.NoSuchProcess:
                    continue

    thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


# ================================================================ wrk


def rotation_script(paths: tuple[str, ...], workdir: Path, name: str) -> Path:
    """A wrk Lua script sending ``paths`` in turn (per wrk thread)."""
    quoted = ", ".join(f'"{p}"' for p in paths)
    script = workdir / f"{name}.lua"
    script.write_text(f"local paths = {{{quoted}}}\nlocal i = 0\nrequest = function()\n"
                      "  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n", encoding="utf-8")
    return script


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> WrkResult:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT_S}s",
               "--latency", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_S + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


# ================================================================ the run and the report


@dataclass
class Results:
    mixed: WrkResult
    per_kind: dict[str, WrkResult]
    kinds: list[Kind]
    memory: Memory
    runs_before: int
    runs_after: int
    size_before: int
    size_after: int
    duration_s: int
    per_url_s: int
    connections: int
    drained_s: dict[str, float]


def measure(args: argparse.Namespace, workdir: Path) -> Results:
    with bench_database() as db_url:
        env = {**os.environ, "GIS_DATABASE_URL": db_url, "GIS_MAPS_DIR": str(workdir / "maps"),
               "GIS_UPLOADS_DIR": str(workdir / "uploads"), "GIS_READ_ACCESS": "local"}
        print("loading the demo town and building the map reports …", flush=True)
        subprocess.run([str(ROOT / ".venv" / "bin" / "gis-service"), "demo", "--no-serve"], env=env, cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL, timeout=1800)
        with server(env, workdir) as (url, main):
            all_kinds = kinds(densest_tile(url))
            mixed_paths = tuple(p for kind in all_kinds for p in kind.paths[:1]) + all_kinds[0].paths[1:]
            for kind in all_kinds:  # warm every path once (first tile, first report, PROJ)
                for path in kind.paths:
                    if not _answers(url + path):
                        raise RuntimeError(f"{path} does not answer 200 before the load")
            runs_before, size_before = database_state(db_url)
            memory = Memory()
            with sampling(main, memory):
                print(f"mixed load: {args.connections} connections for {args.duration} s …", flush=True)
                mixed = run_wrk(url, rotation_script(mixed_paths, workdir, "mixed"), args.duration,
                                args.connections)
                drained = {"mixed": drain(url)}
                per_kind = {}
                for kind in all_kinds:
                    print(f"{kind.key}: {args.connections} connections for {args.per_url} s …", flush=True)
                    per_kind[kind.key] = run_wrk(url, rotation_script(kind.paths, workdir, kind.key), args.per_url,
                                                 args.connections)
                    drained[kind.key] = drain(url)
            runs_after, size_after = database_state(db_url)
    return Results(mixed, per_kind, all_kinds, memory, runs_before, runs_after, size_before, size_after,
                   args.duration, args.per_url, args.connections, drained)


def section(results: Results) -> str:
    r = results
    errors = r.mixed.errors + sum(w.errors for w in r.per_kind.values())
    lines = [f"<!-- bench:{SECTION} -->", "## Load: 200 concurrent clients on 2 workers (PostGIS)", "",
             f"`scripts/bench_load.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {benchlib.os_name()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average before "
             f"{benchlib.load_text(os.getloadavg())}. `gis-service serve --workers {WORKERS}` (pool per worker from "
             "`GIS_DB_POOL_SIZE`/`GIS_DB_MAX_OVERFLOW`, defaults) on PostGIS with the demo town; "
             f"wrk `-t{WRK_THREADS} -c{r.connections} --timeout {WRK_TIMEOUT_S}s` on the same machine (loopback), "
             "so client and server share the CPUs.", "",
             f"Mixed load ({r.duration_s} s, the requests below in turn): **{r.mixed.requests_per_s:,.0f} req/s**, "
             f"p50 {r.mixed.p50_ms:,.0f} ms, p99 {r.mixed.p99_ms:,.0f} ms, {r.mixed.requests:,} requests, "
             f"**{r.mixed.errors} errors** (non-2xx {r.mixed.non_2xx}, socket {r.mixed.socket_errors}).", "",
             f"Each request alone ({r.per_url_s} s, {r.connections} connections):", "",
             "| request | req/s | p50 ms | p99 ms | requests | errors | queue left, s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in r.kinds:
        w = r.per_kind[kind.key]
        lines.append(f"| {kind.label} | {w.requests_per_s:,.1f} | {w.p50_ms:,.1f} | {w.p99_ms:,.1f} | "
                     f"{w.requests:,} | {w.errors} | {r.drained_s[kind.key]:,.0f} |")
    lines += ["", "*queue left*: seconds the server kept working after wrk stopped, on requests it had already "
              f"accepted (the mixed run left {r.drained_s['mixed']:,.0f} s); the next run starts only then."]
    lines += ["", "Resident memory of each worker, sampled once a second over all runs (MiB):", "",
              "| worker | start | end | max | samples |", "|---|---:|---:|---:|---:|"]
    for number, samples in enumerate(r.memory.samples.values(), 1):
        lines.append(f"| {number} | {samples[0]:,.0f} | {samples[-1]:,.0f} | {max(samples):,.0f} | {len(samples)} |")
    grown = r.runs_after - r.runs_before
    lines += ["", f"Analysis runs stored during the load: {grown:,}; the database went from "
              f"{r.size_before / 2**20:,.0f} MiB to {r.size_after / 2**20:,.0f} MiB. An identical coverage GET on "
              "unchanged data answers from its stored run (`services/runs.py`, `reused: true`) instead of "
              "computing and storing another, so the database grows with data, not with traffic.",
              "", f"Errors in all runs: **{errors}** (target 0).", f"<!-- /bench:{SECTION} -->", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help=f"Markdown file whose bench:{SECTION} section is (re)written.")
    parser.add_argument("--duration", type=int, default=DURATION_S, help="Seconds of mixed load (%(default)s).")
    parser.add_argument("--per-url", type=int, default=PER_URL_S, help="Seconds per request alone (%(default)s).")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="Concurrent clients (%(default)s).")
    # SIGTERM (a stopped make, a CI timeout) unwinds like Ctrl-C, so the finally blocks stop the server.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        results = measure(args, Path(tmp))
    text_ = section(results)
    benchlib.write_section(args.out, SECTION, text_)
    print(text_)
    errors = results.mixed.errors + sum(w.errors for w in results.per_kind.values())
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
