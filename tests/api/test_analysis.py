"""Coverage and the 1+N diagnosis over HTTP, on both backends, against the analysis run on the demo files."""

from __future__ import annotations

import geopandas as gpd
import httpx
import pytest

from gis_service.analysis.coverage import FACILITY_THRESHOLDS, coverage
from gis_service.analysis.network import RoadNetwork
from tests.conftest import DEMO_DIR


def _demo(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO_DIR / f"{name}.geojson").to_crs(4544)


@pytest.mark.parametrize("standard", list(FACILITY_THRESHOLDS))
def test_coverage_matches_the_analysis_of_the_demo_files(client: httpx.Client, standard: str) -> None:
    """What the service reads from either database gives the very numbers the files give."""
    chosen = FACILITY_THRESHOLDS[standard]
    network = RoadNetwork.from_geodataframes(_demo("roads"), _demo("rivers"), _demo("bridges"))
    expected = coverage(_demo("settlements"), chosen.select(_demo(chosen.layer)), chosen, network=network)
    body = client.get("/analysis/coverage", params={"standard": standard}).json()
    assert body["method"] == "network" and body["standard"]["key"] == standard
    assert body["town"]["covered_demand"] == pytest.approx(expected.town.covered_demand)
    assert body["town"]["demand"] == expected.town.demand == _demo("settlements")[chosen.demand].sum()
    assert [v["share"] for v in body["villages"]] == pytest.approx([v.share for v in expected.villages])
    assert len(body["uncovered"]) == expected.town.uncovered_settlements


def test_geojson_settlements_agree_with_the_summary(client: httpx.Client) -> None:
    summary = client.get("/analysis/coverage", params={"standard": "agency_station"}).json()
    features = client.get("/analysis/coverage", params={"standard": "agency_station", "f": "geojson"}).json()[
        "features"]
    assert len(features) == summary["town"]["settlements"] == 792
    uncovered = {f["properties"]["code"] for f in features if not f["properties"]["covered"]}
    assert uncovered == {u["code"] for u in summary["uncovered"]}
    lon, lat = features[0]["geometry"]["coordinates"]
    assert 105 < lon < 106 and 30 < lat < 31  # CRS84: longitude first


def test_a_longer_reach_covers_at_least_as_many(client: httpx.Client) -> None:
    shares = [client.get("/analysis/coverage", params={"standard": "centre", "metres": m}).json()["town"]["share"]
              for m in (1000, 3000, 6000)]
    assert shares == sorted(shares) and shares[0] < shares[-1]
    straight = client.get("/analysis/coverage", params={"standard": "centre", "method": "straight"}).json()
    assert straight["method"] == "straight" and straight["town"]["share"] >= shares[1]  # roads only add distance


def test_one_plus_n_diagnoses_every_merged_village(client: httpx.Client) -> None:
    villages = client.get("/analysis/one-plus-n").json()["villages"]
    assert len(villages) == 16
    assert all(v["verdict"] == "adequate" or v["verdict"].startswith("needs") for v in villages)
    assert any(v["river_split"] for v in villages)


@pytest.mark.parametrize("params", [{"standard": "nope"}, {"standard": "centre", "metres": -5},
                                    {"standard": "centre", "metres": 100, "minutes": 5}, {"method": "fly"}])
def test_bad_analysis_requests_are_400(client: httpx.Client, params: dict[str, object]) -> None:
    response = client.get("/analysis/coverage", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_placement_fills_stations_from_idle_assets(client: httpx.Client) -> None:
    body = client.get("/analysis/placement", params={"new_sites": 3}).json()
    assert body["solver"]["status"] == "optimal" and body["method"] == "network"
    assert len(body["new_sites"]) == 3
    assert body["share_after"] > body["share_before"]
    coverage_now = client.get("/analysis/coverage", params={"standard": "agency_station"}).json()["town"]
    assert body["covered_before"] == pytest.approx(coverage_now["covered_demand"])  # the same network, same rule
    codes = [site["code"] for site in body["new_sites"]]
    assets = {f["properties"]["code"]: f["properties"] for f in client.get(
        "/collections/assets/items", params={"limit": 1000}).json()["features"]}
    assert all(assets[c]["use_status"] in ("idle", "partly_idle") for c in codes)
    more = client.get("/analysis/placement", params={"new_sites": 6}).json()
    assert more["covered_after"] >= body["covered_after"]  # an optimum with more sites covers no fewer people
