"""SQL for the per-layer data versions that database triggers keep (see migrations 0002 and 0005)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import Connection, Table, select

from gis_service.db.engine import town_of
from gis_service.db.records import LayerVersion

VERSIONS = cast(Table, LayerVersion.__table__)


def layer_versions(conn: Connection) -> dict[str, int]:
    """Every layer's data version in the transaction's town: a value that changes whenever the layer does."""
    statement = select(VERSIONS.c.layer, VERSIONS.c.version).where(VERSIONS.c.town_code == town_of(conn))
    return {str(row[0]): int(row[1]) for row in conn.execute(statement)}


def every_town_layer_versions(conn: Connection, towns: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
    """``(town, layer) -> version`` for ``towns`` (default every town): one query serves the response cache of all
    of them."""
    statement = select(VERSIONS.c.town_code, VERSIONS.c.layer, VERSIONS.c.version)
    if towns is not None:
        statement = statement.where(VERSIONS.c.town_code.in_(sorted(towns)))
    return {(str(row[0]), str(row[1])): int(row[2]) for row in conn.execute(statement)}
