"""SQL for the spatial layers. Every statement on layer tables lives here; nothing here commits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from sqlalchemy import Connection, delete, func, select

from gis_service.db.base import STORAGE_SRID
from gis_service.db.dialects import dialect_for, geometries_from_wkb, town_scope
from gis_service.layers.registry import LayerSpec
from gis_service.repositories.features import first_free_id

READ_BATCH = 10_000


@dataclass(frozen=True)
class LayerStats:
    """Feature count and extent (EPSG:4490; ``None`` when the layer is empty)."""

    count: int
    extent: tuple[float, float, float, float] | None


class LayerRepository:
    """Read and bulk-write one layer on an open connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection, layer: LayerSpec) -> None:
        self.conn = conn
        self.layer = layer
        self.table = layer.table
        self.dialect = dialect_for(conn)

    def count(self) -> int:
        statement = select(func.count()).select_from(self.table).where(*town_scope(self.conn, self.table))
        return int(self.conn.execute(statement).scalar_one())

    def stats(self) -> LayerStats:
        geom = self.table.c[self.layer.geometry_column]
        row = self.conn.execute(select(func.count(), *self.dialect.extent(geom))
                                .where(*town_scope(self.conn, self.table))).one()
        count = int(row[0])
        if count == 0 or row[1] is None:
            return LayerStats(count, None)
        return LayerStats(count, (float(row[1]), float(row[2]), float(row[3]), float(row[4])))

    def existing_codes(self, codes: Iterable[str]) -> set[str]:
        """Which of ``codes`` are already stored (checked in chunks to keep statements small)."""
        wanted = list(dict.fromkeys(codes))
        found: set[str] = set()
        code = self.table.c.code
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start:start + 5000]
            found.update(self.conn.execute(select(code).where(code.in_(chunk), *town_scope(self.conn, self.table)))
                         .scalars())
        return found

    def delete_all(self) -> int:
        return int(self.conn.execute(delete(self.table).where(*town_scope(self.conn, self.table))).rowcount or 0)

    def insert(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], geometries: dict[str, np.ndarray]
    ) -> None:
        """Bulk-insert rows (values in ``columns`` order) with their geometries in the storage CRS."""
        if self.dialect.reuses_deleted_ids:
            start = first_free_id(self.conn, self.table)
            columns = ["id", *columns]
            rows = [(start + i, *row) for i, row in enumerate(rows)]
        self.dialect.bulk_insert(self.conn, self.table, columns, rows, geometries, STORAGE_SRID)

    def bulk_load(self) -> AbstractContextManager[None]:
        """Wrap a large series of :meth:`insert` calls (index upkeep may be deferred to the end)."""
        return self.dialect.bulk_load(self.conn, self.table.name, self.layer.geometry_columns)

    def read_frame(
        self, *, with_audit: bool = False, on_rows: Callable[[int], None] | None = None
    ) -> gpd.GeoDataFrame:
        """The whole layer as a GeoDataFrame in EPSG:4490, ordered by id; extra geometries as shapely
        objects in plain columns. ``on_rows`` is told how many rows arrived, batch by batch (progress)."""
        names = [f.name for f in self.layer.fields]
        if with_audit:
            names = ["id", *names, "created_at", "updated_at"]
        geometry_columns = self.layer.geometry_columns
        statement = select(
            *(self.table.c[n] for n in names),
            *(self.dialect.as_wkb(self.table.c[g]).label(g) for g in geometry_columns),
        ).where(*town_scope(self.conn, self.table)).order_by(self.table.c.id)
        rows: list[Any] = []
        for batch in self.conn.execute(statement).partitions(READ_BATCH):
            rows.extend(batch)
            if on_rows is not None:
                on_rows(len(batch))
        columns: dict[str, Any] = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        offset = len(names)
        geoms = {g: geometries_from_wkb([r[offset + i] for r in rows]) for i, g in enumerate(geometry_columns)}
        frame = gpd.GeoDataFrame(
            columns, geometry=gpd.GeoSeries(geoms[self.layer.geometry_column], crs=STORAGE_SRID)
        )
        for extra in self.layer.extra_geometries:
            frame[extra.name] = geoms[extra.name]
        return frame


