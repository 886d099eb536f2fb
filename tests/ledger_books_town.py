"""A small hand-made town for the ledger's books: two merged villages, three former villages, six assets,
two claims. Built in EPSG:4544 metres so every distance, area and sum in the tests can be worked out by hand.

Layout (metres from ORIGIN)::

    y=1000 +-----------+-----------+-----------------------+
           | F1 221    | F2 222    | F3 223                |
           |  A1 A6    |  A5   A2  |      A3               |
           |     A4    |           |                       |
    y=0    +-----------+-----------+-----------------------+
           x=0      x=1000      x=2000                  x=4000
           |<--- V1 510923100201 ->|<--- V2 510923100202 ->|
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Point, box, mapping
from sqlalchemy import Engine, insert

from gis_service.crs import analysis_crs, storage_crs, transform_geometries
from gis_service.repositories.ledger_books import CLAIMS, PLANS, TRANSFERS
from gis_service.services.layers import LayerService

ORIGIN = (500_000.0, 3_380_000.0)  # EPSG:4544, about 105°E 30.5°N
V1, V2 = "510923100201", "510923100202"
F1, F2, F3 = "510923100221", "510923100222", "510923100223"
TOWN = "510923100"

VILLAGES = [(V1, "东风村", (0, 0, 2000, 1000)), (V2, "新华村", (2000, 0, 4000, 1000))]
FORMER = [(F1, "白果村", V1, (0, 0, 1000, 1000)), (F2, "石桥村", V1, (1000, 0, 2000, 1000)),
          (F3, "红岩村", V2, (2000, 0, 4000, 1000))]
ASSET_FIELDS = ("code", "name", "ownership", "category", "use_status", "owner_code", "village_code",
                "former_village_code", "location", "land_area", "floor_area", "original_value", "net_value",
                "inventoried_on", "x", "y")
ASSETS = [
    ("JT-001", "原白果村村委会", "village_collective", "village_office", "idle", F1, V1, F1, "白果村1组",
     1000, 400, 50, 30, "2021-03-01", 500, 500),
    ("JT-002", "石桥堰塘", "village_collective", "pond", "in_use", V1, V1, F2, "石桥村3组",
     2000, 0, 20, 10, "2021-04-10", 1500, 500),
    ("JT-003", "红岩仓库", "village_collective", "warehouse", "leased", V2, V2, F3, "红岩村2组",
     500, 300, 40, 25, "2021-03-15", 3000, 500),
    ("GY-001", "原白果村小学", "town_state", "school", "idle", TOWN, V1, F1, "白果村4组",
     3000, 1500, 200, 150, None, 800, 200),
    ("JT-005", "石桥门市", "village_collective", "shop", "in_use", V1, V2, F1, "",
     100, 100, 5, 2, "2021-02-01", 1200, 800),
    ("jt-001", "原白果村村委会", "village_collective", "village_office", "partly_idle", F1, V1, F1, "白果村1组",
     1000, 400, 50, 30, "2021-03-31", 510, 500),
]
CLAIM_ROWS = [
    {"former_village_code": F1, "kind": "debt", "counterparty": "信用社", "amount": 10.0, "status": "pending"},
    {"former_village_code": F3, "kind": "claim", "counterparty": "养殖户", "amount": 5.0, "status": "completed",
     "to_code": V2, "transfer_date": pd.Timestamp("2021-05-01").date(), "approval": "蓬府〔2021〕5号"},
]


def metres(x: float, y: float) -> tuple[float, float]:
    return ORIGIN[0] + x, ORIGIN[1] + y


def lonlat(geometry: Any) -> Any:
    return transform_geometries(shapely.transform(
        [geometry], lambda xy: xy + ORIGIN), analysis_crs(), storage_crs())[0]


def frames() -> dict[str, gpd.GeoDataFrame]:
    """The town as GeoDataFrames in EPSG:4544 (for the pure code)."""
    villages = gpd.GeoDataFrame({"code": [v[0] for v in VILLAGES], "name": [v[1] for v in VILLAGES]},
                                geometry=[box(*_shift(v[2])) for v in VILLAGES], crs=analysis_crs())
    former = gpd.GeoDataFrame({"code": [f[0] for f in FORMER], "name": [f[1] for f in FORMER],
                               "merged_into": [f[2] for f in FORMER]},
                              geometry=[box(*_shift(f[3])) for f in FORMER], crs=analysis_crs())
    table = pd.DataFrame(ASSETS, columns=list(ASSET_FIELDS))
    assets = gpd.GeoDataFrame(table.drop(columns=["x", "y"]).assign(has_footprint=False),
                              geometry=[Point(*metres(x, y)) for x, y in zip(table.x, table.y, strict=True)],
                              crs=analysis_crs())
    return {"villages": villages, "former_villages": former, "assets": assets}


def _shift(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return (*metres(bounds[0], bounds[1]), *metres(bounds[2], bounds[3]))


def load(engine: Engine, directory: Path, *, claims: bool = True) -> None:
    """Store the town (layers through the ordinary import; claims straight into their table)."""
    town = frames()
    items = []
    for layer, frame in town.items():
        stored = frame.drop(columns=[c for c in ("has_footprint",) if c in frame]).to_crs(storage_crs())
        if layer != "assets":
            stored["geometry"] = [MultiPolygon([g]) for g in stored.geometry]
        path = directory / f"{layer}.geojson"
        path.write_text(json.dumps(_collection(stored), ensure_ascii=False), encoding="utf-8")
        items.append((path, layer))
    LayerService(engine).import_files(items)
    if claims:
        with engine.begin() as conn:
            for row in CLAIM_ROWS:
                conn.execute(insert(CLAIMS).values(recorded_by="test", **row))


def _collection(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    features = []
    for record, geometry in zip(frame.drop(columns="geometry").to_dict("records"), frame.geometry, strict=True):
        properties = {k: (None if pd.isna(v) else v) for k, v in record.items()}
        if properties.get("category") == "pond":
            properties["asset_class"] = "resource"
        elif "category" in properties:
            properties["asset_class"] = "non_operating"
        if "merged_into" not in properties and "ownership" not in properties:
            properties["kind"] = "village"
        features.append({"type": "Feature", "geometry": mapping(geometry), "properties": properties})
    return {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
            "features": features}


def add_transfer(engine: Engine, asset_code: str, from_code: str, to_code: str, status: str = "completed",
                 when: str | None = None) -> None:
    """A transfer row as if recorded earlier (no owner change: the town data already says who owns what)."""
    with engine.begin() as conn:
        conn.execute(insert(TRANSFERS).values(
            asset_code=asset_code, from_code=from_code, to_code=to_code, status=status, recorded_by="test",
            transfer_date=None if when is None else pd.Timestamp(when).date(), approval="蓬府〔2021〕1号"))


def add_plan(engine: Engine, asset_code: str, mode: str, planned_on: str, deadline: str, status: str = "pending",
             struck_off_on: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(insert(PLANS).values(
            asset_code=asset_code, mode=mode, target_use="lease", lead_unit="农业综合服务中心",
            responsible_person="李四", planned_on=pd.Timestamp(planned_on).date(),
            deadline=pd.Timestamp(deadline).date(), status=status,
            struck_off_on=None if struck_off_on is None else pd.Timestamp(struck_off_on).date()))
