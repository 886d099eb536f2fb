"""SQL for the edit history of features (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, func, insert, select

from gis_service.db.records import FeatureVersion

HISTORY = cast(Table, FeatureVersion.__table__)


class HistoryRepository:
    def __init__(self, conn: Connection, layer: str) -> None:
        self.conn = conn
        self.layer = layer

    def add(self, feature_id: int, action: str, actor: str, changed_at: datetime,
            before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
        """Record a change; returns its version number (1 for the first change of the feature)."""
        version = self.latest_version(feature_id) + 1
        self.conn.execute(insert(HISTORY).values(
            layer=self.layer, feature_id=feature_id, version=version, action=action, actor=actor,
            changed_at=changed_at, before=before, after=after))
        return version

    def latest_version(self, feature_id: int) -> int:
        statement = select(func.coalesce(func.max(HISTORY.c.version), 0)).where(
            HISTORY.c.layer == self.layer, HISTORY.c.feature_id == feature_id)
        return int(self.conn.execute(statement).scalar_one())

    def versions(self, feature_id: int) -> Sequence[Row[Any]]:
        statement = (select(HISTORY).where(HISTORY.c.layer == self.layer, HISTORY.c.feature_id == feature_id)
                     .order_by(HISTORY.c.version))
        return self.conn.execute(statement).all()

    def version(self, feature_id: int, version: int) -> Row[Any] | None:
        statement = select(HISTORY).where(HISTORY.c.layer == self.layer, HISTORY.c.feature_id == feature_id,
                                          HISTORY.c.version == version)
        return self.conn.execute(statement).one_or_none()

    def changes(self, action: str | None, limit: int, offset: int) -> tuple[Sequence[Row[Any]], int]:
        """The layer's changes, newest first, and how many there are."""
        conditions = [HISTORY.c.layer == self.layer]
        if action is not None:
            conditions.append(HISTORY.c.action == action)
        total = int(self.conn.execute(select(func.count()).select_from(HISTORY).where(*conditions)).scalar_one())
        statement = (select(HISTORY).where(*conditions).order_by(HISTORY.c.changed_at.desc(), HISTORY.c.id.desc())
                     .limit(limit).offset(offset))
        return self.conn.execute(statement).all(), total

    def max_feature_id(self) -> int:
        statement = select(func.coalesce(func.max(HISTORY.c.feature_id), 0)).where(HISTORY.c.layer == self.layer)
        return int(self.conn.execute(statement).scalar_one())

