"""`GET /analysis/siting` over real HTTP on the demo town (SpatiaLite and PostGIS)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from gis_service.api.app import create_app
from tests import siting_town as town
from tests.api.conftest import serving, settings_for
from tests.conftest import DEMO_DIR


def idle_codes() -> set[str]:
    features = json.loads(Path(DEMO_DIR / "assets.geojson").read_text(encoding="utf-8"))["features"]
    return {f["properties"]["code"] for f in features if f["properties"]["use_status"] in ("idle", "partly_idle")}


def test_every_idle_asset_gets_a_top_recommendation_with_reasons(client: httpx.Client) -> None:
    response = client.get("/analysis/siting")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert {a["code"] for a in body["assets"]} == idle_codes()
    assert body["method"] == "network" and body["centre"] == "GY510923100-009"
    for asset in body["assets"]:
        top = asset["top"]
        assert top is not None and top["rank"] == 1, asset["code"]
        assert top["reasons"] and all(r["zh"] and r["en"] for r in top["reasons"])
        assert top["score"] == max(entry["score"] for entry in asset["ranking"])
        land = asset["subject"] == "land"
        assert {e["use"] for e in asset["ranking"]} <= ({"farming", "lease"} if land else
                                                        set(body["weights"]) | {e["use"] for e in asset["ranking"]})
        for entry in asset["ranking"]:
            total = sum(f["contribution"] for f in entry["factors"].values())
            if entry["permitted"] is not False and not entry["unsafe"]:
                assert entry["score"] == pytest.approx(total, abs=1e-3)
            else:
                assert entry["score"] == 0


def test_geojson_one_asset_and_the_town_plan(client: httpx.Client) -> None:
    features = client.get("/analysis/siting", params={"f": "geojson", "assign": "true"}).json()["features"]
    assert len(features) == len(idle_codes())
    assert all(f["properties"]["top_use"] and f["properties"]["reasons"] for f in features)
    lon, lat = features[0]["geometry"]["coordinates"]
    assert 100 < lon < 110 and 25 < lat < 35  # CRS84
    one = client.get("/analysis/siting", params={"asset_code": "GY510923100-001", "uses": "kindergarten,study_base",
                                                 "weights": "scenic=0"}).json()
    assert [a["code"] for a in one["assets"]] == ["GY510923100-001"]
    assert {e["use"] for e in one["assets"][0]["ranking"]} == {"kindergarten", "study_base"}
    assert one["weights"]["scenic"] == 0
    plan = client.get("/analysis/siting", params={"assign": "true"}).json()["assignment"]
    assigned = [s["asset_code"] for s in plan["steps"]]
    assert len(assigned) == len(set(assigned))
    served: dict[str, set[str]] = {}
    for step in plan["steps"]:
        mine = set(step["served"])
        assert not mine & served.get(step["use"], set()), step  # nobody given twice for the same use
        served.setdefault(step["use"], set()).update(mine)


@pytest.mark.parametrize(("params", "field", "status"), [
    ({"weights": "demand=much"}, "weights", 400), ({"uses": "spaceport"}, "uses", 400),
    ({"asset_code": "NOPE"}, "asset_code", 404), ({"method": "teleport"}, "method", 400),
])
def test_bad_requests_are_problems_naming_the_field(client: httpx.Client, params: dict[str, str], field: str,
                                                    status: int) -> None:
    response = client.get("/analysis/siting", params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["detail"]


def test_siting_uses_the_apps_permitted_use_table(engine: Engine, tmp_path: Path) -> None:
    """Asset A of the hand-made town stands on industrial land (1001): no kindergarten there with the built-in
    table; GIS_PERMITTED_USES_FILE allowing it makes the siting score it, as the conformance check judges it."""
    town.load(engine, tmp_path)
    town.replace_layer(engine, tmp_path, "planning_zones", town.zones(code_under_a="1001"))
    override = tmp_path / "uses.csv"
    override.write_text("key,use,level\n1001,kindergarten,yes\n", encoding="utf-8")
    query = {"uses": "kindergarten", "asset_code": "A"}
    for settings, permitted in ((settings_for(engine), False),
                                (settings_for(engine, permitted_uses_file=override), True)):
        with serving(create_app(settings, engine=engine)) as url:
            [entry] = httpx.get(f"{url}/analysis/siting", params=query).json()["assets"][0]["ranking"]
            conformance = httpx.get(f"{url}/analysis/conformance", params={"use": "kindergarten", "code": "A"})
        assert entry["permitted"] is permitted and (entry["score"] > 0) is permitted
        assert conformance.json()["features"][0]["verdict"] == ("conforming" if permitted else "not_conforming")
