"""SQL for API users (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, insert, select, update

from gis_service.db.records import User

USERS = cast(Table, User.__table__)


class UserRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, name: str, role: str, villages: Sequence[str], towns: Sequence[str], key_hash: str,
            key_prefix: str) -> int:
        statement = insert(USERS).values(name=name, role=role, villages=",".join(villages) or None,
                                         towns=",".join(towns),
                                         key_hash=key_hash, key_prefix=key_prefix, created_at=datetime.now(UTC))
        return int(self.conn.execute(statement).inserted_primary_key[0])  # type: ignore[index]

    def by_name(self, name: str) -> Row[Any] | None:
        return self.conn.execute(select(USERS).where(USERS.c.name == name)).one_or_none()

    def by_key_hash(self, key_hash: str) -> Row[Any] | None:
        return self.conn.execute(select(USERS).where(USERS.c.key_hash == key_hash)).one_or_none()

    def all(self) -> Sequence[Row[Any]]:
        return self.conn.execute(select(USERS).order_by(USERS.c.name)).all()

    def revoke(self, name: str) -> bool:
        statement = (update(USERS).where(USERS.c.name == name, USERS.c.revoked_at.is_(None))
                     .values(revoked_at=datetime.now(UTC)))
        return bool(self.conn.execute(statement).rowcount)
