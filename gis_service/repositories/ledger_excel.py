"""SQL for ledger imports: which stored assets the rows of a sheet name (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from gis_service.layers.registry import get_layer

CHUNK = 5000


def asset_keys(conn: Connection, codes: Iterable[str]) -> dict[str, tuple[int, str | None]]:
    """For each of ``codes`` already stored: the asset's id and village code."""
    table = get_layer("assets").table
    wanted = list(dict.fromkeys(codes))
    found: dict[str, tuple[int, str | None]] = {}
    for start in range(0, len(wanted), CHUNK):
        statement = select(table.c.code, table.c.id, table.c.village_code).where(
            table.c.code.in_(wanted[start:start + CHUNK]))
        found.update({code: (int(fid), village) for code, fid, village in conn.execute(statement).all()})
    return found
