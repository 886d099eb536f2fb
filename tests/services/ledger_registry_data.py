"""Hand-made assets and planning zones for the registration and ledger tests, drawn in EPSG:4544 metres."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import Point, box

from gis_service.services.layers import LayerService

X0, Y0 = 524_000.0, 3_381_000.0  # near Penglai in EPSG:4544
VILLAGE_A, VILLAGE_B = "510923100201", "510923100202"
CERTIFICATE = "川(2020)大英县不动产权第0000001号"


def at(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.affinity.translate(geom, X0, Y0)


def load_zones(service: LayerService, directory: Path) -> None:
    """Construction land 0-100 m, permanent farmland 100-200 m, a pond (water) 200-300 m."""
    frame = gpd.GeoDataFrame(
        {"code": ["Z-VC", "Z-PF", "Z-W"], "name": ["院落", "基本农田", "堰塘"],
         "zone_type": ["village_construction", "permanent_farmland", "water"],
         "land_use_code": ["0703", "0101", "1704"], "land_use_name": ["农村宅基地", "水田", "坑塘水面"]},
        geometry=[at(box(0, 0, 100, 100)), at(box(100, 0, 200, 100)), at(box(200, 0, 300, 100))], crs=4544)
    path = directory / "zones.gpkg"
    pyogrio.write_dataframe(frame, path)
    service.import_file(path, "planning_zones")


def asset(code: str, where: shapely.Geometry, footprint: shapely.Geometry | None = None,
          **properties: Any) -> dict[str, Any]:
    return {"code": code, "name": f"资产{code}", "ownership": "village_collective", "asset_class": "operating",
            "category": "shop", "use_status": "idle", "village_code": VILLAGE_A, "documents_status": "incomplete",
            "geometry": at(where), "footprint": None if footprint is None else at(footprint).wkt, **properties}


def load_assets(service: LayerService, directory: Path, rows: list[dict[str, Any]]) -> None:
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=4544)
    path = directory / f"assets-{len(list(directory.glob('assets-*')))}.gpkg"
    pyogrio.write_dataframe(frame, path)
    service.import_file(path, "assets")


def four_pathways() -> list[dict[str, Any]]:
    """One asset per pathway (and two more ways to reach plan_first and joint_approval)."""
    return [
        asset("R-CERT", Point(50, 50), certificate_no=CERTIFICATE),
        asset("R-DOCS", Point(60, 50), documents_status="complete", village_code=VILLAGE_B),
        asset("R-JOINT", Point(20, 20), box(10, 10, 40, 30)),  # 30 x 20 m on construction land
        asset("R-FARM", Point(100, 45), box(80, 20, 120, 70)),  # half of 2000 m² on permanent farmland
        asset("R-NODATA", Point(900, 900), documents_status="none"),
        asset("R-POND", Point(250, 50), category="pond", asset_class="resource"),
    ]
