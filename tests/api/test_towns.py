"""One service for many towns over HTTP (issue 9): ``/towns/{code}/…``, keys confined to their towns.

PostGIS with two towns: Penglai (the demo town, the service's own) and 回马镇, added empty. Over a real uvicorn
server, with GDAL as one of the clients.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gis_service.api import create_app
from gis_service.services.demo import load_demo
from gis_service.services.towns import TownService
from gis_service.services.users import UserService
from tests.api.conftest import LiveServer, serving, settings_for
from tests.conftest import DEMO_DIR, make_engine

PENGLAI, HUIMA = "510923100", "510923101"
GEOJSON = {"Content-Type": "application/geo+json"}


@dataclass
class Keys:
    penglai_editor: str
    huima_editor: str
    county_admin: str
    huima_viewer: str


@pytest.fixture(scope="module")
def two_towns(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    engine = make_engine("postgis", request, tmp_path_factory.mktemp("towns"))
    load_demo(engine, DEMO_DIR)
    TownService(engine).add(HUIMA, "回马镇")
    with serving(create_app(settings_for(engine, maps_dir=str(tmp_path_factory.mktemp("maps"))),
                            engine=engine)) as url:
        yield LiveServer(url, engine, "postgis")
    engine.dispose()


@pytest.fixture(scope="module")
def keys(two_towns: LiveServer) -> Keys:
    users = UserService(two_towns.engine)
    return Keys(penglai_editor=users.add("penglai_clerk", "editor")[1],
                huima_editor=users.add("huima_clerk", "editor", towns=[HUIMA])[1],
                county_admin=users.add("county_admin", "admin", towns=["*"])[1],
                huima_viewer=users.add("huima_leader", "viewer", towns=[HUIMA])[1])


@pytest.fixture
def http(two_towns: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=two_towns.url, timeout=60) as client:
        yield client


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **GEOJSON}


def _asset(code: str) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.31, 30.62]},
            "properties": {"code": code, "name": "回马镇原供销社", "ownership": "town_state",
                           "asset_class": "operating", "category": "office", "use_status": "idle"}}


def _matched(http: httpx.Client, prefix: str, query: str = "") -> int:
    response = http.get(f"{prefix}/collections/assets/items?limit=1{query}")
    assert response.status_code == 200, response.text
    return int(response.json()["numberMatched"])


def test_the_towns_are_listed_with_their_api_roots(http: httpx.Client) -> None:
    towns = http.get("/towns").json()["towns"]
    assert [(t["code"], t["name"], t["default"]) for t in towns] == [
        (PENGLAI, "蓬莱镇", True), (HUIMA, "回马镇", False)]
    root = towns[1]["links"][0]["href"]
    assert root.endswith(f"/towns/{HUIMA}/")
    landing = http.get(root).json()
    outside = [link["href"] for link in landing["links"] if not link["href"].startswith(root)]
    assert not outside


def test_each_town_sees_only_its_own_features(http: httpx.Client, keys: Keys) -> None:
    penglai = _matched(http, "")
    assert penglai > 100
    assert _matched(http, f"/towns/{PENGLAI}") == penglai
    code = http.get("/collections/assets/items?limit=1").json()["features"][0]["properties"]["code"]
    before = _matched(http, f"/towns/{HUIMA}")  # cached for this town now
    # The same asset code as one of Penglai's: codes are unique per town.
    created = http.post(f"/towns/{HUIMA}/collections/assets/items", json=_asset(code), headers=_as(keys.huima_editor))
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert f"/towns/{HUIMA}/collections/assets/items/" in location
    assert http.get(location).json()["properties"]["name"] == "回马镇原供销社"
    assert _matched(http, f"/towns/{HUIMA}") == before + 1  # the cache of this town saw the write
    assert _matched(http, f"/towns/{HUIMA}", f"&code={code}") == 1
    assert _matched(http, "", f"&code={code}") == 1
    assert http.get(f"/collections/assets/items?code={code}").json()["features"][0]["properties"]["name"] != \
        "回马镇原供销社"
    assert _matched(http, "") == penglai  # Penglai untouched
    # The feature's own URL exists only in its town.
    feature_id = location.rsplit("/", 1)[1]
    assert http.get(f"/collections/assets/items/{feature_id}").status_code == 404
    history = http.get(f"/towns/{HUIMA}/collections/assets/items/{feature_id}/history").json()
    assert [v["action"] for v in history["versions"]] == ["create"]
    assert history["versions"][0]["actor"] == "huima_clerk"


def test_a_key_works_only_in_its_towns(http: httpx.Client, keys: Keys) -> None:
    # Penglai's editor cannot write in 回马镇, nor read it with its key: the town does not exist for it.
    refused = http.post(f"/towns/{HUIMA}/collections/assets/items", json=_asset("PL-IN-HM"),
                        headers=_as(keys.penglai_editor))
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert http.get(f"/towns/{HUIMA}/collections", headers=_as(keys.penglai_editor)).status_code == 404
    # …and 回马镇's keys do nothing in Penglai, by prefix or without one.
    for prefix in ("", f"/towns/{PENGLAI}"):
        assert http.post(f"{prefix}/collections/assets/items", json=_asset("HM-IN-PL"),
                         headers=_as(keys.huima_editor)).status_code == 404
        assert http.get(f"{prefix}/collections/assets/items", headers=_as(keys.huima_viewer)).status_code == 404
    assert _matched(http, "", "&code=HM-IN-PL") == 0
    assert _matched(http, f"/towns/{HUIMA}", "&code=PL-IN-HM") == 0
    # A county admin's key works everywhere.
    for prefix in ("", f"/towns/{HUIMA}"):
        made = http.post(f"{prefix}/collections/assets/items", json=_asset(f"COUNTY-{prefix[-3:] or 'own'}"),
                         headers=_as(keys.county_admin))
        assert made.status_code == 201, made.text


def test_a_key_lists_only_its_towns(http: httpx.Client, keys: Keys) -> None:
    listed = http.get("/towns", headers=_as(keys.huima_viewer)).json()["towns"]
    assert [t["code"] for t in listed] == [HUIMA]
    assert [t["code"] for t in http.get("/towns", headers=_as(keys.county_admin)).json()["towns"]] == [
        PENGLAI, HUIMA]


def test_a_town_not_served_is_not_found(http: httpx.Client) -> None:
    for path in ("/towns/510923199/collections", "/towns/abc/collections", "/towns/510923199"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert "no town" in response.json()["detail"]


def test_tiles_are_cached_per_town(http: httpx.Client) -> None:
    # A tile with Penglai's settlements; the same tile of 回马镇 (no settlements) is empty.
    penglai = http.get("/collections/settlements/tiles/WebMercatorQuad/13/6491/3364")
    assert penglai.status_code == 200 and penglai.content
    assert http.get(f"/towns/{HUIMA}/collections/settlements/tiles/WebMercatorQuad/13/6491/3364").status_code == 204
    assert http.get(f"/towns/{PENGLAI}/collections/settlements/tiles/WebMercatorQuad/13/6491/3364").content == \
        penglai.content


def test_analyses_and_their_runs_belong_to_their_town(http: httpx.Client) -> None:
    penglai = http.get("/analysis/coverage", params={"standard": "agency_station", "metres": 1400}).json()
    assert penglai["town"]["demand"] > 0
    huima = http.get(f"/towns/{HUIMA}/analysis/coverage", params={"standard": "agency_station", "metres": 1400})
    assert huima.status_code == 200, huima.text
    assert huima.json()["town"]["demand"] == 0 and huima.json()["facilities"] == 0
    run = huima.json()["run"]
    assert f"/towns/{HUIMA}/analysis/runs/" in run["href"]
    assert http.get(run["href"]).json()["kind"] == "coverage"
    # Each town lists only its runs; one town's run is not found in the other.
    assert http.get(f"/analysis/runs/{run['id']}").status_code == 404
    huima_runs = {r["id"] for r in http.get(f"/towns/{HUIMA}/analysis/runs").json()["runs"]}
    penglai_runs = {r["id"] for r in http.get("/analysis/runs").json()["runs"]}
    assert run["id"] in huima_runs and penglai["run"]["id"] in penglai_runs
    assert not huima_runs & penglai_runs


def test_gdal_reads_one_town_by_its_root(two_towns: LiveServer, keys: Keys) -> None:
    listing = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{two_towns.url}/towns/{HUIMA}/", "assets"],
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    count = int(re.search(r"Feature Count: (\d+)", listing.stdout).group(1))  # type: ignore[union-attr]
    with httpx.Client(base_url=two_towns.url) as http:
        assert count == _matched(http, f"/towns/{HUIMA}") >= 1


def test_a_spatialite_service_serves_its_one_town_under_the_prefix_too(request: pytest.FixtureRequest,
                                                                      tmp_path: Path) -> None:
    engine = make_engine("spatialite", request, tmp_path)
    with serving(create_app(settings_for(engine), engine=engine)) as url, httpx.Client(base_url=url) as http:
        assert [t["code"] for t in http.get("/towns").json()["towns"]] == [PENGLAI]
        assert http.get(f"/towns/{PENGLAI}/collections/assets/items").status_code == 200
        assert http.get(f"/towns/{HUIMA}/collections/assets/items").status_code == 404
    engine.dispose()


def test_map_reports_of_another_town_carry_its_name_and_data(http: httpx.Client) -> None:
    own = http.get("/maps/assets.html")
    assert own.status_code == 200 and "<title>蓬莱镇" in own.text
    other = http.get(f"/towns/{HUIMA}/maps/assets.html")
    assert other.status_code == 200, other.text[:500]
    assert "<title>回马镇" in other.text and "蓬莱镇" not in other.text.split("</title>")[0]
    assert other.content != own.content
    index = http.get(f"/towns/{HUIMA}/maps/")
    assert index.status_code == 200 and "回马镇" in index.text
