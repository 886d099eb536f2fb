"""The synthetic demo town: geometry, consistency and determinism of ``gis_service.demo.generator``.

Works on the generated frames (no database). Areas and distances are checked in EPSG:4544 metres.
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis_service.analysis.planning_conformance import conformance
from gis_service.analysis.planning_overlay import overlay_zones
from gis_service.db.models import Base
from gis_service.demo.generator import LAYERS, TOWN_AREA_M2, TOWN_POPULATION, DemoTown, build, generate, write_demo
from gis_service.layers.codelists import CODELISTS

ROOT = Path(__file__).resolve().parents[2]
METRIC = 4544
GEOMETRY_TYPES = {
    "villages": "MultiPolygon", "former_villages": "MultiPolygon", "planning_zones": "MultiPolygon",
    "roads": "MultiLineString", "rivers": "MultiLineString",
}
VILLAGE_CODE = re.compile(r"^510923100\d{3}$")


@pytest.fixture(scope="module")
def town() -> DemoTown:
    return build()


@pytest.fixture(scope="module")
def layers(town: DemoTown) -> dict[str, gpd.GeoDataFrame]:
    return town.layers


@pytest.fixture(scope="module")
def metric(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    return {name: frame.to_crs(METRIC) for name, frame in layers.items()}


def _model_columns(table: str) -> list[str]:
    names = [c.name for c in Base.metadata.tables[table].columns if c.name not in ("id", "created_at", "updated_at")]
    return ["geometry" if n == "geom" else n for n in names]


def _codelist_columns(table: str) -> dict[str, str]:
    return {c.name: c.info["field"].codelist for c in Base.metadata.tables[table].columns
            if "field" in c.info and c.info["field"].codelist}


# ------------------------------------------------------------------------------------------ schema
def test_every_layer_has_the_model_columns_crs_and_geometry_type(layers: dict[str, gpd.GeoDataFrame]) -> None:
    assert tuple(layers) == LAYERS
    for table, frame in layers.items():
        assert list(frame.columns) == _model_columns(table), table
        assert frame.crs.to_epsg() == 4490, table
        assert set(frame.geom_type) == {GEOMETRY_TYPES.get(table, "Point")}, table
        assert frame.geometry.is_valid.all(), table
        assert len(frame) > 0, table


def test_codes_and_names_are_present_unique_and_valid(layers: dict[str, gpd.GeoDataFrame]) -> None:
    for table, frame in layers.items():
        assert frame["code"].notna().all() and frame["code"].is_unique, table
        assert frame["name"].notna().all() and (frame["name"].str.len() > 0).all(), table
        for column, codelist in _codelist_columns(table).items():
            assert set(frame[column].dropna()) <= set(CODELISTS[codelist]), (table, column)
        for column in ("village_code", "former_village_code", "merged_into"):
            if column in frame:
                assert frame[column].dropna().str.fullmatch(VILLAGE_CODE).all(), (table, column)
    villages = layers["villages"]
    assert villages["code"].str.fullmatch(VILLAGE_CODE).all()
    number = villages["code"].str[-3:].astype(int)
    assert ((villages["kind"] == "community") == (number < 200)).all()
    assert layers["former_villages"]["code"].str[-3:].astype(int).between(200, 399).all()


def test_footprints_are_wkt_in_storage_crs_matching_land_area(layers: dict[str, gpd.GeoDataFrame]) -> None:
    assets = layers["assets"]
    resource = assets["asset_class"] == "resource"
    assert assets.loc[resource, "footprint"].notna().all()
    assert assets.loc[~resource, "footprint"].isna().all()
    shapes = gpd.GeoSeries.from_wkt(assets.loc[resource, "footprint"], crs=4490)
    assert shapes.is_valid.all() and (shapes.geom_type == "MultiPolygon").all()
    assert shapes.contains(assets.loc[resource].geometry).all()
    area = shapes.to_crs(METRIC).area
    assert np.allclose(area, assets.loc[resource, "land_area"], rtol=1e-3, atol=1.0)


# ------------------------------------------------------------------------------- administrative
def test_villages_tile_the_town_without_gaps_or_overlaps(metric: dict[str, gpd.GeoDataFrame]) -> None:
    villages = metric["villages"]
    union = shapely.union_all(villages.geometry.values)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0
    assert abs(union.area - TOWN_AREA_M2) / TOWN_AREA_M2 < 1e-4
    assert abs(villages.area.sum() - union.area) / union.area < 1e-4
    for a, b in combinations(villages.geometry.values, 2):
        assert a.intersection(b).area < 1.0
    assert (villages["kind"] == "community").sum() == 4
    assert 12 <= (villages["kind"] == "village").sum() <= 16


def test_former_villages_nest_in_the_village_they_merged_into(metric: dict[str, gpd.GeoDataFrame]) -> None:
    villages = metric["villages"].set_index("code")
    former = metric["former_villages"]
    assert 26 <= len(former) <= 30
    assert set(former["merged_into"]) == set(villages.index[villages["kind"] == "village"])
    for _, row in former.iterrows():
        host = villages.loc[row["merged_into"]].geometry
        assert row.geometry.intersection(host).area / row.geometry.area > 0.9999, row["code"]
    rural = shapely.union_all(villages.geometry[villages["kind"] == "village"].values)
    assert abs(shapely.union_all(former.geometry.values).area - rural.area) / rural.area < 1e-4
    assert former.groupby("merged_into").size().between(2, 3).all()
    assert former["dissolved_on"].map(lambda d: d.year == 2020).all()


# ------------------------------------------------------------------------------------------- people
def test_settlements_lie_in_their_village_and_former_village(metric: dict[str, gpd.GeoDataFrame]) -> None:
    settlements = metric["settlements"]
    assert 600 <= len(settlements) <= 1000
    for table, column in (("villages", "village_code"), ("former_villages", "former_village_code")):
        joined = gpd.sjoin(settlements, metric[table][["code", "geometry"]], predicate="within", how="left")
        rows = joined[joined[column].notna()]
        assert (rows[column] == rows["code_right"]).all(), table
    community = settlements["former_village_code"].isna()
    codes = metric["villages"].set_index("code")["kind"]
    assert (codes[settlements.loc[community, "village_code"]] == "community").all()


def test_population_adds_up_and_looks_like_rural_sichuan(layers: dict[str, gpd.GeoDataFrame],
                                                         metric: dict[str, gpd.GeoDataFrame]) -> None:
    s = layers["settlements"]
    total = int(s["population"].sum())
    assert total == TOWN_POPULATION
    assert 0.20 <= s["elderly"].sum() / total <= 0.28
    assert 0.12 <= s["children"].sum() / total <= 0.16
    villages = layers["villages"].set_index("code")
    by_village = s.groupby("village_code")[["population", "households"]].sum()
    assert (by_village["population"] == villages.loc[by_village.index, "population"]).all()
    assert (by_village["households"] == villages.loc[by_village.index, "households"]).all()
    ratio = villages["population"] / villages["households"]
    assert ratio.between(2.6, 3.0).all()
    former = layers["former_villages"].set_index("code")
    by_former = s.groupby("former_village_code")["population"].sum()
    assert (by_former == former.loc[by_former.index, "population"]).all()
    v = metric["villages"]
    density = v["population"] / v.area
    assert density[v["kind"] == "community"].mean() > 3 * density[v["kind"] == "village"].mean()


def test_most_settlements_are_near_a_road(metric: dict[str, gpd.GeoDataFrame]) -> None:
    roads = shapely.union_all(metric["roads"].geometry.values)
    near = metric["settlements"].distance(roads) <= 300.0
    assert near.mean() >= 0.8


# ------------------------------------------------------------------------------------------ water
def test_roads_cross_rivers_only_on_bridges(metric: dict[str, gpd.GeoDataFrame]) -> None:
    bridges = metric["bridges"]
    crossings = 0
    for _, river in metric["rivers"].iterrows():
        for _, road in metric["roads"].iterrows():
            meeting = road.geometry.intersection(river.geometry)
            for p in [] if meeting.is_empty else shapely.get_parts(meeting):
                crossings += 1
                dist = bridges.distance(p)
                k = dist.idxmin()
                assert dist[k] <= 15.0, (road["code"], river["code"], p)
                assert bridges.loc[k, "river_code"] == river["code"]
                assert bridges.loc[k, "road_code"] == road["code"]
    assert crossings == len(bridges)
    main = bridges[bridges["river_code"] == metric["rivers"].iloc[0]["code"]]
    assert 3 <= len(main) <= 5 and (main["kind"] == "foot").sum() == 1
    assert 30 <= metric["rivers"].iloc[0]["width_m"] <= 60


def test_no_asset_stands_in_or_by_the_river(metric: dict[str, gpd.GeoDataFrame]) -> None:
    assets = metric["assets"]
    for _, river in metric["rivers"].iterrows():
        assert (assets.distance(river.geometry) > river["width_m"] / 2 + 20.0).all(), river["code"]
    town = shapely.union_all(metric["villages"].geometry.values)
    assert assets.within(town).all()


def test_the_river_splits_at_least_two_merged_villages(metric: dict[str, gpd.GeoDataFrame]) -> None:
    water = shapely.union_all(metric["rivers"].geometry.values).buffer(1.0)
    settlements = metric["settlements"]
    split = 0
    for _, village in metric["villages"][metric["villages"]["kind"] == "village"].iterrows():
        people = settlements[settlements["village_code"] == village["code"]]
        sides = [p for p in shapely.get_parts(village.geometry.difference(water)) if p.area > 1e4]
        populated = [people[people.within(side)]["population"].sum() for side in sides]
        split += sum(p >= 100 for p in populated) >= 2
    assert split >= 2


# ------------------------------------------------------------------------------------------- roads
def test_roads_form_one_network_meeting_end_to_end(layers: dict[str, gpd.GeoDataFrame]) -> None:
    roads = layers["roads"]
    parts = [p for g in roads.geometry for p in shapely.get_parts(g)]
    ends = [(tuple(p.coords[0]), tuple(p.coords[-1])) for p in parts]
    index = {xy: k for k, xy in enumerate(sorted({xy for pair in ends for xy in pair}))}
    parent = list(range(len(index)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in ends:
        parent[find(index[a])] = find(index[b])
    assert len({find(i) for i in range(len(index))}) == 1
    # Roads touch only at shared line ends: no crossings without a junction.
    tree = shapely.STRtree(parts)
    endpoints = set(index)
    for i, j in zip(*tree.query(parts, predicate="intersects"), strict=True):
        if i < j:
            for xy in shapely.get_coordinates(parts[i].intersection(parts[j])):
                assert tuple(xy) in endpoints
    speeds = roads.set_index("road_class")
    assert speeds["walk_speed_kmh"].between(3.5, 5.0).all()
    assert set(roads["road_class"]) == {"county", "township", "village", "track"}


# --------------------------------------------------------------------------------- assets, services
def test_assets_cover_every_category_and_locate_correctly(metric: dict[str, gpd.GeoDataFrame], town: DemoTown) -> None:
    assets = metric["assets"]
    assets = assets[~assets["code"].isin(town.ledger.planted["wrong_village"])]  # recorded in the wrong village
    assert 250 <= len(assets) <= 350
    assert set(assets["category"]) == set(CODELISTS["asset_category"])
    assert set(assets["ownership"]) == set(CODELISTS["ownership"])
    town = assets["ownership"] == "town_state"
    assert assets.loc[town, "code"].str.fullmatch(r"GY510923100-\d{3}").all()
    assert assets.loc[~town, "code"].str.fullmatch(r"JT510923100\d{3}-\d{3}").all()
    assert (assets.loc[~town, "code"].str[2:14] == assets.loc[~town, "village_code"]).all()
    joined = gpd.sjoin(assets, metric["former_villages"][["code", "geometry"]], predicate="within", how="left")
    assert (joined["former_village_code"].fillna("") == joined["code_right"].fillna("")).all()
    joined = gpd.sjoin(assets, metric["villages"][["code", "geometry"]], predicate="within")
    assert (joined["village_code"] == joined["code_right"]).all() and len(joined) == len(assets)
    offices = assets[assets["category"] == "village_office"]
    assert len(offices) == len(metric["former_villages"]) + 4
    centres = set(metric["service_points"].loc[metric["service_points"]["kind"] == "centre", "host_asset_code"])
    left_behind = offices[~offices["code"].isin(centres)]
    assert left_behind["use_status"].isin(["idle", "partly_idle"]).mean() >= 0.6


def test_service_points_one_centre_per_village_and_some_gaps(layers: dict[str, gpd.GeoDataFrame]) -> None:
    points = layers["service_points"]
    assets = layers["assets"].set_index("code")
    villages = layers["villages"]
    centres = points[points["kind"] == "centre"]
    assert sorted(centres["village_code"]) == sorted(villages["code"])
    hosts = assets.loc[centres["host_asset_code"]]
    assert (hosts["category"] == "village_office").all() and (hosts["use_status"] == "in_use").all()
    stations = points[points["kind"] == "agency_station"]
    assert len(stations) >= 3
    hosted = stations["host_asset_code"].dropna()
    assert (assets.loc[hosted, "use_status"] != "idle").all()
    former = layers["former_villages"]
    big = former.groupby("merged_into").size()
    lacking = set(big[big >= 3].index) - set(stations["village_code"])
    assert lacking or len(set(villages["code"]) - set(stations["village_code"])) >= 2


def test_schools_and_facilities(layers: dict[str, gpd.GeoDataFrame], metric: dict[str, gpd.GeoDataFrame]) -> None:
    schools = metric["schools"]
    assert {"kindergarten", "primary", "junior"} <= set(schools.loc[schools["status"] == "open", "level"])
    closed = schools[schools["status"] != "open"]
    assert len(closed) >= 4 and (closed["enrolment"] == 0).all()
    buildings = metric["assets"][metric["assets"]["category"] == "school"]
    assert len(buildings) == len(closed)
    assert (closed.geometry.apply(lambda p: buildings.distance(p).min()) < 1.0).all()
    open_ = schools[schools["status"] == "open"]
    assert (open_["enrolment"] <= open_["capacity"]).all()
    kinds = layers["facilities"]["kind"].value_counts()
    assert kinds["health_centre"] == 1 and kinds["nursing_home"] == 1
    rural = (layers["villages"]["kind"] == "village").sum()
    assert 2 <= kinds["elderly_day_care"] <= 4 and rural - 2 <= kinds["village_clinic"] < rural


# --------------------------------------------------------------------------------------- planning
def test_planning_zones_do_not_overlap(metric: dict[str, gpd.GeoDataFrame]) -> None:
    zones = metric["planning_zones"]
    assert set(zones["zone_type"]) == set(CODELISTS["zone_type"])
    geoms = zones.geometry.values
    tree = shapely.STRtree(geoms)
    types = zones["zone_type"].to_numpy()
    for i, j in zip(*tree.query(geoms, predicate="intersects"), strict=True):
        if i < j and types[i] == types[j]:
            assert geoms[i].intersection(geoms[j]).area < 1.0, (zones.iloc[i]["code"], zones.iloc[j]["code"])
    farmland = shapely.union_all(geoms[np.isin(types, ["permanent_farmland", "general_farmland"])])
    for other in ("development_boundary", "village_construction"):
        assert farmland.intersection(shapely.union_all(geoms[types == other])).area < 1.0, other
    assert zones["plan_name"].eq("蓬莱镇国土空间总体规划(2021-2035年)").all()
    share = zones[zones["zone_type"] == "permanent_farmland"].area.sum() / TOWN_AREA_M2
    assert share > 0.3


# Land uses (用地用海分类, 2023) a building or resource of each category may stand on.
FITTING_LAND_USE = {
    "village_office": {"0704", "0702"}, "culture_room": {"0704", "0803"}, "clinic": {"0806"},
    "school": {"0804"}, "nursing_home": {"0807"}, "office": {"0801"}, "shop": {"0901"}, "factory": {"1001"},
    "warehouse": {"1101"}, "other": {"0602", "1208", "1303"}, "pond": {"1704"}, "reservoir": {"1703"},
    "forest": {"0301"}, "land": {"0101", "0103", "0403", "1001"},
}


def _land_use_parcels(metric: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    zones = metric["planning_zones"]
    return zones[zones["zone_type"] != "development_boundary"].reset_index(drop=True)


def test_land_use_parcels_tile_the_town(metric: dict[str, gpd.GeoDataFrame]) -> None:
    parcels = _land_use_parcels(metric)
    zones = metric["planning_zones"]
    assert (zones["zone_type"] == "development_boundary").sum() == 1
    assert 1500 <= len(parcels) <= 3000
    union = shapely.union_all(parcels.geometry.values)
    town = shapely.union_all(metric["villages"].geometry.values)
    assert abs(union.area - town.area) / town.area < 1e-3
    assert town.difference(union).area < 1e-3 * town.area
    geoms = parcels.geometry.values
    overlaps = [geoms[i].intersection(geoms[j]).area
                for i, j in zip(*shapely.STRtree(geoms).query(geoms, predicate="intersects"), strict=True) if i < j]
    assert max(overlaps) < 1.0
    assert parcels["land_use_code"].notna().all()
    assert (parcels["land_use_name"].notna()).all()


def _parcel_of(points: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each point with the one land-use parcel it lies in (``zone_type``, ``land_use_code``)."""
    joined = gpd.sjoin(points, parcels[["zone_type", "land_use_code", "geometry"]], predicate="within", how="left")
    assert joined.index.is_unique, "a point lies in more than one parcel"
    return joined


def test_assets_and_settlements_lie_on_land_that_fits_them(metric: dict[str, gpd.GeoDataFrame], town: DemoTown) -> None:
    planted = set(town.ledger.planted["planning_conflict"])
    parcels = _land_use_parcels(metric)
    dev = metric["planning_zones"].loc[metric["planning_zones"]["zone_type"] == "development_boundary"].geometry.iloc[0]
    assets = _parcel_of(metric["assets"], parcels)
    fine = assets[~assets["code"].isin(planted)]
    fits = [code in FITTING_LAND_USE[category] for code, category in zip(fine["land_use_code"], fine["category"],
                                                                         strict=True)]
    assert all(fits), fine.loc[[not f for f in fits], ["code", "category", "zone_type", "land_use_code"]]
    buildings = fine[fine["asset_class"] != "resource"]
    in_town = buildings.within(dev)
    assert (buildings.loc[~in_town, "zone_type"] == "village_construction").all()
    assert (buildings.loc[in_town, "zone_type"] == "other").all()
    assert (buildings.loc[buildings["category"] == "office", "geometry"].within(dev)).all()
    for category, zone_type in (("pond", "water"), ("reservoir", "water"), ("forest", "forest")):
        assert (fine.loc[fine["category"] == category, "zone_type"] == zone_type).all(), category
    settlements = _parcel_of(metric["settlements"], parcels)
    in_town = settlements.within(dev)
    assert (settlements.loc[~in_town, "land_use_code"] == "0703").all()
    assert (settlements.loc[in_town, "land_use_code"] == "0701").all() and in_town.sum() > 50


def test_planning_checks_find_exactly_the_planted_conflicts(metric: dict[str, gpd.GeoDataFrame],
                                                            town: DemoTown) -> None:
    assets = metric["assets"]
    footprints = gpd.GeoSeries.from_wkt(town.layers["assets"]["footprint"], crs=4490).to_crs(METRIC)
    shapes = gpd.GeoSeries(np.where(footprints.isna(), assets.geometry.values, footprints.values), crs=METRIC)
    overlay = overlay_zones(shapes, metric["planning_zones"])
    verdicts = conformance(overlay, list(assets["category"]))
    not_conforming = {code for code, v in zip(assets["code"], verdicts, strict=True) if v.conforming is not True}
    planted = town.ledger.planted["planning_conflict"]
    parcels = _parcel_of(assets, _land_use_parcels(metric)).set_index("code")
    on_farmland = [c for c in planted if parcels.loc[c, "zone_type"] == "permanent_farmland"]
    in_red_line = [c for c in planted if parcels.loc[c, "zone_type"] == "ecological_redline"]
    straddling = [c for c in planted if c not in on_farmland + in_red_line]
    assert len(on_farmland) == 2 and len(in_red_line) == 1 and len(straddling) == 1
    assert not_conforming == set(on_farmland + in_red_line)  # no asset lacks planning data any more
    conflicted = parcels.loc[on_farmland + in_red_line]
    assert (conflicted["use_status"] == "idle").all() and (conflicted["asset_class"] != "resource").all()
    assert (conflicted["documents_status"] != "complete").all() and conflicted["certificate_no"].isna().all()
    # The collective land footprint: partly construction land, partly permanent basic farmland.
    k = int(np.flatnonzero(assets["code"] == straddling[0])[0])
    touched = overlay.pairs[overlay.pairs["feature"] == k]
    kinds = overlay.zones.loc[touched["zone"], "zone_type"].tolist()
    assert assets.iloc[k]["category"] == "land" and overlay.touches("permanent_farmland")[k]
    shares = touched.groupby(overlay.zones.loc[touched["zone"], "zone_type"].to_numpy())["share"].sum()
    assert "village_construction" in kinds and 0.2 < shares["village_construction"] < 0.8, shares


# ------------------------------------------------------------------------------------------- files
def test_write_demo_is_byte_identical_and_readable(tmp_path: Path) -> None:
    first = write_demo(tmp_path / "a")
    second = write_demo(tmp_path / "b")
    assert [p.name for p in first[:len(LAYERS)]] == [f"{t}.geojson" for t in LAYERS]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    text = first[0].read_text(encoding="utf-8")
    collection = json.loads(text)
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4490"
    assert text.count("\n") == len(collection["features"]) + 2  # one feature per line
    frame = gpd.read_file(first[0])
    assert frame.crs.to_epsg() == 4490
    assert 105.1 < frame.total_bounds[0] < frame.total_bounds[2] < 105.4


def test_bundled_files_and_readme_match_the_generator(layers: dict[str, gpd.GeoDataFrame], town: DemoTown) -> None:
    directory = ROOT / "layers" / "demo"
    readme = (directory / "README.md").read_text(encoding="utf-8")
    for table, frame in layers.items():
        hint = f"{table}: run python -m gis_service.demo.generator layers/demo"
        features = json.loads((directory / f"{table}.geojson").read_text(encoding="utf-8"))["features"]
        assert [f["properties"]["code"] for f in features] == frame["code"].tolist(), hint
        row = re.search(rf"^\| `{table}\.geojson` \|.*\| (\d+) \|$", readme, flags=re.MULTILINE)
        assert row is not None and int(row.group(1)) == len(frame), f"{table}: update the table in README.md"
    zones = layers["planning_zones"]["zone_type"].value_counts()
    for zone_type, count in zones.items():
        row = re.search(rf"^\| `{zone_type}` .*\| (\d+) \|$", readme, flags=re.MULTILINE)
        assert row is not None and int(row.group(1)) == count, f"{zone_type}: update the zone table in README.md"
    for code in town.ledger.planted["planning_conflict"]:
        assert f"`{code}`" in readme, f"{code}: list the planted planning conflicts in README.md"


def test_other_seeds_give_other_towns(layers: dict[str, gpd.GeoDataFrame]) -> None:
    other = generate(seed=7)
    assert int(other["settlements"]["population"].sum()) == TOWN_POPULATION
    assert not other["villages"].geometry.iloc[0].equals(layers["villages"].geometry.iloc[0])
