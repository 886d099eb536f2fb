"""Road network: noding, the river rule, access legs and shortest paths (no database).

The small case, in metres from an origin in EPSG:4544 (distances worked out by hand below)::

         B (village, 5 km/h)  y = 200   (0,200) ─────────────────────── (2000,200)
                                          │ D                               │ C (track, 3.5 km/h)
    river  y = 0   ~~~~~~~~~~~~~~~~~~~~~~~~X~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~B~~~ bridge at (2000, 3)
         A (village, 5 km/h)  y = -30   (0,-30) ─────────────────────── (2000,-30)

D crosses the river where there is no bridge, so it is cut; C crosses at the bridge.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, MultiLineString, Point

from gis_service.analysis.network import RoadNetwork, metres_per_minute, point_coordinates

DEMO = Path(__file__).resolve().parents[2] / "layers" / "demo"
CRS = "EPSG:4544"
X0, Y0 = 520_000.0, 3_380_000.0  # inside EPSG:4544's zone, near the demo town
WALK = metres_per_minute(5.0)
TRACK = metres_per_minute(3.5)


def at(x: float, y: float) -> tuple[float, float]:
    return (X0 + x, Y0 + y)


def xy(*points: tuple[float, float]) -> np.ndarray:
    return np.array([at(x, y) for x, y in points])


@pytest.fixture()
def roads() -> gpd.GeoDataFrame:
    lines = {
        "A": ("village", [(0, -30), (2000, -30)]),
        "B": ("village", [(0, 200), (2000, 200)]),
        "C": ("track", [(2000, -30), (2000, 200)]),
        "D": ("village", [(0, -30), (0, 200)]),
    }
    return gpd.GeoDataFrame(
        {"code": list(lines), "road_class": [c for c, _ in lines.values()]},
        geometry=[MultiLineString([[at(*p) for p in pts]]) for _, pts in lines.values()], crs=CRS)


@pytest.fixture()
def rivers() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["HL"], "width_m": [20.0]},
                            geometry=[LineString([at(-1000, 0), at(3000, 0)])], crs=CRS)


@pytest.fixture()
def bridges() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["QL"], "kind": ["road"]}, geometry=[Point(at(2000, 3))], crs=CRS)


# ------------------------------------------------------------------------------------ the small case


def test_river_crossing_without_bridge_is_cut(roads, rivers, bridges) -> None:
    net = RoadNetwork.from_geodataframes(roads, rivers, bridges)
    assert (net.bridge_crossings, net.blocked_crossings) == (1, 1)
    assert net.edge_metres.sum() == pytest.approx(2000 + 2000 + 230 + 230)


def test_network_path_goes_round_by_the_bridge(roads, rivers, bridges) -> None:
    net = RoadNetwork.from_geodataframes(roads, rivers, bridges)
    # 0: facility 50 m south of A; 1: settlement 50 m north of B, 330 m from the facility in a straight line.
    graph = net.attach(xy((500, -80), (500, 250)))
    found = graph.nearest([0])
    # leg 50 + B east 1500 + C 230 + A west 1500 + leg 50
    assert found.metres[1] == pytest.approx(3330.0)
    assert found.minutes[1] == pytest.approx(3100 / WALK + 230 / TRACK)
    assert found.source.tolist() == [0, 0]


def test_without_the_river_rule_the_short_way_is_open(roads) -> None:
    net = RoadNetwork.from_geodataframes(roads)
    found = net.attach(xy((500, -80), (500, 250))).nearest([0])
    # leg 50 + B west 500 + D 230 + A east 500 + leg 50
    assert found.metres[1] == pytest.approx(1330.0)


def test_without_bridges_the_far_bank_is_unreachable(roads, rivers) -> None:
    net = RoadNetwork.from_geodataframes(roads, rivers)
    assert net.blocked_crossings == 2
    found = net.attach(xy((500, -80), (500, 250))).nearest([0])
    assert found.source[1] == -1
    assert np.isinf(found.metres[1]) and np.isinf(found.minutes[1])


def test_bridge_beyond_the_tolerance_does_not_count(roads, rivers, bridges) -> None:
    net = RoadNetwork.from_geodataframes(roads, rivers, bridges, bridge_tolerance_m=2.0)
    assert (net.bridge_crossings, net.blocked_crossings) == (0, 2)


@pytest.mark.parametrize(("mode", "reachable"), [("walk", True), ("drive", False)])
def test_footbridge_is_for_walking_only(roads, rivers, bridges, mode, reachable) -> None:
    bridges = bridges.assign(kind="foot")
    net = RoadNetwork.from_geodataframes(roads, rivers, bridges, mode=mode)
    found = net.attach(xy((500, -80), (500, 250))).nearest([0])
    assert np.isfinite(found.metres[1]) == reachable


def test_access_leg_across_the_river_is_refused(roads, rivers, bridges) -> None:
    net = RoadNetwork.from_geodataframes(roads, rivers, bridges)
    # 20 m north of the river: road A is 50 m away across the water, road B 180 m away on its own bank.
    graph = net.attach(xy((500, -80), (1000, 20)))
    assert graph.access_m[1] == pytest.approx(180.0)
    # leg 180 + B east 1000 + C 230 + A west 1500 + leg 50
    assert graph.nearest([0]).metres[1] == pytest.approx(2960.0)


def test_points_out_of_reach_have_no_access(roads) -> None:
    net = RoadNetwork.from_geodataframes(roads, max_access_m=100.0)
    graph = net.attach(xy((500, -80), (500, 800)))
    assert graph.has_access.tolist() == [True, False]
    assert np.isinf(graph.nearest([0]).metres[1])


def test_points_on_one_edge_reach_each_other_along_it(roads) -> None:
    net = RoadNetwork.from_geodataframes(roads)
    graph = net.attach(xy((300, -40), (700, -50), (1200, -30)))
    cost = graph.cost_matrix([0], [0, 1, 2])
    assert cost[0].tolist() == pytest.approx([0.0, 10 + 400 + 20, 10 + 900])


def test_speeds_follow_feature_then_class_then_default(roads) -> None:
    roads = roads.assign(walk_speed_kmh=[np.nan, 2.5, np.nan, 0.0])  # 0 is no speed: the class's applies
    net = RoadNetwork.from_geodataframes(roads, speeds={"village": 4.0})
    kmh = net.edge_metres / net.edge_minutes * 60 / 1000
    middle = shapely.get_coordinates(shapely.line_interpolate_point(net.edge_lines, 0.5, normalized=True))
    by_road = {"A": kmh[np.isclose(middle[:, 1], Y0 - 30)], "B": kmh[np.isclose(middle[:, 1], Y0 + 200)],
               "C": kmh[np.isclose(middle[:, 0], X0 + 2000)], "D": kmh[np.isclose(middle[:, 0], X0)]}
    assert {road: v.tolist() for road, v in by_road.items()} == {
        "A": [pytest.approx(4.0)], "B": [pytest.approx(2.5)], "C": [pytest.approx(3.5)], "D": [pytest.approx(4.0)]}


def test_crossing_roads_are_noded() -> None:
    roads = gpd.GeoDataFrame({"road_class": ["village", "village"]},
                             geometry=[LineString([at(0, 0), at(1000, 0)]), LineString([at(500, -400), at(500, 400)])],
                             crs=CRS)
    net = RoadNetwork.from_geodataframes(roads)
    assert net.n_edges == 4
    found = net.attach(xy((0, 0), (500, 400))).nearest([0])
    assert found.metres[1] == pytest.approx(500 + 400)


@pytest.mark.parametrize(("snap", "connected"), [(0.5, True), (0.0, False)])
def test_a_junction_a_little_short_is_snapped(snap, connected) -> None:
    roads = gpd.GeoDataFrame({"road_class": ["village", "village"]},
                             geometry=[LineString([at(0, 0), at(1000, 0)]), LineString([at(500, 0.2), at(500, 400)])],
                             crs=CRS)
    net = RoadNetwork.from_geodataframes(roads, snap_tolerance_m=snap)
    found = net.attach(xy((0, 0), (500, 400))).nearest([0])
    assert np.isfinite(found.metres[1]) == connected
    if connected:
        assert found.metres[1] == pytest.approx(900.0, abs=0.5)


def test_nearest_picks_the_closest_of_many_sources(roads, rivers, bridges) -> None:
    net = RoadNetwork.from_geodataframes(roads, rivers, bridges)
    graph = net.attach(xy((500, 250), (500, -80), (1500, 240)))
    found = graph.nearest([1, 2])  # positions among the sources
    assert found.source[0] == 1
    assert found.metres[0] == pytest.approx(40 + 1000 + 50)


def test_time_weight_prefers_the_faster_road() -> None:
    # Two ways from west to east: 1000 m straight on a track (3.5 km/h) or 1200 m round on village roads.
    lines = [[(0, 0), (1000, 0)], [(0, 0), (0, 100)], [(0, 100), (1000, 100)], [(1000, 100), (1000, 0)]]
    roads = gpd.GeoDataFrame({"road_class": ["track", "village", "village", "village"]},
                             geometry=[LineString([at(*p) for p in pts]) for pts in lines], crs=CRS)
    graph = RoadNetwork.from_geodataframes(roads).attach(xy((0, 0), (1000, 0)))
    by_length, by_time = graph.nearest([0], weight="length"), graph.nearest([0], weight="time")
    assert (by_length.metres[1], by_length.minutes[1]) == pytest.approx((1000.0, 1000 / TRACK))
    assert (by_time.metres[1], by_time.minutes[1]) == pytest.approx((1200.0, 1200 / WALK))


def test_limit_stops_the_search(roads) -> None:
    graph = RoadNetwork.from_geodataframes(roads).attach(xy((0, -30), (500, -30), (1500, -30)))
    found = graph.nearest([0], limit=1000.0)
    assert found.source.tolist() == [0, 0, -1]


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4326"])
def test_geographic_crs_is_refused(roads, crs) -> None:
    with pytest.raises(ValueError, match="not a projected CRS in metres"):
        RoadNetwork.from_geodataframes(roads.set_crs(crs, allow_override=True))


def test_layers_in_another_crs_are_refused(roads, rivers) -> None:
    with pytest.raises(ValueError, match="rivers must be in the roads' CRS"):
        RoadNetwork.from_geodataframes(roads, rivers.to_crs(4523))


def test_points_must_be_points(roads) -> None:
    with pytest.raises(ValueError, match="POINT"):
        point_coordinates(roads, "roads")


# ------------------------------------------------------------------------------------ the demo town


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    names = ("roads", "rivers", "bridges", "settlements", "service_points")
    return {name: gpd.read_file(DEMO / f"{name}.geojson").to_crs(4544) for name in names}


def test_demo_roads_cross_the_rivers_only_at_the_bridges(demo) -> None:
    walk = RoadNetwork.from_geodataframes(demo["roads"], demo["rivers"], demo["bridges"])
    assert (walk.bridge_crossings, walk.blocked_crossings) == (len(demo["bridges"]), 0)
    assert len(np.unique(walk.components)) == 1
    drive = RoadNetwork.from_geodataframes(demo["roads"], demo["rivers"], demo["bridges"], mode="drive")
    assert (drive.bridge_crossings, drive.blocked_crossings) == (4, 1)  # the footbridge is closed to cars


def test_demo_network_matches_an_independent_vertex_graph(demo) -> None:
    """Distances between road vertices equal Dijkstra on a graph built directly from the road vertices."""
    parts = shapely.get_parts(demo["roads"].geometry.values)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    vertices, node = np.unique(np.round(coords, 2), axis=0, return_inverse=True)
    node = node.ravel()
    same = part[1:] == part[:-1]
    length = np.hypot(*(coords[1:] - coords[:-1])[same].T)
    graph = coo_matrix((length, (node[:-1][same], node[1:][same])), shape=(len(vertices),) * 2).tocsr()
    picked = np.random.default_rng(5).choice(len(vertices), 30, replace=False)
    expected = dijkstra(graph, directed=False, indices=picked[:8])[:, picked]

    net = RoadNetwork.from_geodataframes(demo["roads"], demo["rivers"], demo["bridges"])
    got = net.attach(vertices[picked]).cost_matrix(np.arange(8), np.arange(30))
    np.testing.assert_allclose(got, expected, atol=0.05)


def test_demo_network_distance_is_never_shorter_than_straight(demo) -> None:
    net = RoadNetwork.from_geodataframes(demo["roads"], demo["rivers"], demo["bridges"])
    homes = point_coordinates(demo["settlements"], "settlements")
    points = point_coordinates(demo["service_points"], "service_points")
    graph = net.attach(np.vstack([homes, points]))
    cost = graph.cost_matrix(len(homes) + np.arange(len(points)), np.arange(len(homes)))
    straight = np.hypot(*(homes[None, :, :] - points[:, None, :]).transpose(2, 0, 1))
    assert graph.has_access.all()
    assert np.all(cost >= straight - 1e-6)


def test_docstring_examples_run() -> None:
    from gis_service.analysis import network

    assert doctest.testmod(network).failed == 0
