"""SQL for planning scenarios and their facility changes (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, Table, delete, func, insert, select, update

from gis_service.db.analysis_records import Scenario, ScenarioChange

SCENARIOS = cast(Table, Scenario.__table__)
CHANGES = cast(Table, ScenarioChange.__table__)


class ScenarioRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, name: str, description: str | None, created_by: str) -> int:
        now = datetime.now(UTC)
        statement = insert(SCENARIOS).values(name=name, description=description, status="draft",
                                             created_by=created_by, created_at=now, updated_at=now)
        return int(self.conn.execute(statement).inserted_primary_key[0])  # type: ignore[index]

    def by_id(self, scenario_id: int, *, for_update: bool = False) -> Row[Any] | None:
        """The scenario ``scenario_id``; with ``for_update`` its row stays locked (PostgreSQL) until the
        transaction ends, so changes and a promotion of one scenario take turns."""
        return self._one(select(SCENARIOS).where(SCENARIOS.c.id == scenario_id), for_update)

    def by_name(self, name: str, *, for_update: bool = False) -> Row[Any] | None:
        """The scenario named ``name``, locked like :meth:`by_id` with ``for_update``."""
        return self._one(select(SCENARIOS).where(SCENARIOS.c.name == name), for_update)

    def _one(self, statement: Select[Any], for_update: bool) -> Row[Any] | None:
        return self.conn.execute(statement.with_for_update() if for_update else statement).one_or_none()

    def all(self, limit: int, offset: int) -> tuple[Sequence[Row[Any]], int]:
        """Scenarios, newest first, each with its number of changes, and how many there are."""
        changes = (select(func.count()).select_from(CHANGES).where(CHANGES.c.scenario_id == SCENARIOS.c.id)
                   .scalar_subquery().label("changes"))
        total = int(self.conn.execute(select(func.count()).select_from(SCENARIOS)).scalar_one())
        statement = (select(SCENARIOS, changes).order_by(SCENARIOS.c.id.desc()).limit(limit).offset(offset))
        return self.conn.execute(statement).all(), total

    def touch(self, scenario_id: int) -> None:
        self.conn.execute(update(SCENARIOS).where(SCENARIOS.c.id == scenario_id).values(updated_at=datetime.now(UTC)))

    def mark_promoted(self, scenario_id: int, promoted_by: str) -> None:
        now = datetime.now(UTC)
        self.conn.execute(update(SCENARIOS).where(SCENARIOS.c.id == scenario_id).values(
            status="promoted", promoted_by=promoted_by, promoted_at=now, updated_at=now))

    def delete(self, scenario_id: int) -> None:
        # Changes first: SQLite enforces the foreign key only where PRAGMA foreign_keys is on.
        self.conn.execute(delete(CHANGES).where(CHANGES.c.scenario_id == scenario_id))
        self.conn.execute(delete(SCENARIOS).where(SCENARIOS.c.id == scenario_id))

    # ------------------------------------------------------------------ changes

    def changes(self, scenario_id: int) -> Sequence[Row[Any]]:
        """The scenario's changes in the order they were made."""
        statement = select(CHANGES).where(CHANGES.c.scenario_id == scenario_id).order_by(CHANGES.c.id)
        return self.conn.execute(statement).all()

    def change_for(self, scenario_id: int, layer: str, code: str) -> Row[Any] | None:
        """The scenario's change of one feature (there is at most one: later changes replace it)."""
        statement = select(CHANGES).where(CHANGES.c.scenario_id == scenario_id, CHANGES.c.layer == layer,
                                          CHANGES.c.feature_code == code)
        return self.conn.execute(statement).one_or_none()

    def add_change(self, scenario_id: int, values: dict[str, Any]) -> int:
        statement = insert(CHANGES).values(scenario_id=scenario_id, created_at=datetime.now(UTC), **values)
        return int(self.conn.execute(statement).inserted_primary_key[0])  # type: ignore[index]

    def update_change(self, change_id: int, values: dict[str, Any]) -> None:
        self.conn.execute(update(CHANGES).where(CHANGES.c.id == change_id).values(**values))

    def delete_change(self, change_id: int) -> None:
        self.conn.execute(delete(CHANGES).where(CHANGES.c.id == change_id))
