"""A hand-made town small enough to compute coverage by hand.

One straight road runs east along y = Y0 (EPSG:4544 metres). Three settlements lie on it: S1 at x = X0
(100 people), S2 at X0 + 2000 (200) in village A, S3 at X0 + 5000 (300) in village B. One central position
SP1 stands at X0 in village A. Under the agency-station standard (1,500 m, centres count) only S1 is covered:
100 of 600 people, village A 100 of 300, village B 0 of 300.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, box
from sqlalchemy import Engine

from gis_service.services.layers import LayerService

X0, Y0 = 524_000.0, 3_386_600.0
VILLAGE_A, VILLAGE_B = "510923100201", "510923100202"
TO_LON_LAT = Transformer.from_crs(4544, 4490, always_xy=True)


def lon_lat(x: float, y: float = Y0) -> list[float]:
    """EPSG:4544 metres as [lon, lat] (CRS84 / EPSG:4490)."""
    lon, lat = TO_LON_LAT.transform(x, y)
    return [lon, lat]


def point(x: float, y: float = Y0) -> dict[str, Any]:
    """A GeoJSON Point in CRS84 at (x, y) metres."""
    return {"type": "Point", "coordinates": lon_lat(x, y)}


def service_point(code: str, x: float, kind: str = "agency_station", village: str = VILLAGE_B) -> dict[str, Any]:
    """A GeoJSON Feature of a service point (CRS84)."""
    return {"type": "Feature", "geometry": point(x),
            "properties": {"code": code, "name": f"服务点{code}", "kind": kind, "village_code": village}}


def load_small_town(engine: Engine, directory: Path) -> None:
    """Store the town in ``engine`` (an empty database)."""
    layers = {
        "villages": gpd.GeoDataFrame(
            {"code": [VILLAGE_A, VILLAGE_B], "name": ["甲村", "乙村"], "kind": ["village", "village"]},
            geometry=[MultiPolygon([box(X0 - 1000, Y0 - 1000, X0 + 3000, Y0 + 1000)]),
                      MultiPolygon([box(X0 + 3000, Y0 - 1000, X0 + 7000, Y0 + 1000)])], crs=4544),
        "settlements": gpd.GeoDataFrame(
            {"code": ["S1", "S2", "S3"], "name": ["一组", "二组", "三组"],
             "village_code": [VILLAGE_A, VILLAGE_A, VILLAGE_B], "population": [100, 200, 300]},
            geometry=[Point(X0, Y0), Point(X0 + 2000, Y0), Point(X0 + 5000, Y0)], crs=4544),
        "service_points": gpd.GeoDataFrame(
            {"code": ["SP1"], "name": ["甲村中心阵地"], "kind": ["centre"], "village_code": [VILLAGE_A]},
            geometry=[Point(X0, Y0)], crs=4544),
        "roads": gpd.GeoDataFrame(
            {"code": ["R1"], "name": ["镇道"], "road_class": ["township"]},
            geometry=[MultiLineString([LineString([(X0 - 500, Y0), (X0 + 6000, Y0)])])], crs=4544),
    }
    service = LayerService(engine)
    for name, frame in layers.items():
        path = directory / f"{name}.geojson"
        frame.to_crs(4490).to_file(path, driver="GeoJSON")
        service.import_file(path, name)
