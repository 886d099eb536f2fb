"""Analysis runs over real HTTP on both backends (demo town): every analysis stored, listed, shown, re-run."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from gis_service.access import Principal, Role
from gis_service.crs import CRS84_URI, parse_crs
from gis_service.layers.registry import get_layer
from gis_service.services.edits import EditService
from gis_service.services.users import UserService
from tests.api.conftest import LiveServer


def test_each_analysis_request_is_a_stored_run(client: httpx.Client) -> None:
    answer = client.get("/analysis/coverage", params={"standard": "kindergarten", "metres": 1200})
    reference = answer.json()["run"]
    assert answer.headers["Link"].startswith(f"<{reference['href']}>")
    run = client.get(reference["href"]).json()
    assert run["kind"] == "coverage" and run["status"] == "ok"
    assert run["parameters"] == {"standard": "kindergarten", "method": "auto", "metres": 1200.0, "minutes": None}
    assert set(run["inputs"]["layers"]) == {"settlements", "schools", "roads", "rivers", "bridges"}
    assert run["result"]["town"] == answer.json()["town"] and run["features"] == 792
    features = client.get(reference["href"], params={"f": "geojson"}).json()["features"]
    direct = client.get("/analysis/coverage", params={"standard": "kindergarten", "metres": 1200,
                                                       "f": "geojson"}).json()["features"]
    assert features == direct
    one = client.get("/analysis/one-plus-n").json()["run"]
    shown = client.get(one["href"]).json()
    assert shown["kind"] == "one_plus_n" and shown["features"] is None
    assert client.get(one["href"], params={"f": "geojson"}).status_code == 400


def test_runs_are_listed_newest_first_with_paging(client: httpx.Client) -> None:
    ids = [client.get("/analysis/coverage", params={"standard": "centre", "method": "straight",
                                                    "metres": metres}).json()["run"]["id"]
           for metres in (2000, 2500, 3500)]
    page = client.get("/analysis/runs", params={"kind": "coverage", "limit": 2}).json()
    assert [r["id"] for r in page["runs"]] == ids[::-1][:2]
    assert page["numberMatched"] >= 3 and any(link["rel"] == "next" for link in page["links"])
    assert "result" not in page["runs"][0]
    assert client.get("/analysis/runs", params={"kind": "tea"}).status_code == 400
    assert client.get("/analysis/runs/999999").status_code == 404


def test_an_identical_request_on_unchanged_data_reuses_its_run(client: httpx.Client, live: LiveServer) -> None:
    params = {"standard": "agency_station", "metres": 1700}
    first = client.get("/analysis/coverage", params=params).json()
    before = client.get("/analysis/runs", params={"kind": "coverage"}).json()["numberMatched"]
    again = client.get("/analysis/coverage", params=params).json()
    assert again["run"]["id"] == first["run"]["id"] and again["run"]["reused"] is True
    assert first["run"]["reused"] is False and again["town"] == first["town"]
    assert client.get("/analysis/runs", params={"kind": "coverage"}).json()["numberMatched"] == before
    other = client.get("/analysis/coverage", params={**params, "metres": 1800}).json()["run"]
    assert other["id"] != first["run"]["id"] and other["reused"] is False  # other parameters: a new run
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.251, 30.602]},
               "properties": {"code": "RUN-REUSE", "name": "新代办站", "kind": "agency_station",
                              "village_code": "510923100201"}}
    EditService(live.engine).create(get_layer("service_points"), feature, parse_crs(CRS84_URI),
                                    Principal("li_editor", Role.EDITOR))
    changed = client.get("/analysis/coverage", params=params).json()["run"]
    assert changed["id"] != first["run"]["id"] and changed["reused"] is False  # the data changed: computed anew


@pytest.fixture(scope="module")
def planner(live: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {UserService(live.engine).add('zhao_planner', 'planner')[1]}"}


def _count_runs(live: LiveServer) -> int:
    with live.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM analysis_runs")).scalar_one())


def test_rerun_needs_a_planner_editor_or_admin(client: httpx.Client, live: LiveServer,
                                               planner: dict[str, str]) -> None:
    """Readers (anonymous local clients too) must not fill the table: a re-run is always computed and stored."""
    run = client.get("/analysis/coverage", params={"standard": "centre", "metres": 900}).json()["run"]
    viewer = UserService(live.engine).add("wang_leader", "viewer")[1]
    before = _count_runs(live)
    for headers, status in (({}, 401), ({"X-API-Key": viewer}, 403)):
        refused = client.post(f"{run['href']}/rerun", headers=headers)
        assert refused.status_code == status and refused.headers["content-type"] == "application/problem+json"
        assert "planner, editor or admin" in refused.json()["detail"]
    assert _count_runs(live) == before
    assert client.post(f"{run['href']}/rerun", headers=planner).status_code == 201
    assert client.post("/analysis/runs/999999/rerun", headers=planner).status_code == 404
    assert _count_runs(live) == before + 1


def test_rerun_compares_inputs_and_outputs(client: httpx.Client, live: LiveServer, planner: dict[str, str]) -> None:
    run = client.get("/analysis/coverage", params={"standard": "elderly_day_care"}).json()["run"]
    again = client.post(f"{run['href']}/rerun", headers=planner)
    assert again.status_code == 201
    body = again.json()
    assert body["inputs_changed"] is False and body["outputs_equal"] is True
    assert body["run"]["id"] != run["id"] and again.headers["Location"].endswith(f"/analysis/runs/{body['run']['id']}")
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.262, 30.601]},
               "properties": {"code": "RUN-DAYCARE", "name": "新日间照料中心", "kind": "elderly_day_care",
                              "village_code": "510923100201"}}
    EditService(live.engine).create(get_layer("facilities"), feature, parse_crs(CRS84_URI),
                                    Principal("li_editor", Role.EDITOR))
    changed = client.post(f"{run['href']}/rerun", headers=planner).json()
    assert changed["inputs_changed"] is True and list(changed["changed_layers"]) == ["facilities"]
    assert changed["outputs_equal"] is False


@pytest.mark.parametrize("model", ["mclp", "lscp", "pmedian", "pcenter", "capacitated"])
def test_placement_offers_every_model(client: httpx.Client, model: str) -> None:
    params: dict[str, str | int] = {"model": model, "new_sites": 2, "source": "all"}
    if model == "capacitated":
        params["capacity"] = 3000
    response = client.get("/analysis/placement", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == model and body["solver"]["model"].replace("-", "") == model
    if model != "lscp":
        assert len(body["new_sites"]) == 2
    assert body["share_after"] >= body["share_before"]
    run = client.get(body["run"]["href"]).json()
    assert run["parameters"]["model"] == model and run["solver"].startswith(body["solver"]["model"])
    sites = client.get(body["run"]["href"], params={"f": "geojson"}).json()["features"]
    assert [f["properties"]["code"] for f in sites] == [s["code"] for s in body["new_sites"]]


def test_capacitated_placement_needs_a_capacity(client: httpx.Client) -> None:
    response = client.get("/analysis/placement", params={"model": "capacitated"})
    assert response.status_code == 400 and "capacity" in response.json()["detail"]
