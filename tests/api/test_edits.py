"""OGC API - Features Part 4 over real HTTP on both backends: keys and roles, If-Match, validation, history."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import text

from gis_service.api import create_app
from gis_service.services.users import UserService
from tests.api.conftest import LiveServer, serving, settings_for

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
GEOJSON = {"Content-Type": "application/geo+json"}
VILLAGE = "510923100201"


@dataclass(frozen=True)
class Keys:
    admin: str
    editor: str
    viewer: str
    planner: str
    village_editor: str


@pytest.fixture(scope="module")
def keys(live: LiveServer) -> Keys:
    users = UserService(live.engine)
    return Keys(
        admin=users.add("zhang_admin", "admin")[1], editor=users.add("li_editor", "editor")[1],
        viewer=users.add("wang_leader", "viewer")[1], planner=users.add("zhao_planner", "planner")[1],
        village_editor=users.add("chen_cadre", "editor", [VILLAGE])[1],
    )


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def _as(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **GEOJSON, **headers}


def _asset(code: str, lon: float = 105.25, lat: float = 30.60, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"code": code, "name": "原村委会办公楼", "ownership": "村集体",
                           "asset_class": "non_operating", "category": "office", "use_status": "闲置", **properties}}


def _create(http: httpx.Client, key: str, feature: dict[str, Any], layer: str = "assets") -> httpx.Response:
    response = http.post(f"/collections/{layer}/items", json=feature, headers=_as(key))
    assert response.status_code == 201, response.text
    return response


def test_create_returns_location_etag_and_the_stored_feature(http: httpx.Client, keys: Keys) -> None:
    created = _create(http, keys.editor, _asset("T-CREATE", floor_area=320.5))
    location = created.headers["Location"]
    read = http.get(location)
    assert read.status_code == 200
    assert read.headers["ETag"] == created.headers["ETag"]
    body = read.json()
    assert body["properties"]["ownership"] == "village_collective"  # the label became the code
    assert body["properties"]["floor_area"] == 320.5
    assert body["geometry"]["coordinates"] == pytest.approx([105.25, 30.60])


def test_body_in_gauss_kruger_with_content_crs(http: httpx.Client, keys: Keys) -> None:
    easting, northing = Transformer.from_crs(4490, 4544, always_xy=True).transform(105.26, 30.61)
    feature = _asset("T-4544")
    feature["geometry"]["coordinates"] = [northing, easting]  # EPSG:4544 axis order: northing first
    response = http.post("/collections/assets/items", json=feature,
                         headers=_as(keys.editor, **{"Content-Crs": f"<{EPSG}4544>"}))
    assert response.status_code == 201, response.text
    assert response.json()["geometry"]["coordinates"] == pytest.approx([105.26, 30.61], abs=1e-8)


def test_anonymous_and_read_only_roles_cannot_write(http: httpx.Client, keys: Keys) -> None:
    anonymous = http.post("/collections/assets/items", json=_asset("T-ANON"), headers=GEOJSON)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    for key in (keys.viewer, keys.planner):
        refused = http.post("/collections/assets/items", json=_asset("T-VIEW"), headers=_as(key))
        assert refused.status_code == 403
        assert "editor or admin" in refused.json()["detail"]
    assert http.delete("/collections/assets/items/1", headers=_as(keys.viewer)).status_code == 403
    assert http.get("/collections/assets/items", params={"code": "T-VIEW"}).json()["numberMatched"] == 0


def test_unknown_key_is_401(http: httpx.Client) -> None:
    response = http.post("/collections/assets/items", json=_asset("T-BADKEY"), headers=_as("gs_not-a-key"))
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is not valid"


def test_stale_if_match_is_refused_and_current_one_applies(http: httpx.Client, keys: Keys) -> None:
    location = _create(http, keys.editor, _asset("T-ETAG")).headers["Location"]
    first = http.get(location).headers["ETag"]
    merge_patch = {"If-Match": first, "Content-Type": "application/merge-patch+json"}
    patched = http.patch(location, json={"properties": {"use_status": "leased", "floor_area": 88}},
                         headers=_as(keys.editor, **merge_patch))
    assert patched.status_code == 200, patched.text
    assert patched.json()["properties"]["use_status"] == "leased"
    assert patched.json()["properties"]["name"] == "原村委会办公楼"  # untouched by the merge patch
    in_use = _asset("T-ETAG", use_status="在用")
    stale = http.put(location, json=in_use, headers=_as(keys.editor, **{"If-Match": first}))
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert http.get(location).json()["properties"]["use_status"] == "leased"
    current = http.get(location).headers["ETag"]
    replaced = http.put(location, json=in_use, headers=_as(keys.editor, **{"If-Match": current}))
    assert replaced.status_code == 200
    assert replaced.json()["properties"]["floor_area"] is None  # PUT replaces every field


def test_patch_null_clears_a_field(http: httpx.Client, keys: Keys) -> None:
    location = _create(http, keys.editor, _asset("T-NULL", owner_unit="某村股份经济合作联合社")).headers["Location"]
    cleared = http.patch(location, json={"properties": {"owner_unit": None}}, headers=_as(keys.editor))
    assert cleared.json()["properties"]["owner_unit"] is None


@pytest.mark.parametrize(("feature", "field", "words"), [
    (_asset("T-BAD1", use_status="坏了"), "使用状态", "is not one of"),
    (_asset("T-BAD2", floor_area=-3), "建筑面积(㎡)", "below the minimum"),
    (_asset("T-BAD3", colour="red"), "colour", "not a field of assets"),
    ({**_asset("T-BAD4"), "geometry": {"type": "LineString", "coordinates": [[105.2, 30.5], [105.3, 30.6]]}},
     "geom", "expected Point"),
    (_asset("T-BAD5", lon=30.6, lat=105.25), "geom", "swapped"),
    (_asset("T-BAD6", name=None), "资产名称", "required value is empty"),
])
def test_invalid_features_are_422_with_the_field(http: httpx.Client, keys: Keys, feature: dict[str, Any],
                                                 field: str, words: str) -> None:
    response = http.post("/collections/assets/items", json=feature, headers=_as(keys.editor))
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert any(p["field"] == field and words in p["message"] for p in problems), problems
    stored = http.get("/collections/assets/items", params={"code": feature["properties"]["code"]})
    assert stored.json()["numberMatched"] == 0


def test_duplicate_code_is_refused(http: httpx.Client, keys: Keys) -> None:
    _create(http, keys.editor, _asset("T-DUP"))
    again = http.post("/collections/assets/items", json=_asset("T-DUP"), headers=_as(keys.editor))
    assert again.status_code == 422
    assert "already exists" in again.text


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/geo+json", 400),
    (b'{"type": "FeatureCollection", "features": []}', "application/geo+json", 400),
    (b"<xml/>", "application/xml", 415),
    (b'{"type": "Feature", "geometry": {"type": "Point", "coordinates": "x"}, "properties": {}}',
     "application/geo+json", 422),
])
def test_malformed_bodies_are_client_errors(http: httpx.Client, keys: Keys, body: bytes, content_type: str,
                                            status: int) -> None:
    response = http.post("/collections/assets/items", content=body,
                         headers={"Authorization": f"Bearer {keys.editor}", "Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_delete_history_and_restore_brings_the_feature_back(http: httpx.Client, keys: Keys) -> None:
    location = _create(http, keys.editor, _asset("T-GONE", floor_area=55.0)).headers["Location"]
    original = http.get(location).json()
    http.patch(location, json={"properties": {"use_status": "leased"}}, headers=_as(keys.admin))
    deleted = http.delete(location, headers=_as(keys.editor, **{"If-Match": http.get(location).headers["ETag"]}))
    assert deleted.status_code == 204
    assert http.get(location).status_code == 404
    history = http.get(f"{location}/history").json()["versions"]
    assert [(v["version"], v["action"], v["actor"]) for v in history] == [
        (1, "create", "li_editor"), (2, "update", "zhang_admin"), (3, "delete", "li_editor")]
    assert history[2]["after"] is None and history[2]["before"]["properties"]["use_status"] == "leased"
    deletions = http.get("/collections/assets/history", params={"action": "delete"}).json()["changes"]
    assert any(c["featureId"] == original["id"] for c in deletions)
    restored = http.post(f"{location}/history/1/restore", headers=_as(keys.editor))
    assert restored.status_code == 200, restored.text
    back = http.get(location)
    assert back.status_code == 200
    assert back.json()["properties"] == original["properties"]
    assert back.json()["geometry"]["coordinates"] == pytest.approx(original["geometry"]["coordinates"])
    assert http.get(f"{location}/history").json()["versions"][-1]["action"] == "restore"


def test_restore_of_a_deletion_version_is_a_conflict(http: httpx.Client, keys: Keys) -> None:
    location = _create(http, keys.editor, _asset("T-CONFLICT")).headers["Location"]
    http.delete(location, headers=_as(keys.editor))
    response = http.post(f"{location}/history/2/restore", headers=_as(keys.editor))
    assert response.status_code == 409
    assert http.post(f"{location}/history/9/restore", headers=_as(keys.editor)).status_code == 404


def test_deleted_ids_are_never_reused(http: httpx.Client, keys: Keys) -> None:
    first = _create(http, keys.editor, _asset("T-ID1")).json()["id"]
    http.delete(f"/collections/assets/items/{first}", headers=_as(keys.editor))
    second = _create(http, keys.editor, _asset("T-ID2")).json()["id"]
    assert second > first
    restored = http.post(f"/collections/assets/items/{first}/history/1/restore", headers=_as(keys.editor))
    assert restored.status_code == 200


def test_village_editor_edits_only_inside_the_village(http: httpx.Client, keys: Keys, live: LiveServer) -> None:
    village = shape(http.get("/collections/villages/items", params={"code": VILLAGE}).json()["features"][0]["geometry"])
    inside, outside = _settlement_in(http, VILLAGE), _settlement_in(http, "510923100202")
    ok = http.patch(f"/collections/settlements/items/{inside}", json={"properties": {"population": 77}},
                    headers=_as(keys.village_editor))
    assert ok.status_code == 200, ok.text
    refused = http.patch(f"/collections/settlements/items/{outside}", json={"properties": {"population": 77}},
                         headers=_as(keys.village_editor))
    assert refused.status_code == 403 and VILLAGE in refused.json()["detail"]
    far = shapely.Point(village.bounds[2] + 0.05, village.bounds[3] + 0.05)
    moved = http.patch(f"/collections/settlements/items/{inside}", json={"geometry": shapely.geometry.mapping(far)},
                       headers=_as(keys.village_editor))
    assert moved.status_code == 403
    boundary = http.delete("/collections/villages/items/1", headers=_as(keys.village_editor))
    assert boundary.status_code == 403
    point = village.representative_point()
    created = http.post("/collections/assets/items", json=_asset("T-CADRE", lon=point.x, lat=point.y),
                        headers=_as(keys.village_editor))
    assert created.status_code == 201, created.text
    assert http.post("/collections/assets/items", json=_asset("T-CADRE2", lon=far.x, lat=far.y),
                     headers=_as(keys.village_editor)).status_code == 403


def _settlement_in(http: httpx.Client, village: str) -> int:
    body = http.get("/collections/settlements/items", params={"village_code": village, "limit": 1}).json()
    return int(body["features"][0]["id"])


def test_options_allow_follows_the_caller(http: httpx.Client, keys: Keys) -> None:
    anonymous = http.options("/collections/assets/items")
    assert anonymous.headers["Allow"] == "GET, OPTIONS"
    editor = http.options("/collections/assets/items", headers=_as(keys.editor))
    assert "POST" in editor.headers["Allow"]
    item = http.options("/collections/assets/items/1", headers=_as(keys.admin))
    assert {"PUT", "PATCH", "DELETE"} <= set(item.headers["Allow"].split(", "))
    cadre = http.options("/collections/villages/items/1", headers=_as(keys.village_editor))
    assert "PUT" not in cadre.headers["Allow"]


def test_pages_are_never_stale_after_an_edit_or_a_direct_database_write(http: httpx.Client, keys: Keys,
                                                                        live: LiveServer) -> None:
    location = _create(http, keys.editor, _asset("T-CACHE")).headers["Location"]

    def status() -> str:
        page = http.get("/collections/assets/items", params={"code": "T-CACHE"}).json()
        return str(page["features"][0]["properties"]["use_status"])

    assert status() == "idle"
    http.patch(location, json={"properties": {"use_status": "in_use"}}, headers=_as(keys.editor))
    assert status() == "in_use"
    with live.engine.begin() as conn:  # as a desktop GIS writing to the database would
        conn.execute(text("UPDATE assets SET use_status = 'leased' WHERE code = 'T-CACHE'"))
    assert status() == "leased"


def test_reads_can_require_a_key_and_edits_can_require_if_match(live: LiveServer, keys: Keys) -> None:
    app = create_app(settings_for(live.engine, read_access="key", require_if_match=True), engine=live.engine)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/collections/assets/items").status_code == 401
        assert http.get("/collections/assets/items", headers=_as(keys.viewer)).status_code == 200
        response = http.patch("/collections/assets/items/1", json={"properties": {}}, headers=_as(keys.editor))
        assert response.status_code == 428


def test_repeated_bad_keys_are_rate_limited(live: LiveServer, keys: Keys) -> None:
    app = create_app(settings_for(live.engine, auth_failures_allowed=3), engine=live.engine)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        responses = [http.get("/collections", headers=_as(f"gs_guess{i}")) for i in range(4)]
        assert [r.status_code for r in responses] == [401, 401, 401, 429]
        assert int(responses[-1].headers["Retry-After"]) > 0
        # A valid key from the same address still works: one stale key must not lock out an office.
        assert http.get("/collections", headers=_as(keys.viewer)).status_code == 200


def test_control_characters_in_a_code_are_a_clear_422(http: httpx.Client, keys: Keys) -> None:
    """The fuzzer's find: a NUL in the code reached the duplicate-code query and PostgreSQL refused it (500)."""
    response = http.post("/collections/assets/items", json=_asset("A\x00B"), headers=_as(keys.editor))
    assert response.status_code == 422
    assert "control characters" in response.text


def test_village_editor_cannot_draw_a_footprint_outside_the_village(http: httpx.Client, keys: Keys) -> None:
    village = shape(http.get("/collections/villages/items", params={"code": VILLAGE}).json()["features"][0]["geometry"])
    point = village.representative_point()
    x0, y0 = village.bounds[2] + 0.01, village.bounds[3] + 0.01
    footprint = shapely.geometry.mapping(shapely.box(x0, y0, x0 + 0.001, y0 + 0.001))
    feature = _asset("T-FOOTPRINT", lon=point.x, lat=point.y, footprint=footprint)
    assert http.post("/collections/assets/items", json=feature, headers=_as(keys.village_editor)).status_code == 403


def test_village_editor_cannot_move_a_feature_to_another_village_by_its_code(http: httpx.Client, keys: Keys) -> None:
    inside = _settlement_in(http, VILLAGE)
    response = http.patch(f"/collections/settlements/items/{inside}", json={"properties": {
        "village_code": "510923100212"}}, headers=_as(keys.village_editor))
    assert response.status_code == 403 and "510923100212" in response.json()["detail"]


def test_a_patch_that_changes_nothing_writes_nothing(http: httpx.Client, keys: Keys) -> None:
    """Nor does a Content-Crs round trip move a geometry the patch does not name."""
    before = http.get("/collections/roads/items/5")
    versions = http.get("/collections/roads/items/5/history")
    gk = {"Content-Crs": f"<{EPSG}4544>", "Content-Type": "application/merge-patch+json"}
    response = http.patch("/collections/roads/items/5", json={"properties": {}}, headers=_as(keys.admin, **gk))
    assert response.status_code == 200
    after = http.get("/collections/roads/items/5")
    assert after.json()["geometry"] == before.json()["geometry"]
    assert after.headers["ETag"] == before.headers["ETag"] == response.headers["ETag"]
    assert http.get("/collections/roads/items/5/history").json() == versions.json()


def test_anonymous_bodies_are_refused_before_they_are_read(http: httpx.Client) -> None:
    response = http.post("/collections/assets/items", content=b"x" * 100_000, headers={"Content-Type": "text/plain"})
    assert response.status_code == 401  # not 415: nothing about the body was looked at


def test_restore_honours_if_match(http: httpx.Client, keys: Keys) -> None:
    location = _create(http, keys.editor, _asset("T-RESTORE-ETAG")).headers["Location"]
    stale = http.get(location).headers["ETag"]
    http.patch(location, json={"properties": {"use_status": "leased"}}, headers=_as(keys.editor))
    refused = http.post(f"{location}/history/1/restore", headers=_as(keys.editor, **{"If-Match": stale}))
    assert refused.status_code == 412


def test_if_none_match_compares_weakly_and_knows_star(http: httpx.Client) -> None:
    tag = http.get("/collections/assets/items/2").headers["ETag"]
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        assert http.get("/collections/assets/items/2", headers={"If-None-Match": header}).status_code == 304
    assert http.get("/collections/assets/items/2", headers={"If-None-Match": '"other"'}).status_code == 200


def test_concurrent_creates_with_one_code_give_one_feature_and_clear_refusals(http: httpx.Client, keys: Keys,
                                                                               live: LiveServer) -> None:
    def create(_: int) -> int:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            return client.post("/collections/assets/items", json=_asset("T-RACE"), headers=_as(keys.editor)).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(pool.map(create, range(6)))
    assert codes == [201, 422, 422, 422, 422, 422]
