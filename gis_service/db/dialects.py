"""The one seam between PostGIS and SpatiaLite.

Everything that differs between the two backends is a method here: DDL for geometry columns and their
spatial index, bulk loading, and the spatial SQL functions whose names differ. Repositories and
migrations ask :func:`dialect_for` and never test the backend themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, LargeBinary, Table, Text, and_, bindparam, func, literal_column, select
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.sql.elements import ColumnElement


class SpatialDialect:
    """Behaviour shared by both backends; subclasses override what differs."""

    name = "generic"
    # Whether the database may hand a deleted row's id to a new row. SQLite does (an INTEGER PRIMARY KEY
    # without AUTOINCREMENT takes max(id) + 1), which would mix a new feature's history with a deleted one's
    # and block its undelete, so ids are then chosen explicitly (see ``repositories.layers.first_free_id``).
    reuses_deleted_ids = False

    def add_geometry_column(
        self, conn: Connection, table: str, column: str, geometry_type: str, srid: int, nullable: bool
    ) -> None:
        raise NotImplementedError

    def drop_geometry_table(self, conn: Connection, table: str, geometry_columns: Sequence[str]) -> None:
        raise NotImplementedError

    def bulk_insert(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
        geometries: dict[str, np.ndarray], srid: int,
    ) -> None:
        """Insert ``rows`` of attribute values in ``columns`` order, with one array of shapely
        geometries (``None`` for null) per geometry column in ``geometries``."""
        raise NotImplementedError

    def extent(self, column: Any) -> list[ColumnElement[Any]]:
        """Expressions for (xmin, ymin, xmax, ymax) of a geometry column over all rows."""
        raise NotImplementedError

    def create_version_trigger(self, conn: Connection, table: str) -> None:
        """Triggers that give ``layer_versions.version`` of ``table`` a new random value on every insert, update
        or delete. Random rather than counted: after a database is restored from a backup, a counter would
        repeat values that server caches already hold under other data."""
        raise NotImplementedError

    def lock_for_edit(self, conn: Connection, layer: str) -> None:
        """Serialise edits of one layer until the transaction ends, so that checks (a free code, a free id)
        still hold when the row is written."""

    def restart_ids(self, conn: Connection, table: Table, next_id: int) -> None:
        """After rows were inserted with explicit ids, make ``next_id`` the next generated one."""

    def drop_version_trigger(self, conn: Connection, table: str) -> None:
        raise NotImplementedError

    @contextmanager
    def bulk_load(self, conn: Connection, table: str, geometry_columns: Sequence[str]) -> Iterator[None]:
        """Around a large load in the current transaction: a backend may suspend index upkeep."""
        yield

    def as_wkb(self, column: Any) -> ColumnElement[Any]:
        return func.ST_AsBinary(column)

    def intersects_bbox(
        self, table: Table, column: Any, bbox: tuple[float, float, float, float], srid: int
    ) -> ColumnElement[bool]:
        """Rows whose geometry intersects ``bbox`` (in the column's CRS), using the spatial index."""
        raise NotImplementedError

    def geometry_literal(self, wkb: bytes, srid: int) -> ColumnElement[Any]:
        """A bound geometry value."""
        return func.ST_GeomFromWKB(bindparam(None, wkb, type_=LargeBinary), srid)

    def spatial_predicate(self, function: str, column: Any, other: Any) -> ColumnElement[bool]:
        """``function(column, other)`` (ST_Intersects, ST_Within…) as a boolean condition."""
        return getattr(func, function)(column, other)


class PostGISDialect(SpatialDialect):
    name = "postgis"

    def add_geometry_column(
        self, conn: Connection, table: str, column: str, geometry_type: str, srid: int, nullable: bool
    ) -> None:
        null = "" if nullable else " NOT NULL"
        conn.exec_driver_sql(
            f'ALTER TABLE "{table}" ADD COLUMN "{column}" geometry({geometry_type}, {srid}){null}'
        )
        conn.exec_driver_sql(f'CREATE INDEX "idx_{table}_{column}" ON "{table}" USING GIST ("{column}")')

    def drop_geometry_table(self, conn: Connection, table: str, geometry_columns: Sequence[str]) -> None:
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')

    def bulk_insert(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
        geometries: dict[str, np.ndarray], srid: int,
    ) -> None:
        # COPY is 10-50x faster than INSERTs; geometries go in as hex EWKB text, which PostGIS parses
        # directly, so the SRID travels with each value.
        names = ", ".join(f'"{c}"' for c in [*columns, *geometries])
        encoded = [
            shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True).tolist()
            for geoms in geometries.values()
        ]
        # PostgreSQL refuses COPY into a table with row-level security (every town table: migration 0005), so
        # the rows are copied into a temporary table first and moved with one INSERT, which the town policy
        # checks and the version trigger sees once. Still about 10x faster than INSERTs.
        stage = f"gis_stage_{table.name}"
        conn.exec_driver_sql(f'CREATE TEMP TABLE "{stage}" ON COMMIT DROP AS SELECT {names} FROM "{table.name}" '
                             "WITH NO DATA")
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
            for row, *geoms in zip(rows, *encoded, strict=True):
                copy.write_row((*row, *geoms))
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{stage}"')
        conn.exec_driver_sql(f'DROP TABLE "{stage}"')

    def intersects_bbox(
        self, table: Table, column: Any, bbox: tuple[float, float, float, float], srid: int
    ) -> ColumnElement[bool]:
        # ST_Intersects uses the GiST index by itself.
        return func.ST_Intersects(column, func.ST_MakeEnvelope(*bbox, srid))

    def create_version_trigger(self, conn: Connection, table: str) -> None:
        # One statement-level trigger function for every layer: a 100k-row COPY changes the version once. It is
        # created here the first time only (migration 0002); migration 0005 replaced it with the per-town one,
        # which a later table's trigger must not overwrite.
        exists = conn.exec_driver_sql("SELECT to_regproc('gis_bump_layer_version') IS NOT NULL").scalar()
        if not exists:
            conn.exec_driver_sql(
                "CREATE FUNCTION gis_bump_layer_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN INSERT INTO layer_versions (layer, version) "
                "VALUES (TG_TABLE_NAME, (random() * 9.2e18)::bigint) "
                "ON CONFLICT (layer) DO UPDATE SET version = EXCLUDED.version; RETURN NULL; END $$"
            )
        conn.exec_driver_sql(
            f'CREATE TRIGGER gis_layer_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION gis_bump_layer_version()"
        )

    def drop_version_trigger(self, conn: Connection, table: str) -> None:
        conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS gis_layer_version ON "{table}"')

    def restart_ids(self, conn: Connection, table: Table, next_id: int) -> None:
        # SQLite needs nothing (layer ids are chosen explicitly there); a PostgreSQL serial keeps its own count.
        # One sequence serves the table's partitions of every town: never move it back below ids in use.
        sequence = conn.execute(select(func.pg_get_serial_sequence(f'"{table.name}"', "id"))).scalar_one()
        conn.exec_driver_sql(
            f"SELECT setval(%s, greatest(%s, (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END "
            f"FROM {sequence})), false)", (sequence, next_id))

    def lock_for_edit(self, conn: Connection, layer: str) -> None:
        # Without it two concurrent creates with one code both pass the duplicate check and the loser gets a
        # unique violation instead of a clear 422. SQLite needs nothing: BEGIN IMMEDIATE serialises writers.
        # Per town and layer: towns never wait for each other's edits.
        town = func.current_setting("gis.town", True)
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(func.concat("gis_service.", town, ".", layer)))))

    def extent(self, column: Any) -> list[ColumnElement[Any]]:
        box = func.ST_Extent(column)
        return [func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box)]


class SpatiaLiteDialect(SpatialDialect):
    name = "spatialite"
    reuses_deleted_ids = True

    def add_geometry_column(
        self, conn: Connection, table: str, column: str, geometry_type: str, srid: int, nullable: bool
    ) -> None:
        not_null = 0 if nullable else 1
        conn.exec_driver_sql(
            "SELECT AddGeometryColumn(?, ?, ?, ?, 'XY', ?)",
            (table, column, srid, geometry_type, not_null),
        )
        conn.exec_driver_sql("SELECT CreateSpatialIndex(?, ?)", (table, column))

    def drop_geometry_table(self, conn: Connection, table: str, geometry_columns: Sequence[str]) -> None:
        for column in geometry_columns:
            conn.exec_driver_sql("SELECT DisableSpatialIndex(?, ?)", (table, column))
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "idx_{table}_{column}"')
            conn.exec_driver_sql("SELECT DiscardGeometryColumn(?, ?)", (table, column))
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')

    def bulk_insert(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
        geometries: dict[str, np.ndarray], srid: int,
    ) -> None:
        names = ", ".join(f'"{c}"' for c in [*columns, *geometries])
        marks = ", ".join(["?"] * len(columns) + [f"GeomFromWKB(?, {int(srid)})"] * len(geometries))
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
        encoded = [shapely.to_wkb(geoms).tolist() for geoms in geometries.values()]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, ((*row, *geoms) for row, *geoms in zip(rows, *encoded, strict=True)))
        finally:
            cursor.close()

    def intersects_bbox(
        self, table: Table, column: Any, bbox: tuple[float, float, float, float], srid: int
    ) -> ColumnElement[bool]:
        # SpatiaLite never uses its R*Tree implicitly: pre-filter ROWIDs through the SpatialIndex virtual
        # table, then test the exact geometry. ``id`` is INTEGER PRIMARY KEY, i.e. the ROWID.
        frame = func.BuildMbr(*bbox, srid)
        index = sql_table("SpatialIndex", sql_column("ROWID"), sql_column("f_table_name"),
                          sql_column("f_geometry_column"), sql_column("search_frame"))
        candidates = select(index.c.ROWID).where(
            index.c.f_table_name == table.name, index.c.f_geometry_column == column.name,
            index.c.search_frame == frame,
        )
        return and_(table.c.id.in_(candidates), func.ST_Intersects(column, frame) == 1)

    def geometry_literal(self, wkb: bytes, srid: int) -> ColumnElement[Any]:
        return func.GeomFromWKB(bindparam(None, wkb, type_=LargeBinary), srid)

    def spatial_predicate(self, function: str, column: Any, other: Any) -> ColumnElement[bool]:
        # SpatiaLite's predicates return 1, 0 or -1 (error), not booleans.
        return getattr(func, function)(column, other) == 1

    @contextmanager
    def bulk_load(self, conn: Connection, table: str, geometry_columns: Sequence[str]) -> Iterator[None]:
        # SpatiaLite's triggers update the R*Tree row by row; dropping the index and building it once after
        # the load is about 2x faster for 100k points. All of it is inside the caller's transaction, so a
        # failed load rolls the index back with the rows.
        for column in geometry_columns:
            conn.exec_driver_sql("SELECT DisableSpatialIndex(?, ?)", (table, column))
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "idx_{table}_{column}"')
        yield
        for column in geometry_columns:
            conn.exec_driver_sql("SELECT CreateSpatialIndex(?, ?)", (table, column))

    def create_version_trigger(self, conn: Connection, table: str) -> None:
        # SQLite has row-level triggers only; one UPDATE of a one-row table per changed row costs about
        # 1 µs, small beside the insert itself.
        for event_name in ("insert", "update", "delete"):
            conn.exec_driver_sql(
                f'CREATE TRIGGER "gis_layer_version_{table}_{event_name}" AFTER {event_name.upper()} ON "{table}" '
                f"BEGIN UPDATE layer_versions SET version = random() WHERE layer = '{table}'; END"
            )

    def drop_version_trigger(self, conn: Connection, table: str) -> None:
        for event_name in ("insert", "update", "delete"):
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS "gis_layer_version_{table}_{event_name}"')

    def extent(self, column: Any) -> list[ColumnElement[Any]]:
        return [func.MIN(func.MbrMinX(column)), func.MIN(func.MbrMinY(column)),
                func.MAX(func.MbrMaxX(column)), func.MAX(func.MbrMaxY(column))]


def geometries_from_wkb(values: Sequence[Any]) -> np.ndarray:
    """Shapely geometries from WKB as either driver returns it (psycopg: memoryview, sqlite3: bytes)."""
    return shapely.from_wkb(np.array([None if v is None else bytes(v) for v in values], dtype=object))


_DIALECTS: dict[str, SpatialDialect] = {"postgresql": PostGISDialect(), "sqlite": SpatiaLiteDialect()}


def dialect_for(bind: Connection | Any) -> SpatialDialect:
    """The spatial dialect of an engine or connection."""
    name = bind.dialect.name
    try:
        return _DIALECTS[name]
    except KeyError:
        raise ValueError(f"unsupported database backend: {name}") from None


def town_scope(conn: Connection, table: Table) -> list[ColumnElement[bool]]:
    """On PostgreSQL, ``<table>.town_code = <the transaction's town>`` as a bound value; nothing on SQLite.

    Row security already confines every query to its town, but through ``current_setting()``, which PostgreSQL
    knows only when the query starts: the planner then opens and locks every town's partition and its indexes,
    and with a few hundred towns a transaction runs out of lock slots (``max_locks_per_transaction``). A value
    bound into the statement lets it prune to the town's partition while planning. Only for single-table
    statements on a town table (the column is not in the models: the database fills it).
    """
    if conn.dialect.name != "postgresql":
        return []
    from gis_service.db.engine import town_of

    return [literal_column(f'"{table.name}".town_code') == bindparam(None, town_of(conn), type_=Text)]
