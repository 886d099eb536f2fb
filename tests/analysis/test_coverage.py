"""Coverage reports and the "1+N" diagnosis (no database).

The small case is the one of ``test_network.py``: a river along y = 0, road A on its south bank (y = -30),
road B on the north bank (y = 200), the bridge road C at x = 2000 and a road D at x = 0 that crosses the river
where there is no bridge (cut). One facility F south of the river at (500, -80), 50 m from road A.

=========  ==========  ==========  ===========  ==============================================
settlement  where       population  straight m   network m (legs + roads, by hand)
=========  ==========  ==========  ===========  ==============================================
s1          (500, 250)  100         330          50 + 1500 (B) + 230 (C) + 1500 (A) + 50 = 3330
s2          (800, -60)  150         300.67       30 + 300 (A) + 50 = 380
s3          (1000, 20)  30          509.90       180 (to B: A is across the water) + 1000 + 230 + 1500 + 50 = 2960
=========  ==========  ==========  ===========  ==============================================
"""

from __future__ import annotations

import dataclasses
import doctest
import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Point, box

from gis_service.analysis.coverage import (
    FACILITY_THRESHOLDS,
    FacilityStandard,
    coverage,
    straight_line_nearest,
)
from gis_service.analysis.network import RoadNetwork, metres_per_minute
from gis_service.analysis.one_plus_n import diagnose_one_plus_n

DEMO = Path(__file__).resolve().parents[2] / "layers" / "demo"
CRS = "EPSG:4544"
X0, Y0 = 520_000.0, 3_380_000.0
WALK = metres_per_minute(5.0)
TRACK = metres_per_minute(3.5)
WITHIN_1KM = FacilityStandard("test", "测试", "service_points", "kind", ("centre",), "population", metres=1000.0)


def at(x: float, y: float) -> tuple[float, float]:
    return (X0 + x, Y0 + y)


@pytest.fixture()
def network() -> RoadNetwork:
    lines = {"A": ("village", [(0, -30), (2000, -30)]), "B": ("village", [(0, 200), (2000, 200)]),
             "C": ("track", [(2000, -30), (2000, 200)]), "D": ("village", [(0, -30), (0, 200)])}
    roads = gpd.GeoDataFrame({"code": list(lines), "road_class": [c for c, _ in lines.values()]},
                             geometry=[MultiLineString([[at(*p) for p in pts]]) for _, pts in lines.values()], crs=CRS)
    rivers = gpd.GeoDataFrame({"code": ["HL"]}, geometry=[LineString([at(-1000, 0), at(3000, 0)])], crs=CRS)
    bridges = gpd.GeoDataFrame({"code": ["QL"], "kind": ["road"]}, geometry=[Point(at(2000, 3))], crs=CRS)
    return RoadNetwork.from_geodataframes(roads, rivers, bridges)


def make_settlements(villages: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["s1", "s2", "s3"], "village_code": villages, "population": [100, 150, 30],
         "elderly": [20, 40, 10], "children": [15, 20, 5]},
        geometry=[Point(at(500, 250)), Point(at(800, -60)), Point(at(1000, 20))], crs=CRS)


@pytest.fixture()
def settlements() -> gpd.GeoDataFrame:
    return make_settlements(["N", "S", "N"])


@pytest.fixture()
def facility() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["F1"], "kind": ["centre"], "village_code": ["V"]},
                            geometry=[Point(at(500, -80))], crs=CRS)


# ------------------------------------------------------------------------------------ the small case


def test_straight_line_counts_by_hand(settlements, facility) -> None:
    report = coverage(settlements, facility, WITHIN_1KM, method="straight")
    assert report.method == "straight"
    s = report.settlements
    assert s.distance_m == pytest.approx([330.0, math.hypot(300, 20), math.hypot(500, 100)])
    assert s.minutes == pytest.approx(s.distance_m / WALK)
    assert s.covered.tolist() == [True, True, True]
    assert (report.town.covered_demand, report.town.demand, report.town.share) == (280, 280, 1.0)


def test_network_counts_by_hand(settlements, facility, network) -> None:
    report = coverage(settlements, facility, WITHIN_1KM, network=network)
    assert report.method == "network"
    s = report.settlements
    assert s.distance_m == pytest.approx([3330.0, 380.0, 2960.0])
    assert s.minutes == pytest.approx([3100 / WALK + 230 / TRACK, 380 / WALK, 2730 / WALK + 230 / TRACK])
    assert s.straight_m == pytest.approx([330.0, math.hypot(300, 20), math.hypot(500, 100)])
    assert s.covered.tolist() == [False, True, False]
    assert s.via_network.all()
    assert s.nearest_code.tolist() == ["F1", "F1", "F1"]
    town = report.town
    assert (town.village_code, town.settlements, town.uncovered_settlements, town.demand, town.covered_demand) == (
        None, 3, 2, 280, 150)
    assert town.share == pytest.approx(150 / 280)
    north, south = report.village("N"), report.village("S")
    assert (north.settlements, north.uncovered_settlements, north.demand, north.covered_demand, north.share) == (
        2, 2, 130, 0, 0.0)
    assert (south.settlements, south.uncovered_settlements, south.demand, south.covered_demand, south.share) == (
        1, 0, 150, 150, 1.0)


def test_uncovered_settlements_farthest_first(settlements, facility, network) -> None:
    uncovered = coverage(settlements, facility, WITHIN_1KM, network=network).settlements.uncovered()
    assert uncovered["code"].tolist() == ["s1", "s3"]
    assert uncovered["distance_m"].tolist() == pytest.approx([3330.0, 2960.0])
    assert uncovered["nearest_code"].tolist() == ["F1", "F1"]


def test_time_threshold_and_demand_field(settlements, facility, network) -> None:
    ten_minutes = dataclasses.replace(WITHIN_1KM, metres=None, minutes=10.0, demand="elderly")
    report = coverage(settlements, facility, ten_minutes, network=network)
    assert report.settlements.covered.tolist() == [False, True, False]
    assert (report.town.covered_demand, report.town.demand) == (40, 70)


def test_villages_without_settlements_are_listed(settlements, facility) -> None:
    report = coverage(settlements, facility, WITHIN_1KM, method="straight", villages=["N", "S", "W"])
    assert [v.village_code for v in report.villages] == ["N", "S", "W"]
    empty = report.village("W")
    assert (empty.settlements, empty.demand) == (0, 0) and math.isnan(empty.share)


def test_auto_falls_back_to_straight_line_off_the_network(settlements, facility, network) -> None:
    far = make_settlements(["N", "S", "N"]).iloc[[0]].assign(code="far", geometry=[Point(at(500, 2000))])
    report = coverage(far, facility, WITHIN_1KM, network=network)  # 1,800 m from the nearest road
    assert report.settlements.via_network.tolist() == [False]
    assert report.settlements.distance_m == pytest.approx([2080.0])
    strict = coverage(far, facility, WITHIN_1KM, network=network, method="network")
    assert np.isinf(strict.settlements.distance_m).all() and strict.settlements.nearest.tolist() == [-1]


def test_no_facility_leaves_everyone_uncovered(settlements, facility) -> None:
    report = coverage(settlements, facility.iloc[:0], WITHIN_1KM, method="straight")
    assert report.town.covered_demand == 0
    assert report.settlements.nearest.tolist() == [-1, -1, -1]
    assert report.settlements.nearest_code.tolist() == [None, None, None]


@pytest.mark.parametrize(("change", "message"), [
    (lambda s, f: (s.to_crs(4490), f), "not a projected CRS"),
    (lambda s, f: (s, f.to_crs(4523)), "facilities must be in the settlements' CRS"),
    (lambda s, f: (s.drop(columns="population"), f), "lack field"),
    (lambda s, f: (s.set_geometry(s.buffer(5)), f), "POINT"),
    (lambda s, f: (s.set_geometry([Point(), *s.geometry[1:]], crs=CRS), f), "non-empty POINT"),
])
def test_bad_inputs_are_refused(settlements, facility, change, message) -> None:
    s, f = change(settlements, facility)
    with pytest.raises(ValueError, match=message):
        coverage(s, f, WITHIN_1KM, method="straight")


def test_network_method_needs_a_network(settlements, facility) -> None:
    with pytest.raises(ValueError, match="needs a RoadNetwork"):
        coverage(settlements, facility, WITHIN_1KM, method="network")


def test_straight_line_nearest_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    demand, facilities = rng.uniform(0, 5000, (500, 2)), rng.uniform(0, 5000, (40, 2))
    full = np.hypot(*(demand[:, None, :] - facilities[None, :, :]).transpose(2, 0, 1))
    index, distance = straight_line_nearest(demand, facilities)
    assert index.tolist() == full.argmin(axis=1).tolist()
    assert distance == pytest.approx(full.min(axis=1))
    index, distance = straight_line_nearest(demand, facilities, max_distance=300.0)
    near = full.min(axis=1) <= 300.0
    assert (index >= 0).tolist() == near.tolist()
    assert np.isinf(distance[~near]).all()


# ------------------------------------------------------------------------------------ standards


def test_default_thresholds_and_their_sources() -> None:
    expected = {"centre": (3000.0, None, "population"), "agency_station": (1500.0, None, "population"),
                "primary_school": (2500.0, None, "children"), "kindergarten": (1000.0, None, "children"),
                "village_clinic": (None, 15.0, "population"), "elderly_day_care": (1000.0, None, "elderly")}
    got = {key: (s.metres, s.minutes, s.demand) for key, s in FACILITY_THRESHOLDS.items()}
    assert got == expected
    assert all(len(s.source) > 40 for s in FACILITY_THRESHOLDS.values())


def test_standard_needs_exactly_one_threshold() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        dataclasses.replace(WITHIN_1KM, minutes=5.0)


def test_select_open_schools_of_the_level() -> None:
    schools = gpd.GeoDataFrame({"level": ["primary", "nine_year", "primary", "kindergarten"],
                                "status": ["open", "open", "closed", "open"]},
                               geometry=[Point(at(i, 0)) for i in range(4)], crs=CRS)
    assert FACILITY_THRESHOLDS["primary_school"].select(schools).index.tolist() == [0, 1]
    assert FACILITY_THRESHOLDS["kindergarten"].select(schools).index.tolist() == [3]


# ------------------------------------------------------------------------------------ 1+N, small case


@pytest.fixture()
def village() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["V"], "name": ["测试村"], "kind": ["village"]},
                            geometry=[box(*at(-100, -200), *at(2100, 400))], crs=CRS)


def test_one_plus_n_by_hand(facility, network, village) -> None:
    rivers = gpd.GeoDataFrame({"code": ["HL"]}, geometry=[LineString([at(-1000, 0), at(3000, 0)])], crs=CRS)
    (diagnosis,) = diagnose_one_plus_n(make_settlements(["V", "V", "V"]), facility, village, rivers=rivers,
                                       network=network)
    assert (diagnosis.has_centre, diagnosis.stations, diagnosis.population) == (True, 0, 280)
    assert diagnosis.share_centre == pytest.approx(180 / 280)  # s1 is 3,330 m away by road
    assert diagnosis.share_all == pytest.approx(180 / 280)
    # North bank 130 people, south bank 150: two sides, the north one without a service point.
    assert (diagnosis.river_split, diagnosis.river_sides, diagnosis.sides_without_service) == (True, 2, 1)
    # A station at s1 reaches s1 (0 m) and s3 (730 m): everyone covered.
    assert (diagnosis.stations_needed, diagnosis.suggested_sites) == (1, ("s1",))
    assert diagnosis.share_with_suggested == pytest.approx(1.0)
    assert diagnosis.verdict == "needs 1 station"


def test_an_unserved_river_side_gets_a_station_even_above_the_target(facility, network, village) -> None:
    rivers = gpd.GeoDataFrame({"code": ["HL"]}, geometry=[LineString([at(-1000, 0), at(3000, 0)])], crs=CRS)
    (diagnosis,) = diagnose_one_plus_n(make_settlements(["V", "V", "V"]), facility, village, rivers=rivers,
                                       network=network, target_share=0.5)
    assert diagnosis.share_all == pytest.approx(180 / 280)  # above the target already
    assert (diagnosis.suggested_sites, diagnosis.verdict) == (("s1",), "needs 1 station")


def test_one_plus_n_straight_line_and_small_sides(facility, village) -> None:
    rivers = gpd.GeoDataFrame({"code": ["HL"]}, geometry=[LineString([at(-1000, 0), at(3000, 0)])], crs=CRS)
    (diagnosis,) = diagnose_one_plus_n(make_settlements(["V", "V", "V"]), facility, village, rivers=rivers,
                                       min_side_population=140)
    assert diagnosis.share_centre == 1.0 and diagnosis.verdict == "adequate"
    assert (diagnosis.river_split, diagnosis.river_sides) == (False, 1)  # the north bank's 130 are too few


def test_one_plus_n_refuses_villages_in_another_crs(facility, village) -> None:
    with pytest.raises(ValueError, match="villages must be in the settlements' CRS"):
        diagnose_one_plus_n(make_settlements(["V", "V", "V"]), facility, village.to_crs(4490))


def test_one_plus_n_without_a_centre(facility, village) -> None:
    (diagnosis,) = diagnose_one_plus_n(make_settlements(["V", "V", "V"]), facility.iloc[:0], village)
    assert not diagnosis.has_centre
    assert diagnosis.suggested_centre is not None
    assert diagnosis.verdict == "needs a centre"


# ------------------------------------------------------------------------------------ the demo town


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    names = ("roads", "rivers", "bridges", "settlements", "service_points", "schools", "facilities", "villages")
    return {name: gpd.read_file(DEMO / f"{name}.geojson").to_crs(4544) for name in names}


@pytest.fixture(scope="module")
def demo_network(demo) -> RoadNetwork:
    return RoadNetwork.from_geodataframes(demo["roads"], demo["rivers"], demo["bridges"])


@pytest.mark.parametrize("key", list(FACILITY_THRESHOLDS))
def test_demo_network_distances_are_at_least_straight(demo, demo_network, key) -> None:
    standard = FACILITY_THRESHOLDS[key]
    facilities = standard.select(demo[standard.layer])
    network = coverage(demo["settlements"], facilities, standard, network=demo_network)
    straight = coverage(demo["settlements"], facilities, standard, method="straight")
    assert network.settlements.via_network.all()
    assert np.all(network.settlements.distance_m >= straight.settlements.distance_m - 1e-6)
    assert network.town.covered_demand <= straight.town.covered_demand
    assert network.town.demand == demo["settlements"][standard.demand].sum()


@pytest.mark.parametrize("key", ["centre", "agency_station"])
def test_demo_service_point_coverage_is_plausible(demo, demo_network, key) -> None:
    standard = FACILITY_THRESHOLDS[key]
    report = coverage(demo["settlements"], standard.select(demo["service_points"]), standard, network=demo_network,
                      villages=demo["villages"]["code"].tolist())
    assert report.facilities == (16 if key == "centre" else 22)
    assert len(report.villages) == 16
    assert report.town.demand == 84_175
    assert sum(v.demand for v in report.villages) == report.town.demand
    assert sum(v.covered_demand for v in report.villages) == report.town.covered_demand
    assert all(0.0 < v.share <= 1.0 for v in report.villages)
    assert 0.5 < report.town.share < 1.0  # most people are within reach, not all: the gaps 1+N should close
    frame = report.villages_frame()
    assert frame["village_code"].iloc[-1] == "town" and len(frame) == 17


def test_demo_diagnosis_lists_every_village(demo, demo_network) -> None:
    diagnoses = diagnose_one_plus_n(demo["settlements"], demo["service_points"], demo["villages"],
                                    rivers=demo["rivers"], network=demo_network)
    assert [d.village_code for d in diagnoses] == sorted(demo["villages"]["code"])
    verdict = re.compile(r"^(adequate|needs \d+ stations?|needs a centre( and \d+ stations?)?)$")
    assert all(verdict.match(d.verdict) for d in diagnoses)
    assert all(d.has_centre for d in diagnoses)
    assert sum(d.settlements for d in diagnoses) == len(demo["settlements"])
    stations = {d.village_code[-3:]: d.stations for d in diagnoses if d.stations}
    assert stations == {"201": 1, "207": 1, "208": 2, "209": 1, "210": 1}
    # People on both banks: the riverside communities and four villages (two of them with a station on
    # each bank); the demo generator calls a village split on the same grounds (100+ people per bank).
    split = {d.village_code[-3:] for d in diagnoses if d.river_split}
    assert split == {"001", "003", "204", "205", "208", "209"}
    bare = {d.village_code[-3:] for d in diagnoses if d.sides_without_service}
    assert bare == {"001", "003", "204", "205"}
    for d in diagnoses:
        assert d.share_centre <= d.share_all <= d.share_with_suggested
        assert (d.verdict == "adequate") == (d.stations_needed == 0)


def test_docstring_examples_run() -> None:
    from gis_service.analysis import coverage

    assert doctest.testmod(coverage).failed == 0
