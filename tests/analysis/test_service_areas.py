"""Service areas along roads (rivers crossed only at bridges) and in a straight line, on hand-made networks."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from gis_service.analysis.service_areas import network_areas, straight_line_areas

CRS = "EPSG:4544"


def _network(bridge: bool):
    from gis_service.analysis.network import RoadNetwork

    road = LineString([(500_000, 3_380_000), (504_000, 3_380_000)])  # 4 km along x
    river = LineString([(503_000, 3_379_000), (503_000, 3_381_000)])  # crosses the road at x = 503,000
    bridges = np.array([[503_000.0, 3_380_000.0]]) if bridge else None
    return RoadNetwork.from_lines([road], [5.0], crs=CRS, rivers=[river], bridges_xy=bridges)


def test_area_follows_the_road_as_far_as_the_limit() -> None:
    area = network_areas(_network(bridge=True), [[501_000.0, 3_380_000.0]], 1500.0, reach_m=100.0)[0]
    assert area.contains(Point(502_400, 3_380_000)) and area.contains(Point(500_050, 3_380_080))
    assert not area.contains(Point(502_650, 3_380_000))  # 1,650 m along the road
    assert not area.contains(Point(501_000, 3_380_300))  # 300 m off the road
    # The reachable road runs from x = 500,000 (the road's end, 1,000 m) to x = 502,500 (1,500 m): 2.5 km long.
    expected = LineString([(500_000, 3_380_000), (502_500, 3_380_000)]).buffer(100.0, quad_segs=4)
    assert abs(area.area - expected.area) / expected.area < 0.01


def test_a_river_without_a_bridge_ends_the_area() -> None:
    facility = [[502_500.0, 3_380_000.0]]
    with_bridge = network_areas(_network(bridge=True), facility, 1500.0)[0]
    without = network_areas(_network(bridge=False), facility, 1500.0)[0]
    assert with_bridge.contains(Point(503_800, 3_380_000))
    assert not without.contains(Point(503_300, 3_380_000)) and without.contains(Point(502_900, 3_380_000))


def test_time_limits_use_walking_minutes() -> None:
    # 5 km/h is 83.3 m per minute: 12 minutes reach 1,000 m.
    area = network_areas(_network(bridge=True), [[501_000.0, 3_380_000.0]], 12.0, weight="time")[0]
    assert area.contains(Point(501_950, 3_380_000)) and not area.contains(Point(502_150, 3_380_000))


def test_unreachable_facility_has_an_empty_area_and_discs_are_circles() -> None:
    areas = network_areas(_network(bridge=True), [[501_000.0, 3_390_000.0]], 1500.0)  # 10 km off any road
    assert areas[0].is_empty
    disc = straight_line_areas([[0.0, 0.0]], 1000.0)[0]
    assert abs(disc.area - np.pi * 1e6) / (np.pi * 1e6) < 0.01 and shapely.is_valid(disc)
