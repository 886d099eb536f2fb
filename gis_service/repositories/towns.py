"""SQL for the list of towns a database serves (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, delete, insert, select

from gis_service.db.records import Town

TOWNS = cast(Table, Town.__table__)


class TownRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def codes(self) -> list[str]:
        return [str(code) for code in self.conn.execute(select(TOWNS.c.town_code).order_by(TOWNS.c.town_code))
                .scalars()]

    def all(self) -> Sequence[Row[Any]]:
        return self.conn.execute(select(TOWNS).order_by(TOWNS.c.town_code)).all()

    def get(self, code: str) -> Row[Any] | None:
        return self.conn.execute(select(TOWNS).where(TOWNS.c.town_code == code)).one_or_none()

    def add(self, code: str, name: str) -> None:
        self.conn.execute(insert(TOWNS).values(town_code=code, name=name, county_code=code[:6]))

    def delete(self, code: str) -> None:
        self.conn.execute(delete(TOWNS).where(TOWNS.c.town_code == code))
