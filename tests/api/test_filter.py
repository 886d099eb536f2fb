"""CQL2 filtering (OGC API - Features Part 3) over real HTTP on both backends, checked against geopandas."""

from __future__ import annotations

import json

import httpx
import pytest
import shapely

from gis_service.services.layers import LayerService
from tests.api.conftest import LiveServer

CONFORMANCE = ("basic-cql2", "cql2-text", "cql2-json", "advanced-comparison-operators",
               "case-insensitive-comparison", "basic-spatial-operators")


def matched(client: httpx.Client, collection: str, text: str, **params: str) -> set[str]:
    response = client.get(f"/collections/{collection}/items", params={"filter": text, "limit": 10_000, **params})
    assert response.status_code == 200, response.text
    return {f["properties"]["code"] for f in response.json()["features"]}


def test_conformance_declares_what_qgis_needs(client: httpx.Client) -> None:
    classes = client.get("/conformance").json()["conformsTo"]
    for name in CONFORMANCE:
        assert f"http://www.opengis.net/spec/cql2/1.0/conf/{name}" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter" in classes


def test_queryables(client: httpx.Client) -> None:
    body = client.get("/collections/assets/queryables").json()
    assert body["properties"]["floor_area"]["type"] == "number"
    assert "idle" in body["properties"]["use_status"]["enum"]


def test_operators_match_geopandas(client: httpx.Client, live: LiveServer) -> None:
    assets = LayerService(live.engine).read("assets")
    codes = lambda mask: set(assets.loc[mask, "code"])  # noqa: E731
    area = assets["floor_area"]
    assert matched(client, "assets", "use_status = 'idle' AND floor_area > 100") == codes(
        (assets["use_status"] == "idle") & (area > 100))
    assert matched(client, "assets", "use_status = '闲置'") == codes(assets["use_status"] == "idle")
    assert matched(client, "assets", "floor_area BETWEEN 100 AND 300") == codes(area.between(100, 300))
    assert matched(client, "assets", "category IN ('school', 'clinic')") == codes(
        assets["category"].isin(["school", "clinic"]))
    assert matched(client, "assets", "name LIKE '%村委会%'") == codes(assets["name"].str.contains("村委会"))
    assert matched(client, "assets", "NOT (use_status = 'idle') OR owner_unit IS NULL") == codes(
        (assets["use_status"] != "idle") | assets["owner_unit"].isna())


def test_case_insensitive_comparison(client: httpx.Client, live: LiveServer) -> None:
    code = LayerService(live.engine).read("assets")["code"].iloc[0]
    assert code != code.lower()
    assert matched(client, "assets", f"code = '{code.lower()}'") == set()
    assert matched(client, "assets", f"code LIKE '{code.lower()}'") == set()  # LIKE is case-sensitive on both
    assert matched(client, "assets", f"CASEI(code) = CASEI('{code.lower()}')") == {code}
    assert matched(client, "assets", f"CASEI(code) LIKE CASEI('{code.lower()}')") == {code}


@pytest.mark.parametrize("op", ["S_INTERSECTS", "S_WITHIN", "S_DISJOINT"])
def test_spatial_operators_match_shapely(client: httpx.Client, live: LiveServer, op: str) -> None:
    settlements = LayerService(live.engine).read("settlements")
    minx, miny, maxx, maxy = settlements.total_bounds
    box = shapely.box(minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    predicate = {"S_INTERSECTS": settlements.intersects, "S_WITHIN": settlements.within,
                 "S_DISJOINT": settlements.disjoint}[op]
    expected = set(settlements.loc[predicate(box), "code"])
    assert expected
    assert matched(client, "settlements", f"{op}(geom, {box.wkt})") == expected
    as_json = json.dumps({"op": op.lower(), "args": [{"property": "geom"}, shapely.geometry.mapping(box)]})
    assert matched(client, "settlements", as_json, **{"filter-lang": "cql2-json"}) == expected


def test_filter_crs_in_gauss_kruger(client: httpx.Client) -> None:
    inside = matched(client, "villages", "S_INTERSECTS(geom, POINT(3385000 524000))",
                     **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4544"})
    assert len(inside) == 1  # northing, easting: the village under that point


@pytest.mark.parametrize(
    "text",
    ["nosuch = 1", "floor_area = 'abc'", "garbage ((", "population + 1 = 2", "S_INTERSECTS(name, POINT(1 2))"],
)
def test_bad_filters_are_400(client: httpx.Client, text: str) -> None:
    response = client.get("/collections/assets/items", params={"filter": text})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
