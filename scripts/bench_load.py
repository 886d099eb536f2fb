"""Load benchmark: ``gis-service serve --workers 2`` on PostGIS with the demo town, 200 concurrent clients, and
whether the workers' memory stays flat under sustained load.

Run by ``make bench`` (and ``make bench-load``) after ``scripts/setup_bench.sh`` has installed wrk::

    GIS_TEST_POSTGRES_URL=postgresql+psycopg://$USER@/gis_service_test?host=/var/run/postgresql \\
        .venv/bin/python scripts/bench_load.py --out docs/benchmarks.md \\
        [--duration 60] [--windows 3] [--per-url 15] [--peers cache-off,arena2] [--peer-windows 2]

What it does (about 10 minutes with the defaults):

1. creates its own database ``gis_service_bench_load`` next to the one of ``GIS_TEST_POSTGRES_URL`` (dropped
   and created anew, like the tests' databases), loads the demo town and builds the map reports into a
   temporary folder (``gis-service demo --no-serve``);
2. starts ``gis-service serve --workers 2`` on it with the default settings, loopback only, in a process group
   of its own;
3. runs ``wrk`` with 200 connections over a mix of requests that a Lua script rotates (feature pages at eight
   offsets, one vector tile, the agency-station coverage, the map index and one map report) in ``--windows``
   back-to-back windows of ``--duration`` seconds: the first is the load test the issue asks for (p99, errors),
   the later ones show whether memory stops growing once the workers are warm; then each kind of request alone
   for ``--per-url`` seconds to get its own p50/p99;
4. samples the resident memory (RSS) of every worker once a second, and once more at every window's start and
   end (each taken with the server idle, after the previous window's queue has been worked off); reports per
   window the RSS at start, end and maximum, and the growth over the window in MiB and MiB/min; the memory is
   called flat when, in the last mixed window, no worker's RSS grew by :data:`FLAT_MIB` or more. A ``sitecustomize``
   put on the servers' ``PYTHONPATH`` (:data:`HEAP_PROBE`, nothing in ``gis_service``) has every worker write
   what malloc holds in use and Python's allocated blocks once a second, which tells a leak (these grow) from
   memory the allocators keep for reuse (only RSS grows): the heap counts as not growing when in the last mixed
   window malloc's memory in use rose by less than :data:`HEAP_FLAT_MIB` and Python's blocks by less than
   :data:`HEAP_FLAT_BLOCKS` in every worker;
5. for each of ``--peers`` starts the server anew with one setting changed (``cache-off``:
   ``GIS_RESPONSE_CACHE_MB=0``, separating the response cache from anything else that grows; ``arena2``:
   ``MALLOC_ARENA_MAX=2``, glibc's per-thread malloc arenas capped at two) and runs ``--peer-windows`` of the
   same mixed windows, sampled the same way;
6. estimates the response cache's fill from the cacheable responses that were requested (their bodies plus the
   cache's per-entry allowance), counts the stored analysis runs and the database size before and after (a
   coverage request may store a run), and replaces its section (``<!-- bench:load -->``) of ``--out``.

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

from gis_service.api.cache import ENTRY_OVERHEAD
from gis_service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SECTION = "load"
DATABASE = "gis_service_bench_load"
WORKERS = 2
CONNECTIONS = 200
DURATION_S = 60
WINDOWS = 3
PEER_WINDOWS = 2
PER_URL_S = 15
WRK_THREADS = 2
WRK_TIMEOUT_S = 30  # slower answers are errors to wrk; keep them in the latencies instead
STARTUP_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 300.0
IDLE_CPU_S = 0.05  # CPU seconds all workers may use in one second and still count as idle
TILE_ZOOM = 13
DEFAULT_PG = "postgresql+psycopg://{user}@/gis_service_test?host=/var/run/postgresql"
# "Flat": in the last mixed window (about 60,000 requests) no worker's idle RSS rose by this much or more. That is
# 1.5 % of a worker of about 330 MiB, the order of a few map reports (1 MB each, read whole) that glibc keeps
# for reuse after 40 request threads held them at once, and below what a leak of 100 bytes per request would add.
FLAT_MIB = 5.0
# No leak: in the same window malloc's memory in use rose by less than this (MiB) in every worker, and Python's
# allocated blocks by less than HEAP_FLAT_BLOCKS of their number (both move by a little with what is in flight).
HEAP_FLAT_MIB = 2.0
HEAP_FLAT_BLOCKS = 0.01


@dataclass(frozen=True)
class Kind:
    """One kind of request: ``paths`` are rotated by the Lua script (several only for feature pages)."""

    key: str
    label: str
    paths: tuple[str, ...]
    cached: bool  # answered from the per-worker response cache (gis_service/api/cache.py) when it is on


@dataclass(frozen=True)
class Peer:
    """One server configuration: the default, or the default with ``env`` added."""

    key: str
    label: str
    env: dict[str, str]


DEFAULT = Peer("default", "defaults", {})
PEERS = {peer.key: peer for peer in (
    Peer("cache-off", "`GIS_RESPONSE_CACHE_MB=0` (no response cache)", {"GIS_RESPONSE_CACHE_MB": "0"}),
    Peer("arena2", "`MALLOC_ARENA_MAX=2` (glibc malloc arenas capped at 2)", {"MALLOC_ARENA_MAX": "2"}),
)}


def kinds(tile: tuple[int, int, int]) -> list[Kind]:
    z, x, y = tile
    return [
        Kind("items", "`/collections/assets/items?limit=100` (8 offsets)",
             tuple(f"/collections/assets/items?limit=100&offset={o}" for o in range(0, 800, 100)), True),
        Kind("tile", f"MVT tile `settlements/{z}/{x}/{y}`",
             (f"/collections/settlements/tiles/WebMercatorQuad/{z}/{x}/{y}",), True),
        Kind("maps", "`/maps/index.html`", ("/maps/index.html",), False),
        Kind("report", "`/maps/assets.html` (a map report)", ("/maps/assets.html",), False),
        Kind("coverage", "`/analysis/coverage?standard=agency_station`",
             ("/analysis/coverage?standard=agency_station",), False),
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
    points = (f["geometry"]["coordinates"] for f in features)
    counts = Counter(_tile_of(point[0], point[1], TILE_ZOOM) for point in points)
    (x, y), _count = counts.most_common(1)[0]
    return TILE_ZOOM, x, y


@contextmanager
def server(env: dict[str, str], workdir: Path, name: str) -> Iterator[tuple[str, psutil.Process]]:
    """``gis-service serve --workers N`` until the block ends; yields its URL and its main process."""
    port = free_port()
    command = [str(ROOT / ".venv" / "bin" / "gis-service"), "serve", "--port", str(port),
               "--workers", str(WORKERS)]
    log = workdir / f"server-{name}.log"
    process = start(command, env, log, ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers(f"{url}/ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log}:\n"
                                   + log.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield url, psutil.Process(process.pid)
    finally:
        stop(process)


def workers_of(main: psutil.Process) -> list[psutil.Process]:
    """The worker processes of a ``serve --workers N`` (not multiprocessing's resource tracker)."""
    found = []
    for child in main.children(recursive=True):
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def drain(main: psutil.Process) -> float:
    """Wait until the server has worked off what a finished run left queued: wrk closes its connections at the
    end, but requests already accepted are still computed. Idle means the workers used less than
    :data:`IDLE_CPU_S` of CPU in each of two consecutive seconds (a timed ``/ready`` is no judge when another
    program keeps the CPUs busy). Returns the seconds waited."""
    started = time.monotonic()
    quiet = 0

    def cpu() -> float:
        total = 0.0
        for worker in workers_of(main):
            try:
                times = worker.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    before = cpu()
    while time.monotonic() - started < DRAIN_TIMEOUT_S:
        time.sleep(1.0)
        now = cpu()
        quiet = quiet + 1 if now - before < IDLE_CPU_S else 0
        before = now
        if quiet >= 2:
            return time.monotonic() - started - 2.0
    raise RuntimeError(f"the server was still busy {DRAIN_TIMEOUT_S:.0f} s after the load stopped")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def body_size(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return len(answer.read())


# ================================================================ memory

# Put on the server's PYTHONPATH as sitecustomize.py (the benchmark's servers only; nothing in gis_service): every
# process that finds HEAP_DIR in its environment writes, once a second, what its heap holds in use. glibc's
# mallinfo2() sums all malloc arenas: in use is ``uordblks`` (allocated chunks, those in the per-thread caches
# included) + ``hblkhd`` (chunks mmap()ed on their own); ``fordblks`` is freed memory malloc keeps. Python's small
# objects live in pymalloc's own mmap()ed arenas, counted as allocated blocks. RSS minus all that is what the
# allocators keep free, code and libraries.
HEAP_DIR = "GIS_BENCH_HEAP_DIR"
HEAP_PROBE = f"""\
import os

if os.environ.get("{HEAP_DIR}"):
    import ctypes
    import json
    import sys
    import threading
    import time

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                         "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    def _bench_heap_probe(folder):
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _Mallinfo2
        path = os.path.join(folder, f"{{os.getpid()}}.json")
        while True:
            info = libc.mallinfo2()
            state = {{"malloc_in_use": info.uordblks + info.hblkhd, "malloc_free": info.fordblks,
                      "py_blocks": sys.getallocatedblocks()}}
            with open(path + ".tmp", "w") as out:
                json.dump(state, out)
            os.replace(path + ".tmp", path)
            time.sleep(1.0)

    threading.Thread(target=_bench_heap_probe, args=(os.environ["{HEAP_DIR}"],), name="bench-heap-probe",
                     daemon=True).start()
"""


@dataclass(frozen=True)
class Heap:
    """What one worker's heap probe wrote last: malloc in use and kept free (MiB), pymalloc blocks in use."""

    in_use: float
    free: float
    py_blocks: int


def heap_probe_env(workdir: Path) -> dict[str, str]:
    """The environment that makes a server's processes run :data:`HEAP_PROBE`."""
    folder = workdir / "heap-probe"
    (folder / "state").mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(HEAP_PROBE, encoding="utf-8")
    paths = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths), HEAP_DIR: str(folder / "state")}


def read_heap(folder: Path, pid: int) -> Heap:
    """The heap of worker ``pid`` as its probe last wrote it (at most a second old)."""
    deadline = time.monotonic() + 5.0
    while True:
        try:
            state = orjson.loads((folder / f"{pid}.json").read_bytes())
            return Heap(state["malloc_in_use"] / 2**20, state["malloc_free"] / 2**20, int(state["py_blocks"]))
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {pid} wrote no heap state to {folder}") from None
            time.sleep(0.2)


@dataclass
class Window:
    """One measured stretch of load on one server: its wrk result and its workers' RSS (MiB)."""

    label: str
    wrk: WrkResult
    seconds: float  # wall time from the start sample to the end sample (load, then draining its queue)
    drained_s: float
    start: list[float]  # per worker, idle, just before the load
    end: list[float]  # per worker, idle, once the queue is worked off
    peak: list[float]  # per worker, the largest sample in between
    heap_start: list[Heap]
    heap_end: list[Heap]
    threads: list[int]  # per worker, at the end
    mixed: bool

    @property
    def growth(self) -> list[float]:
        return [e - s for s, e in zip(self.start, self.end, strict=True)]

    @property
    def per_minute(self) -> list[float]:
        return [g * 60.0 / self.seconds for g in self.growth]

    @property
    def heap_growth(self) -> list[float]:
        return [e.in_use - s.in_use for s, e in zip(self.heap_start, self.heap_end, strict=True)]

    @property
    def blocks_growth(self) -> list[int]:
        return [e.py_blocks - s.py_blocks for s, e in zip(self.heap_start, self.heap_end, strict=True)]

    @property
    def rss_flat(self) -> bool:
        """No worker's RSS grew by :data:`FLAT_MIB` or more."""
        return max(self.growth) < FLAT_MIB

    @property
    def heap_flat(self) -> bool:
        """No worker's malloc memory in use grew by :data:`HEAP_FLAT_MIB`, nor its Python blocks by
        :data:`HEAP_FLAT_BLOCKS`, or more."""
        return max(self.heap_growth) < HEAP_FLAT_MIB and all(
            grown < HEAP_FLAT_BLOCKS * start.py_blocks for grown, start in zip(self.blocks_growth, self.heap_start,
                                                                               strict=True))


class Sampler:
    """Samples every worker's RSS once a second in a thread, and on demand at window boundaries."""

    def __init__(self, main: psutil.Process, heap_dir: Path) -> None:
        self.heap_dir = heap_dir
        self.workers = workers_of(main)
        if len(self.workers) != WORKERS:
            raise RuntimeError(f"expected {WORKERS} workers, found {len(self.workers)}")
        self.pids = [w.pid for w in self.workers]
        self.main = main
        self._lock = threading.Lock()
        self._peak = [0.0] * WORKERS
        self._done = threading.Event()
        self.samples = 0
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> list[float]:
        """Every worker's RSS now (MiB); fails when a worker was replaced (a restart would hide growth)."""
        current = [w.pid for w in workers_of(self.main)]
        if sorted(current) != sorted(self.pids):
            raise RuntimeError(f"the server's workers changed from {self.pids} to {current} (a worker restarted)")
        rss = [w.memory_info().rss / 2**20 for w in self.workers]
        with self._lock:
            self._peak = [max(p, r) for p, r in zip(self._peak, rss, strict=True)]
            self.samples += 1
        return rss

    def heaps(self) -> list[Heap]:
        return [read_heap(self.heap_dir, pid) for pid in self.pids]

    def reset_peak(self, rss: list[float]) -> None:
        with self._lock:
            self._peak = list(rss)

    def peak(self) -> list[float]:
        with self._lock:
            return list(self._peak)

    def _run(self) -> None:
        while not self._done.wait(1.0):
            try:
                self.sample()
            except (psutil.NoSuchProcess, RuntimeError):
                continue  # the next boundary sample reports it

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def measure_window(label: str, url: str, main: psutil.Process, sampler: Sampler, script: Path, seconds: int,
                   connections: int, mixed: bool) -> Window:
    """One wrk run, bracketed by idle RSS samples; the queue it leaves is worked off before the end sample."""
    print(f"{label}: {connections} connections for {seconds} s …", flush=True)
    start_rss, start_heap = sampler.sample(), sampler.heaps()
    sampler.reset_peak(start_rss)
    started = time.monotonic()
    result = run_wrk(url, script, seconds, connections)
    drained = drain(main)
    time.sleep(1.2)  # the heap probes write once a second: let them write the idle state
    end_rss, end_heap = sampler.sample(), sampler.heaps()
    elapsed = time.monotonic() - started
    threads = [w.num_threads() for w in sampler.workers]
    window = Window(label, result, elapsed, drained, start_rss, end_rss, sampler.peak(), start_heap, end_heap,
                    threads, mixed)
    print(f"  {result.requests_per_s:,.0f} req/s, p99 {result.p99_ms:,.0f} ms, {result.errors} errors; RSS "
          + ", ".join(f"{s:.0f}→{e:.0f} (max {p:.0f})" for s, e, p in zip(start_rss, end_rss, window.peak,
                                                                           strict=True))
          + "; malloc in use " + ", ".join(f"{s.in_use:.0f}→{e.in_use:.0f} (free {e.free:.0f})"
                                           for s, e in zip(start_heap, end_heap, strict=True))
          + "; py blocks " + ", ".join(f"{g:+,}" for g in window.blocks_growth), flush=True)
    return window


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
class Run:
    """All windows of one server configuration."""

    peer: Peer
    load_before: tuple[float, float, float]
    windows: list[Window] = field(default_factory=list)
    cache_bytes: int = 0  # estimated fill of each worker's response cache at most
    cache_bound: int = 0

    @property
    def mixed(self) -> list[Window]:
        return [w for w in self.windows if w.mixed]

    @property
    def flat(self) -> bool:
        return len(self.mixed) >= 2 and self.mixed[-1].rss_flat

    @property
    def heap_flat(self) -> bool:
        return len(self.mixed) >= 2 and self.mixed[-1].heap_flat


@dataclass
class Results:
    runs: list[Run]
    kinds: list[Kind]
    runs_before: int
    runs_after: int
    size_before: int
    size_after: int
    duration_s: int
    per_url_s: int
    connections: int
    total_s: float
    load_before: tuple[float, float, float]

    @property
    def default(self) -> Run:
        return self.runs[0]

    @property
    def errors(self) -> int:
        return sum(w.wrk.errors for run in self.runs for w in run.windows)


def cache_fill(url: str, paths: list[str], bound_mb: int) -> tuple[int, int]:
    """An upper bound of what one worker's response cache holds after ``paths`` (every cacheable response that
    was requested, were all of them cached in that worker), and the cache's bound, in bytes."""
    if bound_mb <= 0:
        return 0, 0
    return sum(body_size(url + path) + ENTRY_OVERHEAD for path in paths), bound_mb * 2**20


def serve_and_load(args: argparse.Namespace, workdir: Path, db_url: str, peer: Peer,
                   tile: tuple[int, int, int] | None) -> tuple[Run, list[Kind], tuple[int, int, int]]:
    """Start the server with ``peer``'s settings, run the mixed windows (and, for the default, each kind
    alone)."""
    probe = heap_probe_env(workdir / peer.key)
    env = {**os.environ, "GIS_DATABASE_URL": db_url, "GIS_MAPS_DIR": str(workdir / "maps"),
           "GIS_UPLOADS_DIR": str(workdir / "uploads"), "GIS_READ_ACCESS": "local", **probe, **peer.env}
    first = peer is DEFAULT
    with server(env, workdir, peer.key) as (url, main):
        extra_cached = []
        if tile is None:
            tile = densest_tile(url)
            extra_cached.append("/collections/settlements/items?limit=10000")  # cached by densest_tile's call
        all_kinds = kinds(tile)
        mixed_paths = tuple(p for kind in all_kinds for p in kind.paths[:1]) + all_kinds[0].paths[1:]
        for kind in all_kinds:  # warm every path once (first tile, first report, PROJ)
            for path in kind.paths:
                if not _answers(url + path):
                    raise RuntimeError(f"{path} does not answer 200 before the load")
        run = Run(peer, os.getloadavg())
        mixed_script = rotation_script(mixed_paths, workdir, "mixed")
        count = args.windows if first else args.peer_windows
        with Sampler(main, Path(probe[HEAP_DIR])) as sampler:
            for number in range(1, count + 1):
                run.windows.append(measure_window(f"{peer.key}: mixed {number}", url, main, sampler, mixed_script,
                                                  args.duration, args.connections, mixed=True))
            if first and args.per_url > 0:
                for kind in all_kinds:
                    run.windows.append(measure_window(kind.key, url, main, sampler,
                                                      rotation_script(kind.paths, workdir, kind.key),
                                                      args.per_url, args.connections, mixed=False))
        bound_mb = int(env.get("GIS_RESPONSE_CACHE_MB", Settings.model_fields["response_cache_mb"].default))
        cached = extra_cached + [p for kind in all_kinds if kind.cached for p in kind.paths]
        run.cache_bytes, run.cache_bound = cache_fill(url, cached, bound_mb)
    return run, all_kinds, tile


def measure(args: argparse.Namespace, workdir: Path) -> Results:
    started, load_before = time.monotonic(), os.getloadavg()
    with bench_database() as db_url:
        env = {**os.environ, "GIS_DATABASE_URL": db_url, "GIS_MAPS_DIR": str(workdir / "maps"),
               "GIS_UPLOADS_DIR": str(workdir / "uploads")}
        print("loading the demo town and building the map reports …", flush=True)
        subprocess.run([str(ROOT / ".venv" / "bin" / "gis-service"), "demo", "--no-serve"], env=env, cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL, timeout=1800)
        runs_before, size_before = database_state(db_url)
        default, all_kinds, tile = serve_and_load(args, workdir, db_url, DEFAULT, None)
        runs = [default]
        for key in args.peers:
            runs.append(serve_and_load(args, workdir, db_url, PEERS[key], tile)[0])
        runs_after, size_after = database_state(db_url)
    return Results(runs, all_kinds, runs_before, runs_after, size_before, size_after, args.duration, args.per_url,
                   args.connections, time.monotonic() - started, load_before)


def tree_state() -> str:
    """The commit measured, and whether the working tree had uncommitted changes to tracked files."""
    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return "outside git"
    return f"commit {commit}" + (" with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no")
                                 else "")


def _mib(values: list[float]) -> str:
    return " / ".join(f"{v:,.0f}" for v in values)


def _signed(values: list[float], digits: int = 0) -> str:
    return " / ".join(f"{v:+,.{digits}f}" for v in values)


def memory_table(run: Run) -> list[str]:
    lines = ["| window | req/s | p99 ms | errors | RSS start | RSS end | RSS max | RSS growth | RSS MiB/min | "
             "malloc in use, end | malloc growth | Python blocks growth |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for w in run.windows:
        lines.append(f"| {w.label.split(': ')[-1]} | {w.wrk.requests_per_s:,.0f} | {w.wrk.p99_ms:,.0f} | "
                     f"{w.wrk.errors} | {_mib(w.start)} | {_mib(w.end)} | {_mib(w.peak)} | {_signed(w.growth, 1)} | "
                     f"{_signed(w.per_minute, 1)} | {_mib([h.in_use for h in w.heap_end])} | "
                     f"{_signed(w.heap_growth, 1)} | {' / '.join(f'{b:+,}' for b in w.blocks_growth)} |")
    return lines


def verdict(run: Run) -> str:
    if len(run.mixed) < 2:
        return "not judged (one mixed window is all warm-up)"
    last = run.mixed[-1]
    rss = "**flat**" if run.flat else "**not flat**"
    heap = "**did not grow**" if run.heap_flat else "**grew**"
    return (f"RSS {rss}: in the last mixed window ({last.label.split(': ')[-1]}) it grew {_signed(last.growth, 1)} MiB "
            f"({_signed(last.per_minute, 1)} MiB/min; flat below {FLAT_MIB:.0f} MiB). The heap {heap}: malloc's "
            f"memory in use {_signed(last.heap_growth, 1)} MiB (below {HEAP_FLAT_MIB:.0f} MiB counts as none), "
            f"Python's allocated blocks {' / '.join(f'{b:+,}' for b in last.blocks_growth)} (of "
            f"{' / '.join(f'{h.py_blocks:,}' for h in last.heap_start)}; below {HEAP_FLAT_BLOCKS:.0%} counts as none)")


def section(results: Results) -> str:
    r = results
    d = r.default
    first = d.mixed[0]
    lines = [f"<!-- bench:{SECTION} -->", "## Load: 200 concurrent clients on 2 workers (PostGIS)", "",
             f"`scripts/bench_load.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {tree_state()}, "
             f"{benchlib.os_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"{r.total_s / 60:,.1f} min in all, load average before {benchlib.load_text(r.load_before)}, after "
             f"{benchlib.load_text(os.getloadavg())}. `gis-service serve --workers {WORKERS}` (pool per worker "
             "from `GIS_DB_POOL_SIZE`/`GIS_DB_MAX_OVERFLOW`, defaults) on PostGIS with the demo town; "
             f"wrk `-t{WRK_THREADS} -c{r.connections} --timeout {WRK_TIMEOUT_S}s` on the same machine (loopback), "
             "so client and server share the CPUs (and with whatever else ran: see the load averages).", "",
             f"Mixed load ({r.duration_s} s, the requests below in turn, first window): "
             f"**{first.wrk.requests_per_s:,.0f} req/s**, p50 {first.wrk.p50_ms:,.0f} ms, "
             f"p99 {first.wrk.p99_ms:,.0f} ms, {first.wrk.requests:,} requests, **{first.wrk.errors} errors** "
             f"(non-2xx {first.wrk.non_2xx}, socket {first.wrk.socket_errors}).", "",
             f"Each request alone ({r.per_url_s} s, {r.connections} connections), after the mixed windows:", ""]
    alone = {w.label: w for w in d.windows if not w.mixed}
    if alone:
        lines += ["| request | req/s | p50 ms | p99 ms | requests | errors | queue left, s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for kind in r.kinds:
            w = alone[kind.key]
            lines.append(f"| {kind.label} | {w.wrk.requests_per_s:,.1f} | {w.wrk.p50_ms:,.1f} | "
                         f"{w.wrk.p99_ms:,.1f} | {w.wrk.requests:,} | {w.wrk.errors} | {w.drained_s:,.0f} |")
    else:
        lines.append("(not run: `--per-url 0`)")
    lines += ["", "*queue left*: seconds the server kept working after wrk stopped, on requests it had already "
              "accepted (the mixed windows left " + ", ".join(f"{w.drained_s:,.0f}" for w in d.mixed)
              + " s); the next run starts only then.", "",
              "### Worker memory under sustained load", "",
              "Resident memory (RSS, MiB) of worker 1 / worker 2, sampled once a second (*max*) and at each "
              "window's start and end, both taken with the server idle; *growth* is end minus start, *MiB/min* "
              "the growth per minute of the window (load and queue). *malloc in use* is what glibc's "
              "`mallinfo2()` counts as allocated in all its arenas (MiB), *Python blocks* pymalloc's allocated "
              "small objects (`sys.getallocatedblocks()`), both written by each worker once a second through a "
              "`sitecustomize` the benchmark puts on its servers' `PYTHONPATH` (nothing in `gis_service`): RSS "
              "growing while these stay put is memory the allocators keep for reuse, not a leak. Mixed windows run "
              "back to back on one server; the first is the warm-up (the issue's "
              f"{r.duration_s} s test). The memory counts as flat "
              f"when in the last mixed window no worker's RSS grew by {FLAT_MIB:.0f} MiB or more: 1.5 % of a worker, "
              "and what a leak of "
              f"{FLAT_MIB * 2**20 / max(d.mixed[-1].wrk.requests, 1):,.0f} bytes per request would add over that "
              f"window's {d.mixed[-1].wrk.requests:,} requests. RSS alone could hide a small leak for a while "
              "inside memory an allocator already keeps free; the heap columns would show it.",
              "", f"**Defaults** (response cache {d.cache_bound // 2**20} MiB per worker; load average at its "
              f"start {benchlib.load_text(d.load_before)}):", ""]
    lines += memory_table(d)
    lines += ["", f"Defaults: {verdict(d)}."]
    alone_windows = [w for w in d.windows if not w.mixed]
    if alone_windows:
        top = max(alone_windows, key=lambda w: max(w.growth))
        lines += ["", "The requests-alone runs are another load (all 200 clients on one kind, so up to 40 of the "
                  "heaviest requests in flight at once in each worker) and are not judged; RSS rose most in "
                  f"*{top.label}* ({_signed(top.growth, 1)} MiB) while malloc's memory in use changed "
                  f"{_signed(top.heap_growth, 1)} MiB."]
    for run in r.runs[1:]:
        lines += ["", f"**Peer: {run.peer.label}**, a fresh server on the same database, mixed windows only (load "
                  f"average at its start {benchlib.load_text(run.load_before)}):", ""]
        lines += memory_table(run)
        lines += ["", f"{run.peer.label}: {verdict(run)}."]
    if len(r.runs) > 1:
        common = min(len(run.mixed) for run in r.runs)
        lines += ["", f"All configurations side by side in mixed window {common}, the last one all of them ran "
                  f"(judged there by the same thresholds; the defaults' own verdict above is on window "
                  f"{len(d.mixed)}), and at the end of their last mixed window (MiB):", "",
                  "| server | req/s | p99 ms | RSS growth | malloc in use growth | RSS | heap | "
                  "RSS end | malloc in use, end | malloc kept free, end |",
                  "|---|---:|---:|---:|---:|---|---|---:|---:|---:|"]
        for run in r.runs:
            same, last = run.mixed[common - 1], run.mixed[-1]
            judged = common > 1
            lines.append(f"| {run.peer.label} | {same.wrk.requests_per_s:,.0f} | {same.wrk.p99_ms:,.0f} | "
                         f"{_signed(same.growth, 1)} | {_signed(same.heap_growth, 1)} | "
                         f"{('flat' if same.rss_flat else 'not flat') if judged else 'warm-up'} | "
                         f"{('no growth' if same.heap_flat else 'grew') if judged else 'warm-up'} | "
                         f"{_mib(last.end)} | {_mib([h.in_use for h in last.heap_end])} | "
                         f"{_mib([h.free for h in last.heap_end])} |")
        lines += ["", "The peers ran after the defaults, one at a time, each from a cold start: compare them with the "
                  f"defaults in window {common}, and mind the load averages (another program on the machine "
                  "lowers req/s and raises p99 of whichever run it overlaps)."]
    if d.cache_bound:
        lines += ["", f"Response cache: every cacheable response requested in the default run (the 8 feature pages, "
                  f"the tile and the one page of all settlements that picks the tile) adds up to "
                  f"{d.cache_bytes / 2**20:,.2f} MiB with the per-entry allowance, "
                  f"{100 * d.cache_bytes / d.cache_bound:,.1f} % of the {d.cache_bound // 2**20} MiB bound: this "
                  "load cannot fill the cache, so the cache explains none of the growth above (an estimate from "
                  "the response sizes, not read from the workers)."]
    grown = r.runs_after - r.runs_before
    lines += ["", f"Analysis runs stored during the load: {grown:,}; the database went from "
              f"{r.size_before / 2**20:,.0f} MiB to {r.size_after / 2**20:,.0f} MiB. An identical coverage GET on "
              "unchanged data answers from its stored run (`services/runs.py`, `reused: true`) instead of "
              "computing and storing another, so the database grows with data, not with traffic.",
              "", f"Errors in all runs: **{r.errors}** (target 0).", f"<!-- /bench:{SECTION} -->", ""]
    return "\n".join(lines)


def peer_list(value: str) -> list[str]:
    keys = [part.strip() for part in value.split(",") if part.strip() and part.strip() != "none"]
    unknown = [key for key in keys if key not in PEERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown peer {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    return keys


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help=f"Markdown file whose bench:{SECTION} section is (re)written.")
    parser.add_argument("--duration", type=int, default=DURATION_S,
                        help="Seconds of each mixed window (%(default)s).")
    parser.add_argument("--windows", type=int, default=WINDOWS,
                        help="Mixed windows on the default server (%(default)s; the first is the warm-up).")
    parser.add_argument("--per-url", type=int, default=PER_URL_S,
                        help="Seconds per request alone (%(default)s; 0 skips them).")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="Concurrent clients (%(default)s).")
    parser.add_argument("--peers", type=peer_list, default=list(PEERS),
                        help=f"Comma-separated peer servers to compare, or none ({','.join(PEERS)}).")
    parser.add_argument("--peer-windows", type=int, default=PEER_WINDOWS,
                        help="Mixed windows on each peer server (%(default)s).")
    # SIGTERM (a stopped make, a CI timeout) unwinds like Ctrl-C, so the finally blocks stop the server.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))
    args = parser.parse_args()
    if args.windows < 1 or args.peer_windows < 1:
        parser.error("--windows and --peer-windows must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        results = measure(args, Path(tmp))
    text_ = section(results)
    benchlib.write_section(args.out, SECTION, text_)
    print(text_)
    sys.exit(1 if results.errors else 0)


if __name__ == "__main__":
    main()
