"""SQL for registration pathways: assets with their ledger columns, and the planning zones around them."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, select

from gis_service.db.base import STORAGE_SRID
from gis_service.db.dialects import dialect_for, geometries_from_wkb
from gis_service.layers.registry import get_layer

ASSET_COLUMNS = ("code", "name", "village_code", "ownership", "category", "use_status", "certificate_no",
                 "documents_status")
ZONE_COLUMNS = ("code", "name", "zone_type", "land_use_code", "land_use_name")


class RegistrationRepository:
    """Reads for registration on an open connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = dialect_for(conn)

    def assets(self, *, village: str | None = None, code: str | None = None) -> gpd.GeoDataFrame:
        """Assets (all, one village's, or one by code) with location ``geometry`` and ``footprint``, EPSG:4490."""
        table = get_layer("assets").table
        statement = select(*(table.c[n] for n in ASSET_COLUMNS),
                           self.dialect.as_wkb(table.c.geom).label("geom"),
                           self.dialect.as_wkb(table.c.footprint).label("footprint")).order_by(table.c.code)
        if village is not None:
            statement = statement.where(table.c.village_code == village)
        if code is not None:
            statement = statement.where(table.c.code == code)
        rows = self.conn.execute(statement).all()
        return _frame(rows, ASSET_COLUMNS, extra="footprint")

    def zones(self, bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """Planning zones (EPSG:4490), only those meeting ``bbox`` (lon/lat) when given."""
        table = get_layer("planning_zones").table
        statement = select(*(table.c[n] for n in ZONE_COLUMNS),
                           self.dialect.as_wkb(table.c.geom).label("geom")).order_by(table.c.id)
        if bbox is not None:
            statement = statement.where(self.dialect.intersects_bbox(table, table.c.geom, bbox, STORAGE_SRID))
        return _frame(self.conn.execute(statement).all(), ZONE_COLUMNS)


def _frame(rows: Any, names: tuple[str, ...], extra: str | None = None) -> gpd.GeoDataFrame:
    records = [row._mapping for row in rows]
    # Object columns: pandas would turn text with gaps into its string dtype with NaN for None.
    frame = gpd.GeoDataFrame({n: pd.Series([r[n] for r in records], dtype=object) for n in names},
                             geometry=gpd.GeoSeries(geometries_from_wkb([r["geom"] for r in records]),
                                                    crs=STORAGE_SRID))
    if extra is not None:
        frame[extra] = geometries_from_wkb([r[extra] for r in records])
    return frame
