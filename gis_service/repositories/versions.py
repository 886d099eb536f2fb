"""SQL for the per-layer data versions that database triggers keep (see migration 0002)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, select

from gis_service.db.records import LayerVersion

VERSIONS = cast(Table, LayerVersion.__table__)


def layer_versions(conn: Connection) -> dict[str, int]:
    """Every layer's data version: a value that changes whenever anything in the layer does."""
    return {str(row[0]): int(row[1]) for row in conn.execute(select(VERSIONS.c.layer, VERSIONS.c.version))}
