"""Reads for the ledger's books (inventory check, reconciliation, progress) and the milestones table.

Rows come back as plain frames, geometries as shapely arrays from WKB (EPSG:4490): no ORM objects, so
20,000 assets read in a fraction of a second. Nothing here commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Table, delete, insert, select

from gis_service.db.base import STORAGE_SRID
from gis_service.db.dialects import dialect_for, geometries_from_wkb
from gis_service.db.ledger import AssetTransfer, Milestone, RevitalisationPlan, VillageClaim
from gis_service.db.models import Asset, FormerVillage, Village

ASSETS = cast(Table, Asset.__table__)
VILLAGES = cast(Table, Village.__table__)
FORMER = cast(Table, FormerVillage.__table__)
PLANS = cast(Table, RevitalisationPlan.__table__)
TRANSFERS = cast(Table, AssetTransfer.__table__)
CLAIMS = cast(Table, VillageClaim.__table__)
MILESTONES = cast(Table, Milestone.__table__)

ASSET_COLUMNS = ("code", "name", "ownership", "category", "location", "village_code", "former_village_code",
                 "owner_code", "use_status", "land_area", "floor_area", "original_value", "net_value",
                 "inventoried_on")
PLAN_COLUMNS = ("id", "asset_code", "mode", "lead_unit", "responsible_person", "status", "planned_on", "deadline",
                "struck_off_on")
TRANSFER_COLUMNS = ("id", "asset_code", "from_code", "to_code", "status", "transfer_date")
CLAIM_COLUMNS = ("id", "former_village_code", "kind", "amount", "status", "to_code", "transfer_date")


class LedgerBooksRepository:
    """Whole-table reads of the layers and ledger tables the books need (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = dialect_for(conn)

    def assets(self, *, with_geometry: bool = True) -> gpd.GeoDataFrame | pd.DataFrame:
        """Every asset with the ledger columns and ``has_footprint``; points in EPSG:4490 when asked for."""
        columns: list[Any] = [ASSETS.c[name] for name in ASSET_COLUMNS]
        columns.append(ASSETS.c.footprint.is_not(None).label("has_footprint"))
        if with_geometry:
            columns.append(self.dialect.as_wkb(ASSETS.c.geom).label("geom"))
        frame = self._frame(select(*columns).order_by(ASSETS.c.id))
        frame["has_footprint"] = frame["has_footprint"].astype(bool)
        if not with_geometry:
            return frame
        return self._geo(frame)

    def villages(self) -> gpd.GeoDataFrame:
        """Merged villages: code, name and boundary (EPSG:4490)."""
        statement = select(VILLAGES.c.code, VILLAGES.c.name, self.dialect.as_wkb(VILLAGES.c.geom).label("geom"))
        return self._geo(self._frame(statement.order_by(VILLAGES.c.code)))

    def former_villages(self) -> gpd.GeoDataFrame:
        """Former villages: code, name, merged_into and boundary (EPSG:4490)."""
        statement = select(FORMER.c.code, FORMER.c.name, FORMER.c.merged_into,
                           self.dialect.as_wkb(FORMER.c.geom).label("geom"))
        return self._geo(self._frame(statement.order_by(FORMER.c.code)))

    def village_names(self) -> pd.DataFrame:
        """Merged villages without boundaries: code, name."""
        return self._frame(select(VILLAGES.c.code, VILLAGES.c.name).order_by(VILLAGES.c.code))

    def former_village_links(self) -> pd.DataFrame:
        """Former villages without boundaries: code, name, merged_into."""
        return self._frame(select(FORMER.c.code, FORMER.c.name, FORMER.c.merged_into).order_by(FORMER.c.code))

    def plans(self) -> pd.DataFrame:
        return self._frame(select(*(PLANS.c[c] for c in PLAN_COLUMNS)).order_by(PLANS.c.id))

    def transfers(self) -> pd.DataFrame:
        return self._frame(select(*(TRANSFERS.c[c] for c in TRANSFER_COLUMNS)).order_by(TRANSFERS.c.id))

    def claims(self) -> pd.DataFrame:
        return self._frame(select(*(CLAIMS.c[c] for c in CLAIM_COLUMNS)).order_by(CLAIMS.c.id))

    def milestones(self) -> dict[str, date]:
        """Milestones set in the database (key → due date); the notice's defaults fill the rest elsewhere."""
        return {row.key: row.due for row in self.conn.execute(select(MILESTONES.c.key, MILESTONES.c.due))}

    def set_milestone(self, key: str, due: date) -> None:
        """Store ``due`` for ``key`` (replacing any earlier date)."""
        self.conn.execute(delete(MILESTONES).where(MILESTONES.c.key == key))
        self.conn.execute(insert(MILESTONES).values(key=key, due=due))

    def _frame(self, statement: Any) -> pd.DataFrame:
        result = self.conn.execute(statement)
        names = list(result.keys())
        rows = result.all()
        # Column by column: building a frame from 20,000 row tuples costs pandas ten times as much.
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pd.DataFrame({name: pd.Series(values, dtype=object) if not values or _mixed(values)
                             else list(values) for name, values in zip(names, columns, strict=True)})

    @staticmethod
    def _geo(frame: pd.DataFrame) -> gpd.GeoDataFrame:
        geometries = geometries_from_wkb(frame.pop("geom").tolist())
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometries, crs=STORAGE_SRID))


def _mixed(values: tuple[Any, ...]) -> bool:
    """Whether a column holds ``None`` among other values: keep it as objects (``None``, not NaN) unless numeric."""
    first = next((v for v in values if v is not None), None)
    return None in values and not isinstance(first, int | float)
