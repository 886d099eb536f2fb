"""Hand-made planning zones and sites for the conformance tests, small enough to compute by hand.

EPSG:4544 metres, offsets from (X0, Y0) of the small town. Zones (100 m squares unless said):

====  =========================  ===========  ====  ==================================
code  box (x0, y0, x1, y1)       zone type    code  meaning
====  =========================  ===========  ====  ==================================
E     (-100, 0, 0, 100)          village_c.   0804  education
A     (0, 0, 100, 100)           village_c.   0704  rural community services
B     (100, 0, 200, 100)         perm. farm.  0101  paddy, permanent basic farmland
C     (0, 100, 100, 200)         village_c.   0703  rural homestead
D     (200, 0, 300, 100)         village_c.   1001  industrial
K     (220, -50, 400, 150)       dev. bound.  —     town development boundary
====  =========================  ===========  ====  ==================================
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import MultiPolygon, Point, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine

from gis_service.services.layers import LayerService
from tests.services.small_town import X0, Y0

ZONES = (
    ("E", (-100, 0, 0, 100), "village_construction", "0804", "教育用地"),
    ("A", (0, 0, 100, 100), "village_construction", "0704", "农村社区服务设施用地"),
    ("B", (100, 0, 200, 100), "permanent_farmland", "0101", "水田"),
    ("C", (0, 100, 100, 200), "village_construction", "0703", "农村宅基地"),
    ("D", (200, 0, 300, 100), "village_construction", "1001", "工业用地"),
    ("K", (220, -50, 400, 150), "development_boundary", None, None),
)


def shifted(x0: float, y0: float, x1: float, y1: float) -> BaseGeometry:
    """A box given in offsets from (X0, Y0)."""
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def zones_frame() -> gpd.GeoDataFrame:
    """The zones in EPSG:4544."""
    return gpd.GeoDataFrame(
        {"code": [z[0] for z in ZONES], "name": [f"图斑{z[0]}" for z in ZONES], "zone_type": [z[2] for z in ZONES],
         "land_use_code": [z[3] for z in ZONES], "land_use_name": [z[4] for z in ZONES]},
        geometry=[MultiPolygon([shifted(*z[1])]) for z in ZONES], crs=4544)


# Assets: (code, category, footprint box or None, location offset).
ASSETS = (
    ("T-A", "village_office", (10, 10, 50, 50), (30, 30)),      # wholly on A (1600 m²)
    ("T-AB", "village_office", (80, 0, 120, 40), (90, 20)),     # half on A, half on B (800 m² each)
    ("T-C", "shop", (10, 110, 50, 150), (30, 130)),             # wholly on homestead C
    ("T-D", "factory", (210, 10, 250, 50), (230, 30)),          # on D, 30 of 40 m inside K: 75 %
    ("T-B", "land", (120, 20, 180, 80), (150, 50)),             # farmland B
    ("T-OUT", "warehouse", None, (600, 600)),                   # no planning zone
)


def assets_frame() -> gpd.GeoDataFrame:
    """The assets in EPSG:4544 (footprints as WKT in ``footprint``)."""
    return gpd.GeoDataFrame(
        {"code": [a[0] for a in ASSETS], "name": [f"资产{a[0]}" for a in ASSETS],
         "ownership": "village_collective", "asset_class": "operating", "category": [a[1] for a in ASSETS],
         "use_status": "idle",
         "footprint": [shifted(*a[2]).wkt if a[2] else None for a in ASSETS]},
        geometry=[Point(X0 + a[3][0], Y0 + a[3][1]) for a in ASSETS], crs=4544)


def load(engine: Engine, directory: Path) -> None:
    """Store the zones and the assets in ``engine``."""
    for name, frame in (("planning_zones", zones_frame()), ("assets", assets_frame())):
        path = directory / f"conformance_{name}.gpkg"
        frame.to_file(path, layer=name, driver="GPKG")
        LayerService(engine).import_file(path, name)
