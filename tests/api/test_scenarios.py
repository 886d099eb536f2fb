"""Scenarios over real HTTP on both backends (demo town): rights, changes, evaluation, promotion, 409 when stale."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from gis_service.services.users import UserService
from tests.api.conftest import LiveServer

VILLAGE = "510923100201"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Keys:
    planner: str
    editor: str
    viewer: str


@pytest.fixture(scope="module")
def keys(live: LiveServer) -> Keys:
    users = UserService(live.engine)
    return Keys(planner=users.add("zhao_planner", "planner")[1], editor=users.add("li_editor", "editor")[1],
                viewer=users.add("wang_leader", "viewer")[1])


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _station(code: str, lon: float = 105.262, lat: float = 30.601) -> dict[str, Any]:
    return {"action": "add", "layer": "service_points", "feature": {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"code": code, "name": "新代办站", "kind": "agency_station", "village_code": VILLAGE}}}


def _scenario(http: httpx.Client, keys: Keys, name: str, *changes: dict[str, Any]) -> int:
    created = http.post("/scenarios", json={"name": name}, headers=_as(keys.planner))
    assert created.status_code == 201, created.text
    scenario_id = int(created.json()["id"])
    assert created.headers["Location"].endswith(f"/scenarios/{scenario_id}")
    for change in changes:
        response = http.post(f"/scenarios/{scenario_id}/changes", json=change, headers=_as(keys.planner))
        assert response.status_code == 201, response.text
    return scenario_id


def _base(live: LiveServer) -> tuple[list[Any], list[Any]]:
    with live.engine.connect() as conn:
        points = conn.execute(text("SELECT id, code, kind, village_code, updated_at FROM service_points "
                                   "ORDER BY id")).all()
        versions = conn.execute(text("SELECT layer, version FROM layer_versions ORDER BY layer")).all()
    return [tuple(r) for r in points], [tuple(r) for r in versions]


def test_planner_builds_and_evaluates_a_scenario_without_touching_the_base(
        http: httpx.Client, keys: Keys, live: LiveServer) -> None:
    before = _base(live)
    first = http.get("/collections/service_points/items", params={"limit": 1}).json()["features"][0]
    scenario_id = _scenario(http, keys, "API评估", _station("FW-API-1"),
                            {"action": "remove", "layer": "service_points", "code": first["properties"]["code"]})
    evaluated = http.post(f"/scenarios/{scenario_id}/evaluate", params={"standard": "agency_station"},
                          headers=_as(keys.planner))
    assert evaluated.status_code == 200, evaluated.text
    body = evaluated.json()
    (station,) = body["standards"]
    assert station["standard"]["key"] == "agency_station" and station["method"] == "network"
    assert len(station["villages"]) == 16 and len(body["one_plus_n"]) == 16
    assert station["town"]["before"]["demand"] == station["town"]["after"]["demand"]
    run = http.get(body["run"]["href"]).json()
    assert run["kind"] == "scenario" and run["inputs"]["scenario"]["id"] == scenario_id
    features = http.post(f"/scenarios/{scenario_id}/evaluate", params={"standard": "agency_station", "f": "geojson"},
                         headers=_as(keys.planner)).json()["features"]
    facilities = {f["properties"]["code"]: f["properties"]["action"] for f in features
                  if f["properties"]["kind"] == "facility"}
    assert facilities == {"FW-API-1": "add", first["properties"]["code"]: "remove"}
    shown = http.get(f"/scenarios/{scenario_id}").json()
    assert [c["action"] for c in shown["changes"]] == ["add", "remove"]
    assert any(s["id"] == scenario_id for s in http.get("/scenarios").json()["scenarios"])
    assert _base(live) == before


def test_rights(http: httpx.Client, keys: Keys) -> None:
    assert http.post("/scenarios", json={"name": "匿名"}).status_code == 401
    denied = http.post("/scenarios", json={"name": "领导"}, headers=_as(keys.viewer))
    assert denied.status_code == 403 and denied.headers["content-type"] == PROBLEM
    scenario_id = _scenario(http, keys, "权限", _station("FW-API-2"))
    assert http.post(f"/scenarios/{scenario_id}/evaluate", headers=_as(keys.viewer)).status_code == 403
    promote = http.post(f"/scenarios/{scenario_id}/promote", headers=_as(keys.planner))
    assert promote.status_code == 403 and "editor or admin" in promote.json()["detail"]
    assert http.get(f"/scenarios/{scenario_id}").status_code == 200  # reading is open to local clients


def test_bad_changes_are_problems_with_the_field(http: httpx.Client, keys: Keys) -> None:
    scenario_id = _scenario(http, keys, "坏数据")
    wrong = _station("FW-API-3")
    wrong["feature"]["properties"]["kind"] = "castle"
    response = http.post(f"/scenarios/{scenario_id}/changes", json=wrong, headers=_as(keys.planner))
    assert response.status_code == 422 and response.json()["problems"][0]["field"] == "类型"
    for body, status in (({"action": "fly", "layer": "service_points"}, 400),
                         ({"action": "remove", "layer": "roads", "code": "x"}, 400),
                         ({"action": "move", "layer": "service_points", "code": "NOPE",
                           "geometry": {"type": "Point", "coordinates": [105.26, 30.6]}}, 404)):
        answer = http.post(f"/scenarios/{scenario_id}/changes", json=body, headers=_as(keys.planner))
        assert answer.status_code == status and answer.headers["content-type"] == PROBLEM, answer.text
    assert http.post("/scenarios", json={"name": "坏数据"}, headers=_as(keys.planner)).status_code == 409
    assert http.get("/scenarios/does-not-exist").status_code == 404


def test_editor_promotes_into_the_base_with_history(http: httpx.Client, keys: Keys) -> None:
    scenario_id = _scenario(http, keys, "落地API", _station("FW-API-4"))
    promoted = http.post(f"/scenarios/{scenario_id}/promote", headers=_as(keys.editor))
    assert promoted.status_code == 200, promoted.text
    body = promoted.json()
    assert body["scenario"]["status"] == "promoted" and body["edits"][0]["code"] == "FW-API-4"
    feature_id = body["edits"][0]["feature_id"]
    history = http.get(f"/collections/service_points/items/{feature_id}/history").json()["versions"]
    assert [(v["action"], v["actor"]) for v in history] == [("create", "li_editor")]
    again = http.post(f"/scenarios/{scenario_id}/promote", headers=_as(keys.editor))
    assert again.status_code == 409
    late = http.post(f"/scenarios/{scenario_id}/changes", json=_station("FW-API-LATE"), headers=_as(keys.planner))
    assert late.status_code == 409 and "promoted" in late.json()["detail"]
    assert http.delete(f"/scenarios/{scenario_id}", headers=_as(keys.planner)).status_code == 409


def test_promotion_refuses_a_base_changed_under_the_scenario(http: httpx.Client, keys: Keys,
                                                            live: LiveServer) -> None:
    feature = http.get("/collections/service_points/items", params={"limit": 1, "offset": 5}).json()["features"][0]
    scenario_id = _scenario(http, keys, "过时API", _station("FW-API-5"), {
        "action": "move", "layer": "service_points", "code": feature["properties"]["code"],
        "geometry": {"type": "Point", "coordinates": [105.27, 30.61]}})
    patched = http.patch(f"/collections/service_points/items/{feature['id']}",
                         json={"properties": {"opening_hours": "9:00-17:00"}},
                         headers={**_as(keys.editor), "Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    assert [c["stale"] for c in http.get(f"/scenarios/{scenario_id}").json()["changes"]] == [False, True]
    before = _base(live)
    refused = http.post(f"/scenarios/{scenario_id}/promote", headers=_as(keys.editor))
    assert refused.status_code == 409 and refused.headers["content-type"] == PROBLEM
    assert _base(live) == before  # not even the addition was written
    assert http.delete(f"/scenarios/{scenario_id}", headers=_as(keys.planner)).status_code == 204
    assert http.get(f"/scenarios/{scenario_id}").status_code == 404


def test_two_adds_of_one_code_at_once_give_201_and_409(http: httpx.Client, keys: Keys, live: LiveServer) -> None:
    scenario_id = _scenario(http, keys, "并发API")

    def add() -> httpx.Response:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            return client.post(f"/scenarios/{scenario_id}/changes", json=_station("FW-API-RACE"),
                               headers=_as(keys.planner))

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: add(), range(2)))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.headers["content-type"] == PROBLEM and "FW-API-RACE" in refused.json()["detail"]
    with live.engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM scenario_changes WHERE scenario_id = :s"),
                            {"s": scenario_id}).scalar_one()
    assert rows == 1
    assert len(http.get(f"/scenarios/{scenario_id}").json()["changes"]) == 1


@pytest.mark.parametrize("ref", ["²", "%C2%B2", "12%C2%B2", "%EF%BC%91%EF%BC%92"])
def test_odd_digits_are_not_scenario_ids(http: httpx.Client, ref: str) -> None:
    answer = http.get(f"/scenarios/{ref}")
    assert answer.status_code == 404 and answer.headers["content-type"] == PROBLEM, answer.text
