"""SQL for reading features one page at a time (the OGC API items), on both backends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyproj import CRS
from sqlalchemy import ColumnElement, Connection, Row, Table, and_, delete, func, insert, select, update

from gis_service.crs import CRS84_URI, parse_crs
from gis_service.db.base import STORAGE_SRID
from gis_service.db.dialects import dialect_for, geometries_from_wkb, town_scope
from gis_service.layers.registry import LayerSpec
from gis_service.repositories.cql2 import FilterCompiler
from gis_service.repositories.history import HistoryRepository

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class FeatureQuery:
    """Which features, in what order: equality filters on fields, a bbox in EPSG:4490 (lon/lat), sort keys."""

    equals: dict[str, Any] = field(default_factory=dict)
    bbox: BBox | None = None
    sortby: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    cql2: Any = None  # a parsed CQL2 filter (pygeofilter AST)
    filter_crs: CRS | None = None  # CRS of geometry literals in ``cql2`` (default CRS84)
    limit: int = 10
    offset: int = 0


class FeatureRepository:
    """Read features of one layer on an open connection."""

    def __init__(self, conn: Connection, layer: LayerSpec) -> None:
        self.conn = conn
        self.layer = layer
        self.table = layer.table
        self.dialect = dialect_for(conn)

    @property
    def attribute_names(self) -> list[str]:
        return [f.name for f in self.layer.fields]

    def _columns(self) -> list[Any]:
        table = self.table
        return [
            table.c.id, *(table.c[n] for n in self.attribute_names), table.c.created_at, table.c.updated_at,
            *(self.dialect.as_wkb(table.c[g]).label(g) for g in self.layer.geometry_columns),
        ]

    def _where(self, query: FeatureQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [*town_scope(self.conn, self.table),
                                                 *(self.table.c[name] == value for name, value in query.equals.items())]
        if query.bbox is not None:
            geom = self.table.c[self.layer.geometry_column]
            conditions.append(self.dialect.intersects_bbox(self.table, geom, query.bbox, STORAGE_SRID))
        if query.cql2 is not None:
            compiler = FilterCompiler(self.layer, self.table, self.dialect, query.filter_crs or parse_crs(CRS84_URI))
            conditions.append(compiler.compile(query.cql2))
        return conditions

    def count(self, query: FeatureQuery) -> int:
        statement = select(func.count()).select_from(self.table)
        conditions = self._where(query)
        if conditions:
            statement = statement.where(and_(*conditions))
        return int(self.conn.execute(statement).scalar_one())

    def page(self, query: FeatureQuery) -> Sequence[Row[Any]]:
        """One page of rows: id, attributes, created_at, updated_at, then WKB of each geometry column.

        The order is stable: the sort keys, then id.
        """
        # NULLS LAST on both backends (SQLite's default is first, PostgreSQL's last when ascending).
        order = [(self.table.c[name].desc() if descending else self.table.c[name].asc()).nulls_last()
                 for name, descending in query.sortby]
        statement = select(*self._columns()).order_by(*order, self.table.c.id).limit(query.limit).offset(query.offset)
        conditions = self._where(query)
        if conditions:
            statement = statement.where(and_(*conditions))
        return self.conn.execute(statement).all()

    def get(self, feature_id: int) -> Row[Any] | None:
        statement = select(*self._columns()).where(self.table.c.id == feature_id, *town_scope(self.conn, self.table))
        return self.conn.execute(statement).one_or_none()

    def geometries_by_code(self, codes: Iterable[str]) -> list[Any]:
        """Primary geometries (shapely, EPSG:4490) of the features with these codes."""
        column = self.dialect.as_wkb(self.table.c[self.layer.geometry_column])
        rows = self.conn.execute(select(column).where(self.table.c.code.in_(list(codes)),
                                                      *town_scope(self.conn, self.table))).scalars().all()
        return list(geometries_from_wkb(rows))


class FeatureWriter(FeatureRepository):
    """Write single features of one layer (the caller owns the transaction)."""

    def get_for_update(self, feature_id: int) -> Row[Any] | None:
        """The feature, locked until the transaction ends (PostgreSQL; SQLite holds the write lock already)."""
        statement = (select(*self._columns()).where(self.table.c.id == feature_id, *town_scope(self.conn, self.table))
                     .with_for_update())
        return self.conn.execute(statement).one_or_none()

    def codes_taken(self, codes: Iterable[str], except_id: int | None = None) -> set[str]:
        """Which of ``codes`` other features already use."""
        code = self.table.c.code
        statement = select(code).where(code.in_(list(codes)), *town_scope(self.conn, self.table))
        if except_id is not None:
            statement = statement.where(self.table.c.id != except_id)
        return set(self.conn.execute(statement).scalars())

    def insert_one(self, values: dict[str, Any], geometries: dict[str, bytes | None],
                   feature_id: int | None = None) -> int:
        """Insert one feature; ``feature_id`` None lets the database choose the id."""
        row = {**values, **self._geometry_values(geometries)}
        if feature_id is not None:
            row["id"] = feature_id
        result = self.conn.execute(insert(self.table).values(**row).returning(self.table.c.id))
        return int(result.scalar_one())

    def update_one(self, feature_id: int, values: dict[str, Any], geometries: dict[str, bytes | None]) -> None:
        row = {**values, **self._geometry_values(geometries), "updated_at": func.current_timestamp()}
        self.conn.execute(update(self.table).where(self.table.c.id == feature_id, *town_scope(self.conn, self.table))
                          .values(**row))

    def delete_one(self, feature_id: int) -> None:
        self.conn.execute(delete(self.table).where(self.table.c.id == feature_id, *town_scope(self.conn, self.table)))

    def _geometry_values(self, geometries: dict[str, bytes | None]) -> dict[str, Any]:
        return {name: None if wkb is None else self.dialect.geometry_literal(wkb, STORAGE_SRID)
                for name, wkb in geometries.items()}


def first_free_id(conn: Connection, table: Table) -> int:
    """An id never used in ``table``: above every stored id and every id in its edit history."""
    stored = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
    return max(stored, HistoryRepository(conn, table.name).max_feature_id()) + 1
