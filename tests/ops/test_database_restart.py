"""PostgreSQL goes away while the API serves: requests fail fast with 503 problem+json, /ready says so, and the
same server answers again by itself once the database is back (no restart of the service).

Runs on a private cluster (``private_postgres``): stopping the shared one would break the tests running beside.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import httpx
import pytest
from shapely.geometry import Point

from gis_service.api import create_app
from gis_service.db.engine import create_db_engine
from gis_service.db.migrate import upgrade
from gis_service.services.layers import LayerService
from gis_service.settings import Settings
from tests.api.conftest import serving
from tests.ops.private_postgres import PrivateCluster, private_cluster

FAIL_FAST_S = 5.0
RECOVERY_S = 30.0
ITEMS = "/collections/settlements/items?limit=10"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with private_cluster() as running:
        yield running


def _settlements(path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"code": [f"S{i}" for i in range(5)], "name": ["王家湾"] * 5, "village_code": ["510923100201"] * 5,
         "population": [10, 20, 30, 40, 50]},
        geometry=[Point(105.25 + i / 1000, 30.59) for i in range(5)], crs=4490)
    frame.to_file(path, driver="GeoJSON")
    return path


def _timed_get(http: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.get(path)
    return response, time.monotonic() - started


class Hammer(threading.Thread):
    """A client that keeps requesting ``path`` until stopped, recording each status and the slowest answer."""

    def __init__(self, url: str, path: str) -> None:
        super().__init__(daemon=True)
        self.url, self.path = url, path
        self.statuses: list[int] = []
        self.slowest_s = 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.halt.is_set():
                response, elapsed = _timed_get(http, self.path)
                self.statuses.append(response.status_code)
                self.slowest_s = max(self.slowest_s, elapsed)

    def finish(self) -> None:
        self.halt.set()
        self.join(timeout=60)


def test_database_restart_gives_503_then_recovers(cluster: PrivateCluster, tmp_path: Path) -> None:
    settings = Settings(database_url=cluster.url, response_cache_mb=16)
    engine = create_db_engine(settings)
    upgrade(engine)
    LayerService(engine).import_file(_settlements(tmp_path / "settlements.geojson"), "settlements")
    with serving(create_app(settings, engine=engine)) as url, httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(3):  # the pool now holds connections that the stop will cut
            assert http.get(ITEMS).status_code == 200
        hammer = Hammer(url, ITEMS)  # another client requesting all along: the stop cuts its requests mid-way
        hammer.start()
        time.sleep(0.3)
        cluster.stop("immediate")
        try:
            for path in (ITEMS, ITEMS, "/collections/settlements/items/1", "/ready"):
                response, elapsed = _timed_get(http, path)
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.json()["status"] == 503
                assert elapsed < FAIL_FAST_S, f"{path} took {elapsed:.1f} s with the database down"
            assert http.get("/health").status_code == 200  # the process itself is fine
        finally:
            cluster.start()
        deadline = time.monotonic() + RECOVERY_S
        while (ready := http.get("/ready")).status_code != 200:
            assert time.monotonic() < deadline, f"not ready {RECOVERY_S} s after the database came back"
            time.sleep(0.5)
        assert ready.json()["status"] == "ready"
        page = http.get(ITEMS)
        assert page.status_code == 200 and len(page.json()["features"]) == 5
        time.sleep(0.3)
        hammer.finish()
        assert set(hammer.statuses) == {200, 503}, sorted(set(hammer.statuses))
        assert hammer.statuses[-1] == 200 and hammer.slowest_s < FAIL_FAST_S
    engine.dispose()
