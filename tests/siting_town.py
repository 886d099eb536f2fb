"""A hand-made town for the siting tests, small enough to score by hand.

One township road runs east along y = Y0 (EPSG:4544 metres). Settlement S1 at x = X0 (400 people, 100 elderly,
40 children), S2 at X0 + 4000 (900 people, 300 elderly, 90 children). Two idle village offices of 300 m² in good
condition: A at X0 + 200 and B at X0 + 4200, both 20 m north of the road. Both stand on village construction
land. No day-care centre exists, so under the elderly day-care standard (1 km) A would serve 100 elderly and B
300: coverage gain 100 / (100 + 150) = 0.4 for A, 300 / (300 + 150) = 0.667 for B, and B ranks above A.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, box
from sqlalchemy import Engine

from gis_service.services.layers import LayerService

X0, Y0 = 524_000.0, 3_386_600.0
VILLAGE_A, VILLAGE_B = "510923100201", "510923100202"


def settlements(s2_x: float = X0 + 4000) -> gpd.GeoDataFrame:
    """S1 and S2 (S2 at ``s2_x``: move it to move the demand)."""
    return gpd.GeoDataFrame(
        {"code": ["S1", "S2"], "name": ["一组", "二组"], "village_code": [VILLAGE_A, VILLAGE_B],
         "population": [400, 900], "elderly": [100, 300], "children": [40, 90]},
        geometry=[Point(X0, Y0), Point(s2_x, Y0)], crs=4544)


def assets(xs: tuple[float, ...] = (X0 + 200, X0 + 4200), codes: tuple[str, ...] = ("A", "B")) -> gpd.GeoDataFrame:
    """Idle village offices, 300 m², good, 20 m north of the road."""
    n = len(xs)
    return gpd.GeoDataFrame(
        {"code": list(codes), "name": [f"原{c}村办公用房" for c in codes], "ownership": ["village_collective"] * n,
         "asset_class": ["non_operating"] * n, "category": ["village_office"] * n,
         "village_code": [VILLAGE_A] * n, "floor_area": [300.0] * n, "land_area": [400.0] * n,
         "use_status": ["idle"] * n, "building_condition": ["good"] * n},
        geometry=[Point(x, Y0 + 20) for x in xs], crs=4544)


def roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["R1"], "name": ["镇道"], "road_class": ["township"]},
                            geometry=[MultiLineString([LineString([(X0 - 500, Y0), (X0 + 6000, Y0)])])], crs=4544)


def zones(farmland_over_a: bool = False, code_under_a: str | None = None) -> gpd.GeoDataFrame:
    """Village construction land under both assets; optionally permanent basic farmland over A, or a land-use
    code (e.g. 1001 industrial) on the zone under A."""
    types = ["village_construction", "village_construction"]
    shapes = [box(X0 + 100, Y0 + 5, X0 + 300, Y0 + 200), box(X0 + 4100, Y0 + 5, X0 + 4300, Y0 + 200)]
    if farmland_over_a:
        types[0] = "permanent_farmland"
    return gpd.GeoDataFrame({"code": ["Z1", "Z2"], "name": ["甲", "乙"], "zone_type": types,
                             "land_use_code": [code_under_a, None]},
                            geometry=[MultiPolygon([s]) for s in shapes], crs=4544)


def load(engine: Engine, directory: Path, *, farmland_over_a: bool = False) -> None:
    """Store the town (villages, settlements, assets, roads, zones) in an empty database."""
    layers = {
        "villages": gpd.GeoDataFrame(
            {"code": [VILLAGE_A, VILLAGE_B], "name": ["甲村", "乙村"], "kind": ["village", "village"]},
            geometry=[MultiPolygon([box(X0 - 1000, Y0 - 1000, X0 + 3000, Y0 + 1000)]),
                      MultiPolygon([box(X0 + 3000, Y0 - 1000, X0 + 7000, Y0 + 1000)])], crs=4544),
        "settlements": settlements(), "assets": assets(), "roads": roads(),
        "planning_zones": zones(farmland_over_a),
    }
    for name, frame in layers.items():
        replace_layer(engine, directory, name, frame)


def replace_layer(engine: Engine, directory: Path, name: str, frame: gpd.GeoDataFrame) -> None:
    """Write ``frame`` as GeoJSON (EPSG:4490) and import it in place of the layer's features."""
    path = directory / f"{name}.geojson"
    frame.to_crs(4490).to_file(path, driver="GeoJSON")
    LayerService(engine).import_file(path, name, mode="replace")
