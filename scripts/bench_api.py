"""API benchmark: gis_service and pygeoapi serving the same layer, measured side by side with wrk.

Run by ``make bench`` after ``scripts/setup_bench.sh`` (wrk, and pygeoapi + gunicorn in ``.venv-bench``)::

    .venv/bin/python scripts/bench_api.py --out docs/benchmarks.md [--duration 10] [--runs 3]

What it does:

1. builds the demo town into a SpatiaLite file of its own (``gis-service demo --no-serve``) in a temporary
   directory and exports the ``settlements`` layer from it to a GeoPackage (``gis-service layers export``);
2. starts ``gis-service serve`` (uvicorn, one worker) on that file, once as configured by default and, when
   this build has a response cache, once more with it turned off (``GIS_RESPONSE_CACHE_MB=0``); and pygeoapi
   (gunicorn, one sync worker, its ``SQLiteGPKG`` provider) on the GeoPackage;
3. checks that every server returns the same 100 features for each page measured and that our MVT tile is
   not empty;
4. measures with ``wrk -t1 -c32 --latency``: ``/items?limit=100`` (one URL), the same query with ``offset``
   going round-robin over 0..700 (eight URLs, from a wrk Lua script) and one MVT tile of the densest zoom-13
   tile of the town; every (server, request) pair is warmed up, then runs are interleaved so that drift in
   the machine's load falls on every server alike;
5. replaces its own section (``<!-- bench:api -->``) of ``--out`` with machine facts, versions and a table
   of medians.

Every server is started in its own process group and killed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import benchlib  # scripts/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
SECTION = "api"
LAYER = "settlements"
PAGE = 100  # features per page: the "/items?limit=100"
OFFSETS = tuple(range(0, 800, 100))  # the 792 settlements in eight pages: a new page on each request
TILE_ZOOM = 13  # one tile is about 4 km here: a town-scale map view
CONNECTIONS = 32
RUNS = 3
DURATION_S = 10
WARMUP_S = 2
WRK_TIMEOUT_S = 10  # wrk drops answers slower than its timeout from the latencies; keep slow ones in p99
TARGET_RATIO = 10.0  # "at least 10x pygeoapi's requests/s on the same items query"
TARGET_P99_MS = 100.0  # "p99 under 100 ms at 32 concurrent connections"
STARTUP_TIMEOUT_S = 60.0

OURS = "gis_service"
OURS_NO_CACHE = "gis_service, cache off"
PYGEOAPI = "pygeoapi"


# ================================================================ what is measured


@dataclass(frozen=True)
class Case:
    """One request to measure.

    Attributes
    ----------
    key
        Short name used in the report's ratio lines.
    label
        What the table shows in its "request" column.
    path
        Path and query of the request; for the offsets case, of its first page.
    offsets
        When set, the query's ``offset`` goes round-robin over these values (a wrk Lua script).
    """

    key: str
    label: str
    path: str
    offsets: tuple[int, ...] = ()


@dataclass(frozen=True)
class Server:
    """A running server under test.

    Attributes
    ----------
    name
        ``OURS``, ``OURS_NO_CACHE`` or ``PYGEOAPI``.
    label
        Name and version shown in the table.
    base_url
        ``http://127.0.0.1:<port>``.
    cases
        Keys of the cases this server is measured on.
    unsupported
        Case key → why the server cannot answer it (shown as n/a).
    """

    name: str
    label: str
    base_url: str
    cases: tuple[str, ...]
    unsupported: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run printed.

    Attributes
    ----------
    requests_per_s
        wrk's "Requests/sec".
    p50_ms, p99_ms
        The 50 % and 99 % lines of its latency distribution, in milliseconds.
    requests
        Completed requests.
    non_2xx
        Responses with a status outside 2xx and 3xx.
    socket_errors
        Connect, read, write errors and timeouts.
    """

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


@dataclass
class Row:
    """All runs of one (server, case) pair, or the reason it was not measured."""

    server: Server
    case: Case
    runs: list[WrkResult] = field(default_factory=list)
    not_applicable: str | None = None

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)

    @property
    def runs_with_errors(self) -> int:
        return sum(1 for run in self.runs if run.errors)

    @property
    def empty_runs(self) -> int:
        """Runs in which no request completed (wrk then prints zero latencies, which mean nothing)."""
        return sum(1 for run in self.runs if run.requests == 0)

    @property
    def clean(self) -> bool:
        """Every run completed requests and saw no error."""
        return bool(self.runs) and not self.errors and not self.empty_runs


# ================================================================ wrk


_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(output: str) -> WrkResult:
    """Read the numbers out of ``wrk --latency`` output.

    Parameters
    ----------
    output
        wrk's standard output.

    Returns
    -------
    WrkResult
        Its throughput, p50/p99 latency and error counts.

    Raises
    ------
    ValueError
        When the output lacks the requests/s or latency lines (wrk failed).
    """
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    count = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    latencies = {pct: float(value) * _UNIT_MS[unit] for pct, value, unit in _LATENCY.findall(output)}
    if not rate or not count or set(latencies) != {"50", "99"}:
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(requests_per_s=float(rate.group(1)), p50_ms=latencies["50"], p99_ms=latencies["99"],
                     requests=int(count.group(1)), non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
                     socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0)


def offsets_script(case: Case, workdir: Path) -> Path:
    """A wrk Lua script that sends ``case.path`` with ``offset`` taking each of ``case.offsets`` in turn.

    With ``-t1`` one Lua state serves every connection, so the round-robin is global: the same page comes back
    only after all the others.
    """
    values = ", ".join(str(offset) for offset in case.offsets)
    script = workdir / f"{case.key}.lua"
    script.write_text(
        f"local offsets = {{{values}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #offsets + 1\n"
        f'  return wrk.format("GET", "{case.path}&offset=" .. offsets[i])\n'
        "end\n",
        encoding="utf-8")
    return script


def run_wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> WrkResult:
    """One ``wrk -t1`` run against ``url``.

    Parameters
    ----------
    url
        Full URL (the Lua script, if any, replaces its path and query).
    seconds
        Duration of the run.
    connections
        Concurrent connections, all on one wrk thread (one client core, one server worker).
    script
        Optional wrk Lua script.

    Returns
    -------
    WrkResult
        The parsed output.
    """
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT_S}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


# ================================================================ processes


def free_port() -> int:
    """A TCP port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` in a process group of its own, output to ``log``.

    A log file rather than a pipe: nothing reads the server's output while wrk runs, and a full pipe would
    block the server (uvicorn logs every request).
    """
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` and everything in its group (gunicorn's worker too); kill after 10 s."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path, ready_url: str) -> Iterator[None]:
    """Run a server for the duration of the ``with`` block, once ``ready_url`` answers 200."""
    process = start(command, env, log, ROOT)
    try:
        wait_ready(process, ready_url, log)
        yield
    finally:
        stop(process)


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail early with the log's tail if the process exits."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server logging to {log.name} exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {STARTUP_TIMEOUT_S:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def run_checked(command: list[str], env: dict[str, str]) -> str:
    """Run a set-up command; on failure raise with its output."""
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


# ================================================================ data and servers


@dataclass(frozen=True)
class Paths:
    """Files of one benchmark run, all in its temporary directory."""

    workdir: Path
    ours_bin: Path
    bench_bin: Path

    @property
    def database(self) -> Path:
        return self.workdir / "penglai.sqlite"

    @property
    def gpkg(self) -> Path:
        return self.workdir / f"{LAYER}.gpkg"


def ours_env(database: Path, cache: bool = True) -> dict[str, str]:
    """Environment for ``gis-service``: the database file; the response cache off when asked."""
    env = {**os.environ, "GIS_DATABASE_URL": f"sqlite:///{database}"}
    if not cache:
        env["GIS_RESPONSE_CACHE_MB"] = "0"
    return env


def copy_database(source: Path, name: str) -> Path:
    """A copy of the SpatiaLite file beside it, through SQLite's backup API (consistent even with a WAL).

    Each of our servers gets a file of its own, as two deployments would: two processes on one SQLite file
    share its locks, and a server that writes at start-up could stall the other's reads.
    """
    import sqlite3

    target = source.with_name(name)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def ours_cli(paths: Paths) -> list[str]:
    """The ``gis-service`` command, started as ``python -m gis_service`` (the same ``cli.main``).

    Not through the ``gis-service`` script: on a shared machine other tooling may stop stray servers by
    command line (``pkill -f "gis-service serve"`` was seen killing benchmark servers mid-run).
    """
    return [str(paths.ours_bin / "python"), "-m", "gis_service"]


def prepare_data(paths: Paths) -> None:
    """Load the demo town into a new SpatiaLite file and export the layer to a GeoPackage in EPSG:4326.

    EPSG:4326 rather than the default 4490 so that pygeoapi, which declares CRS84 and returns the stored
    coordinates as they are, serves the same numbers as we do without any transformation.
    """
    env = ours_env(paths.database)
    run_checked([*ours_cli(paths), "demo", "--no-serve"], env)
    run_checked([*ours_cli(paths), "layers", "export", LAYER, "--format", "gpkg", "--out", str(paths.gpkg),
                 "--crs", "EPSG:4326"], env)


@dataclass(frozen=True)
class Tile:
    """The tile measured, and what the layer holds.

    Attributes
    ----------
    z, x, y
        WebMercatorQuad tile.
    features
        Features of the layer inside the tile.
    layer_features
        Features of the whole layer.
    """

    z: int
    x: int
    y: int
    features: int
    layer_features: int

    @property
    def path(self) -> str:
        return f"/collections/{LAYER}/tiles/WebMercatorQuad/{self.z}/{self.x}/{self.y}"


def densest_tile(gpkg: Path, zoom: int) -> Tile:
    """The WebMercatorQuad tile at ``zoom`` holding the most features of ``gpkg`` (ties: the first found).

    The densest tile rather than a fixed one, so that the choice follows the data if the demo town changes.
    """
    import pyogrio.raw
    import shapely

    geometry = pyogrio.raw.read(gpkg, columns=[])[2]
    coords = shapely.get_coordinates(shapely.from_wkb(geometry))
    counts = Counter(_tile_of(float(lon), float(lat), zoom) for lon, lat in coords)
    (x, y), count = counts.most_common(1)[0]
    return Tile(zoom, x, y, count, len(coords))


def _tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """Column and row of the WebMercatorQuad tile that holds a lon/lat point."""
    n = 2 ** zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def has_response_cache(paths: Paths) -> bool:
    """Whether this build of gis_service has the ``GIS_RESPONSE_CACHE_MB`` setting (asked in our venv)."""
    done = subprocess.run([str(paths.ours_bin / "python"), "-c",
                           "from gis_service.settings import Settings; "
                           "print('response_cache_mb' in Settings.model_fields)"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    return done.stdout.strip() == "True"


def pygeoapi_config(gpkg: Path, port: int) -> dict[str, Any]:
    """A minimal pygeoapi configuration publishing the GeoPackage layer with the SQLiteGPKG provider.

    pygeoapi reads many metadata keys unconditionally (its OpenAPI generator fails on a missing one), hence
    the placeholders. Its logging stays at ERROR, as in its own example configuration, so that it does not log
    per request. ``max_items`` 1000 so that ``limit=100`` is never capped.
    """
    url = f"http://127.0.0.1:{port}"
    contact_keys = ("name", "position", "address", "city", "stateorprovince", "postalcode", "country", "phone",
                    "fax", "hours", "instructions", "role")
    return {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": url,
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "languages": ["en-US"],
                   "limits": {"default_items": 10, "max_items": 1000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "gis_service API benchmark",
                               "keywords": ["bench"], "url": url, "terms_of_service": url},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": url},
            "contact": {**dict.fromkeys(contact_keys, "bench"), "email": "bench@example.org", "url": url},
        },
        "resources": {LAYER: {
            "type": "collection", "title": LAYER, "description": "Settlements of the demo town",
            "keywords": [LAYER],
            "extents": {"spatial": {"bbox": [105.18, 30.53, 105.32, 30.66],  # metadata only: no query uses it
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "SQLiteGPKG", "data": str(gpkg), "id_field": "fid",
                           "table": LAYER}],
        }},
    }


def pygeoapi_command(paths: Paths, port: int) -> tuple[list[str], dict[str, str]]:
    """Write pygeoapi's configuration and OpenAPI document; return its gunicorn command and environment.

    The configuration is written as JSON, which is also YAML, so no YAML library is needed on our side.
    gunicorn's control socket goes into the work directory: its default lives in the home directory, shared
    with any other gunicorn on the machine.
    """
    config = paths.workdir / "pygeoapi-config.yml"
    openapi = paths.workdir / "pygeoapi-openapi.yml"
    config.write_text(json.dumps(pygeoapi_config(paths.gpkg, port), indent=1), encoding="utf-8")
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi),
           "SPATIALITE_LIBRARY_PATH": "mod_spatialite"}
    run_checked([str(paths.bench_bin / "pygeoapi"), "openapi", "generate", str(config),
                 "--output-file", str(openapi)], env)
    command = [str(paths.bench_bin / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
               "--control-socket", str(paths.workdir / "gunicorn.ctl"), "pygeoapi.flask_app:APP"]
    return command, env


def pygeoapi_mvt_reason(paths: Paths) -> str:
    """Why pygeoapi has no tile row: the MVT providers its plugin registry offers, none reading a GeoPackage."""
    done = subprocess.run([str(paths.bench_bin / "python"), "-c",
                           "from pygeoapi.plugin import PLUGINS; "
                           "print(' '.join(sorted(k for k in PLUGINS['provider'] if k.startswith('MVT'))))"],
                          capture_output=True, text=True, check=False)
    providers = done.stdout.split() or ["unknown"]
    return ("no MVT provider reads a GeoPackage: pygeoapi's MVT providers (" + ", ".join(providers) +
            ") serve tiles pre-rendered by tippecanoe, proxy another tile server, or query Elasticsearch "
            "or PostGIS")


# ================================================================ checks


def fetch(url: str) -> tuple[int, str, bytes]:
    """Status, Content-Type and body of one GET."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def page_codes(base_url: str, path: str) -> list[str]:
    """The ``code`` of every feature on one items page (raises unless the answer is a 200 GeoJSON page)."""
    status, _, body = fetch(base_url + path)
    if status != 200:
        raise RuntimeError(f"{base_url}{path} answered {status}")
    return [str(feature["properties"]["code"]) for feature in json.loads(body)["features"]]


def check_items(servers: list[Server], items: Case, offsets: Case) -> dict[str, int]:
    """Check that every server returns 100 features for the items URL and the same features on every page.

    Returns
    -------
    dict
        Server name → bytes of its ``/items?limit=100`` response (for the report).

    Raises
    ------
    RuntimeError
        When a server returns another number of features, or different features than ours.
    """
    sizes: dict[str, int] = {}
    for server in servers:
        codes = page_codes(server.base_url, items.path)
        if len(codes) != PAGE:
            raise RuntimeError(f"{server.name}: {items.path} returned {len(codes)} features, not {PAGE}")
        sizes[server.name] = len(fetch(server.base_url + items.path)[2])
    for offset in offsets.offsets:
        path = f"{offsets.path}&offset={offset}"
        pages = {server.name: page_codes(server.base_url, path) for server in servers}
        reference = pages[servers[0].name]
        if not reference:
            raise RuntimeError(f"{servers[0].name}: {path} returned no features")
        for name, codes in pages.items():
            if sorted(codes) != sorted(reference):
                raise RuntimeError(f"{name}: {path} returned other features than {servers[0].name}")
    return sizes


def check_tile(server: Server, tile: Case) -> int:
    """Check that the tile is a non-empty MVT answered with 200; return its size in bytes."""
    status, content_type, body = fetch(server.base_url + tile.path)
    if status != 200 or "mapbox-vector-tile" not in content_type or not body:
        raise RuntimeError(f"{server.name}: {tile.path} answered {status} {content_type!r}, {len(body)} bytes")
    return len(body)


# ================================================================ measuring


def measure(servers: list[Server], cases: dict[str, Case], args: argparse.Namespace, workdir: Path) -> list[Row]:
    """Warm up every (server, case) pair, then run them all ``args.runs`` times, interleaved."""
    rows = [Row(server, case, not_applicable=server.unsupported.get(case.key))
            for case in cases.values() for server in servers if case.key in server.cases]
    scripts = {case.key: offsets_script(case, workdir) for case in cases.values() if case.offsets}
    active = [row for row in rows if row.not_applicable is None]
    for row in active:
        print(f"warm-up {row.server.name}: {row.case.label}", flush=True)
        warm_up(row.server.base_url + row.case.path, args, scripts.get(row.case.key))
    for run in range(1, args.runs + 1):
        for row in active:
            result = run_wrk(row.server.base_url + row.case.path, args.duration, args.connections,
                             scripts.get(row.case.key))
            row.runs.append(result)
            print(f"run {run}/{args.runs} {row.server.name:<24} {row.case.label:<40} "
                  f"{result.requests_per_s:9,.1f} req/s  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms"
                  f"  errors {result.errors}", flush=True)
    return rows


def warm_up(url: str, args: argparse.Namespace, script: Path | None) -> None:
    """Load ``url`` for ``args.warmup`` seconds, again (up to three times) while no request completes.

    A new server can take longer than a short warm-up to answer its first burst of connections (our server
    opens its pool of SQLite connections, loading SpatiaLite into each, on first use), and that start-up
    cost is not what the runs measure.
    """
    for _ in range(3):
        if run_wrk(url, args.warmup, args.connections, script).requests > 0:
            return


# ================================================================ report


def machine_facts(load_before: tuple[float, float, float], load_after: tuple[float, float, float],
                  versions: dict[str, str]) -> dict[str, str]:
    """What the numbers were measured on: CPU, cores, load, OS and the versions of both stacks."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{model.group(1).strip() if model else 'unknown'}, {os.cpu_count()} cores, "
               f"nproc {len(os.sched_getaffinity(0))}",
        "load average (1, 5, 15 min)": (f"before {benchlib.load_text(load_before)}; "
                                        f"after {benchlib.load_text(load_after)}"),
        "OS": f"{benchlib.os_name()}, Linux {platform.release()}",
    }
    return facts | versions






def stack_versions(paths: Paths) -> dict[str, str]:
    """Versions of gis_service's stack (this interpreter), of pygeoapi's (the bench venv) and of wrk."""
    import sqlite3

    probe = ("import json, platform, sqlite3; from importlib.metadata import version; "
             "c = sqlite3.connect(':memory:'); c.enable_load_extension(True); "
             "c.execute(\"SELECT load_extension('mod_spatialite')\"); "
             "print(json.dumps({'python': platform.python_version(), 'sqlite': sqlite3.sqlite_version, "
             "'spatialite': c.execute('SELECT spatialite_version()').fetchone()[0], "
             "**{p: version(p) for p in ('pygeoapi', 'gunicorn', 'Flask')}}))")
    done = subprocess.run([str(paths.bench_bin / "python"), "-c", probe], capture_output=True, text=True,
                          check=False)
    peer = json.loads(done.stdout) if done.returncode == 0 else {}
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = re.search(r"wrk\s+(\S+)", wrk.stdout + wrk.stderr)
    ours = (f"gis_service {version('gis-service')} ({_git_revision()}), Python {platform.python_version()}, "
            f"FastAPI {version('fastapi')}, uvicorn {version('uvicorn')}, SQLite {sqlite3.sqlite_version}")
    theirs = (f"pygeoapi {peer.get('pygeoapi', '?')} (SQLiteGPKG provider), gunicorn {peer.get('gunicorn', '?')} "
              f"(1 sync worker), Flask {peer.get('Flask', '?')}, Python {peer.get('python', '?')}, "
              f"SQLite {peer.get('sqlite', '?')}, SpatiaLite {peer.get('spatialite', '?')}")
    return {"gis_service stack": ours, "pygeoapi stack": theirs,
            "load generator": f"wrk {wrk_version.group(1) if wrk_version else '?'}"}


def _git_revision() -> str:
    """Short commit of the work tree, marked when gis_service/ has uncommitted changes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                          check=False).stdout.strip() or "unknown commit"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "gis_service", "pyproject.toml"],
                           capture_output=True, text=True, cwd=ROOT, check=False).stdout.strip()
    return f"{head} + uncommitted changes" if dirty else head


def table(rows: list[Row]) -> list[str]:
    """The Markdown table: one line per (server, request)."""
    lines = ["| server | request | requests/s | p50 ms | p99 ms | errors | requests/s of each run |",
             "|---|---|---:|---:|---:|---:|---|"]
    for row in rows:
        if row.not_applicable is not None:
            lines.append(f"| {row.server.label} | {row.case.label} | n/a | n/a | n/a | n/a | "
                         f"n/a: {row.not_applicable} |")
            continue
        errors = f"**{row.errors:,}** ({row.runs_with_errors} of {len(row.runs)} runs)" if row.errors else "0"
        if row.empty_runs:
            errors += f"; **no request completed in {row.empty_runs} of {len(row.runs)} runs**"
        each = ", ".join(f"{run.requests_per_s:,.0f}" for run in row.runs)
        lines.append(f"| {row.server.label} | {row.case.label} | {row.median('requests_per_s'):,.0f} | "
                     f"{row.median('p50_ms'):.1f} | {row.median('p99_ms'):.1f} | {errors} | {each} |")
    return lines


def _find(rows: list[Row], server: str, case: str) -> Row | None:
    return next((r for r in rows if r.server.name == server and r.case.key == case and r.runs), None)


def ratio_lines(rows: list[Row], cases: dict[str, Case]) -> list[str]:
    """"gis_service / pygeoapi" requests/s for each request both answered."""
    parts = []
    for ours in (OURS, OURS_NO_CACHE):
        for key, case in cases.items():
            mine, theirs = _find(rows, ours, key), _find(rows, PYGEOAPI, key)
            if mine and theirs and theirs.median("requests_per_s") > 0:
                ratio = mine.median("requests_per_s") / theirs.median("requests_per_s")
                parts.append(f"{case.label}{' (our cache off)' if ours == OURS_NO_CACHE else ''}: **{ratio:.1f}×**")
    return ["gis_service / pygeoapi (median requests/s): " + "; ".join(parts) + "." if parts else
            "gis_service / pygeoapi: no request measured on both.", ""]


def target_lines(rows: list[Row]) -> list[str]:
    """Verdicts on the issue's targets: 10× pygeoapi on the items query, p99 < 100 ms at 32 connections."""
    lines = [f"### Target: ≥ {TARGET_RATIO:g}× pygeoapi's requests/s on `/items?limit={PAGE}`, "
             f"p99 < {TARGET_P99_MS:g} ms at {CONNECTIONS} connections", ""]
    mine, theirs = _find(rows, OURS, "items"), _find(rows, PYGEOAPI, "items")
    if mine and theirs and theirs.median("requests_per_s") > 0:
        ratio = mine.median("requests_per_s") / theirs.median("requests_per_s")
        verdict = "**met**" if ratio >= TARGET_RATIO and mine.clean and theirs.clean else "**not met**"
        lines.append(f"- requests/s: {mine.median('requests_per_s'):,.0f} vs {theirs.median('requests_per_s'):,.0f}"
                     f" = {ratio:.1f}× → {verdict}.")
    for row in rows:
        if row.server.name == PYGEOAPI or not row.runs:
            continue
        p99 = row.median("p99_ms")
        verdict = "**met**" if p99 < TARGET_P99_MS and row.clean else "**not met**"
        lines.append(f"- p99, {row.server.label}, {row.case.label}: {p99:.1f} ms → {verdict}.")
    if not all(row.clean for row in rows if row.runs):
        lines.append("- Some runs had errors (non-2xx/3xx responses or socket errors) or completed no request: "
                     "see the errors column; a row with errors never meets a target.")
    return [*lines, ""]


def render(facts: dict[str, str], rows: list[Row], cases: dict[str, Case], data: str, args: argparse.Namespace,
           total_s: float) -> str:
    """The benchmark's section of the report, markers included."""
    lines = [f"<!-- bench:{SECTION} -->", "## OGC API - Features: gis_service and pygeoapi side by side", "",
             f"Generated by `make bench` (`scripts/bench_api.py`) in {total_s / 60:.1f} min. The servers run at "
             f"the same time on this machine, each with one worker, and are measured one after the other with "
             f"`wrk -t1 -c{args.connections} -d{args.duration}s --latency` on 127.0.0.1: every pair is first warmed "
             f"up for {args.warmup} s, then the {args.runs} runs of all pairs are interleaved so that the machine's "
             "changing load (it is shared with other work) falls on every server alike. Each row quotes the "
             "**median** of its runs (requests/s, p50 and p99 each separately); errors are non-2xx/3xx responses "
             "plus socket errors, summed over the runs.", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    lines += ["", data, "", *target_lines(rows), "### Requests/s and latency", "", *table(rows), "",
              *ratio_lines(rows, cases), f"<!-- /bench:{SECTION} -->"]
    return "\n".join(lines) + "\n"


def data_note(features: int, tile: Tile, tile_bytes: int, sizes: dict[str, int], cache_off: bool) -> str:
    """The paragraph saying what data and which requests were measured."""
    cache = (" Our server runs twice: as `gis-service serve` starts it by default (with its response cache, "
             "which serves a repeated page or tile from memory) and with `GIS_RESPONSE_CACHE_MB=0`, which gives "
             "the uncached throughput: with the cache on, the eight offset pages are cached after the warm-up "
             "too." if cache_off else "")
    last_page = features - OFFSETS[-1]
    return (f"Data: the demo town loaded by `gis-service demo --no-serve` into a new SpatiaLite file; pygeoapi "
            f"serves the layer `{LAYER}` ({features:,} points) exported from it by `gis-service layers export "
            f"{LAYER} --format gpkg --crs EPSG:4326`, through its `SQLiteGPKG` provider. Before measuring, every "
            f"server returned the same features on every page measured. Requests: "
            f"`/collections/{LAYER}/items?limit={PAGE}` (one URL; {sizes.get(OURS, 0):,} bytes from gis_service, "
            f"{sizes.get(PYGEOAPI, 0):,} from pygeoapi); the same with `&offset=` going round-robin over "
            f"{', '.join(map(str, OFFSETS))} (a wrk Lua script; the last page has {last_page} features); and the "
            f"MVT tile `{tile.path}`, the zoom-{tile.z} tile holding the most settlements ({tile.features}; "
            f"{tile_bytes:,} bytes). pygeoapi runs under gunicorn's default sync worker, which closes the "
            "connection after each response (wrk reconnects)." + cache)


# ================================================================ file




# ================================================================ main


def build_cases(tile: Tile) -> dict[str, Case]:
    """The three requests, keyed by :attr:`Case.key`."""
    items = f"/collections/{LAYER}/items?limit={PAGE}"
    return {case.key: case for case in (
        Case("items", f"`/items?limit={PAGE}`", items),
        Case("offsets", f"`/items?limit={PAGE}&offset=` 0..{OFFSETS[-1]}", items, OFFSETS),
        Case("tile", f"MVT tile {tile.z}/{tile.x}/{tile.y}", tile.path),
    )}


def start_servers(stack: ExitStack, paths: Paths, cache_off: bool) -> list[Server]:
    """Start our server (twice when ``cache_off``) and pygeoapi; ``stack`` stops them all on exit."""
    ours = [*ours_cli(paths), "serve", "--host", "127.0.0.1", "--port"]
    servers = []
    plans: list[tuple[str, bool, tuple[str, ...]]] = [(OURS, True, ("items", "offsets", "tile"))]
    if cache_off:
        plans.append((OURS_NO_CACHE, False, ("offsets", "tile")))
    for name, cache, case_keys in plans:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = paths.workdir / f"{name.replace(', ', '-').replace(' ', '-')}.log"
        database = paths.database if cache else copy_database(paths.database, "penglai-no-cache.sqlite")
        stack.enter_context(running([*ours, str(port)], ours_env(database, cache), log, f"{base}/collections"))
        label = "gis_service (default settings)" if cache else "gis_service, `GIS_RESPONSE_CACHE_MB=0`"
        servers.append(Server(name, label, base, case_keys))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command, env = pygeoapi_command(paths, port)
    stack.enter_context(running(command, env, paths.workdir / "pygeoapi.log", f"{base}/collections"))
    servers.append(Server(PYGEOAPI, "pygeoapi", base, ("items", "offsets", "tile"),
                          {"tile": pygeoapi_mvt_reason(paths)}))
    return servers


def print_logs(workdir: Path) -> None:
    """Print the tail of every server log in ``workdir`` to stderr."""
    for log in sorted(workdir.glob("*.log")):
        print(f"---- {log.name}\n{_tail(log)}", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    """Prepare the data, start the servers, check, measure, and write the report."""
    started = time.perf_counter()
    bench_bin = args.bench_venv / "bin"
    if not (bench_bin / "gunicorn").exists() or not (bench_bin / "pygeoapi").exists():
        sys.exit(f"{args.bench_venv} has no pygeoapi/gunicorn: run `bash scripts/setup_bench.sh` first")
    with tempfile.TemporaryDirectory(prefix="gis-bench-api-") as tmp:
        paths = Paths(Path(tmp), Path(sys.executable).parent, bench_bin)
        print(f"building the demo town and exporting {LAYER} in {tmp}", flush=True)
        prepare_data(paths)
        tile = densest_tile(paths.gpkg, args.tile_zoom)
        cases = build_cases(tile)
        cache_off = has_response_cache(paths)
        load_before = os.getloadavg()
        with ExitStack() as stack:
            try:
                servers = start_servers(stack, paths, cache_off)
                sizes = check_items(servers, cases["items"], cases["offsets"])
                tile_bytes = [check_tile(s, cases["tile"]) for s in servers if "tile" not in s.unsupported][0]
                rows = measure(servers, cases, args, paths.workdir)
            except Exception:
                print_logs(paths.workdir)  # the logs go with the temporary directory
                raise
        load_after = os.getloadavg()
        facts = machine_facts(load_before, load_after, stack_versions(paths))
    data = data_note(tile.layer_features, tile, tile_bytes, sizes, cache_off)
    section = render(facts, rows, cases, data, args, time.perf_counter() - started)
    benchlib.write_section(args.out, SECTION, section)
    print(section)
    print(f"wrote {args.out} in {(time.perf_counter() - started) / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help=f"Markdown file whose bench:{SECTION} section is (re)written.")
    parser.add_argument("--duration", type=int, default=DURATION_S, help="Seconds per wrk run (default %(default)s).")
    parser.add_argument("--runs", type=int, default=RUNS, help="Runs per (server, request) (default %(default)s).")
    parser.add_argument("--warmup", type=int, default=WARMUP_S, help="Warm-up seconds per pair (default %(default)s).")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="wrk connections (default %(default)s).")
    parser.add_argument("--tile-zoom", type=int, default=TILE_ZOOM, help="Zoom of the tile (default %(default)s).")
    parser.add_argument("--bench-venv", type=Path, default=Path(os.environ.get("BENCH_VENV", ROOT / ".venv-bench")),
                        help="venv with pygeoapi and gunicorn, made by scripts/setup_bench.sh.")
    # SIGTERM (a stopped make, a CI timeout) unwinds like Ctrl-C, so the finally blocks stop every server.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))
    run(parser.parse_args())


if __name__ == "__main__":
    main()
