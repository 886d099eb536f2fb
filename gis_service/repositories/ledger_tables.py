"""Bulk SQL on the ledger's tables: replace a table's rows (used to load the demo ledger)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, insert


def replace_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Delete every row of ``table`` and insert ``rows`` (in the caller's transaction); returns the count."""
    conn.execute(delete(table))
    if rows:
        conn.execute(insert(table), list(rows))
    return len(rows)
