"""SQL for whole-database snapshots: every table's rows (geometries as WKB), and loading them back.

Used by backup and restore; the caller owns the transaction (one, so a backup is consistent).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from geoalchemy2 import Geometry
from sqlalchemy import Connection, Table, func, insert, select, text

from gis_service.db.base import STORAGE_SRID, Base
from gis_service.db.dialects import dialect_for, geometries_from_wkb
from gis_service.repositories.features import first_free_id

BATCH = 10_000
# Kept by triggers, not by backups: a restored database gets fresh versions, so no server cache can
# mistake it for the one it replaced. A backup is of one town; the town list belongs to the database it goes into
# (restore adds the backup's town there).
NOT_BACKED_UP = frozenset({"layer_versions", "towns"})


def snapshot_tables() -> list[Table]:
    """Every table a backup holds, in an order that restores cleanly."""
    from gis_service.db import analysis_records, ledger, models, records  # noqa: F401  (registers every table on Base.metadata)

    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_BACKED_UP]


def is_geometry(column: Any) -> bool:
    return isinstance(column.type, Geometry)


def schema_revision(conn: Connection) -> str:
    return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def read_rows(conn: Connection, table: Table) -> Iterator[Sequence[Any]]:
    """Rows of ``table`` in id order (columns in table order; geometries as WKB bytes), batch by batch."""
    dialect = dialect_for(conn)
    columns = [dialect.as_wkb(c).label(c.name) if is_geometry(c) else c for c in table.columns]
    order = table.primary_key.columns.values()
    result = conn.execute(select(*columns).order_by(*order))
    for batch in result.partitions(BATCH):
        yield [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in batch]


def write_rows(conn: Connection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows read by :func:`read_rows` (same column order), ids included."""
    if not rows:
        return
    names = [c.name for c in table.columns]
    geometry_names = [c.name for c in table.columns if is_geometry(c)]
    if not geometry_names:
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    attribute_at = [i for i, c in enumerate(table.columns) if not is_geometry(c)]
    geometries = {name: geometries_from_wkb([row[names.index(name)] for row in rows]) for name in geometry_names}
    attributes = [tuple(row[i] for i in attribute_at) for row in rows]
    dialect_for(conn).bulk_insert(conn, table, [names[i] for i in attribute_at], attributes,
                                  {k: np.asarray(v, dtype=object) for k, v in geometries.items()}, STORAGE_SRID)


def restart_ids(conn: Connection, table: Table) -> None:
    """After rows were loaded with their ids, make new rows continue above them (and, for a layer, above
    every id its history names, so a deleted feature's id is never handed out again)."""
    if "id" not in table.columns:
        return
    dialect_for(conn).restart_ids(conn, table, first_free_id(conn, table))


def document_hashes(conn: Connection) -> list[str]:
    """The distinct SHA-256 of every stored document (the files a backup must keep)."""
    from gis_service.db.base import Base

    documents = Base.metadata.tables["documents"]
    return [str(h) for h in conn.execute(select(documents.c.sha256).distinct().order_by(documents.c.sha256))
            .scalars()]
