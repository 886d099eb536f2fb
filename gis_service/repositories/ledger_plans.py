"""SQL for revitalisation plans (盘活方案) and the assets they belong to (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, Table, insert, select, update

from gis_service.db.dialects import dialect_for
from gis_service.db.ledger import RevitalisationPlan
from gis_service.db.models import Asset

PLANS = cast(Table, RevitalisationPlan.__table__)
ASSETS = cast(Table, Asset.__table__)

# What a plan needs to know about its asset: whose it is, where, and whether it is idle.
ASSET_COLUMNS = (ASSETS.c.code, ASSETS.c.name, ASSETS.c.ownership, ASSETS.c.use_status, ASSETS.c.village_code)


@dataclass(frozen=True)
class PlanFilter:
    """Conditions on the plans listed; ``None`` means any."""

    status: str | None = None
    village_code: str | None = None
    lead_unit: str | None = None  # a part of the lead unit's name
    mode: str | None = None
    asset_code: str | None = None


class PlanRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def asset(self, code: str) -> Row[Any] | None:
        """The asset with ledger code ``code`` (code, name, ownership, use_status, village_code)."""
        row = self.conn.execute(select(*ASSET_COLUMNS).where(ASSETS.c.code == code)).one_or_none()
        return cast("Row[Any] | None", row)

    def get(self, plan_id: int, *, for_update: bool = False) -> Row[Any] | None:
        """A plan with its asset's name, ownership, use status and village; locked with ``for_update``
        (PostgreSQL; SQLite's write transaction holds the database lock already)."""
        statement = _plans_with_assets().where(PLANS.c.id == plan_id)
        if for_update:
            statement = statement.with_for_update(of=PLANS)
        return self.conn.execute(statement).one_or_none()

    def id_for_asset(self, asset_code: str) -> int | None:
        """The id of the plan of ``asset_code``, if it has one (at most one: a unique index)."""
        value = self.conn.execute(select(PLANS.c.id).where(PLANS.c.asset_code == asset_code)).scalar_one_or_none()
        return None if value is None else int(value)

    def find(self, conditions: PlanFilter) -> Sequence[Row[Any]]:
        """Plans matching ``conditions``, by deadline then id."""
        statement = _plans_with_assets()
        if conditions.status is not None:
            statement = statement.where(PLANS.c.status == conditions.status)
        if conditions.mode is not None:
            statement = statement.where(PLANS.c.mode == conditions.mode)
        if conditions.asset_code is not None:
            statement = statement.where(PLANS.c.asset_code == conditions.asset_code)
        if conditions.village_code is not None:
            statement = statement.where(ASSETS.c.village_code == conditions.village_code)
        if conditions.lead_unit is not None:
            statement = statement.where(PLANS.c.lead_unit.contains(conditions.lead_unit, autoescape=True))
        return self.conn.execute(statement.order_by(PLANS.c.deadline, PLANS.c.id)).all()

    def insert(self, values: dict[str, Any]) -> int:
        now = datetime.now(UTC)
        statement = insert(PLANS).values(**values, version=1, created_at=now, updated_at=now)
        return int(self.conn.execute(statement).inserted_primary_key[0])  # type: ignore[index]

    def update(self, plan_id: int, expected_version: int, values: dict[str, Any]) -> bool:
        """Write ``values`` and raise the version, only if the plan is still at ``expected_version``.

        The version condition is what makes two concurrent writers unable to both win: the second one's
        ``UPDATE`` matches no row (PostgreSQL re-checks the condition after waiting for the first).
        """
        statement = (update(PLANS).where(PLANS.c.id == plan_id, PLANS.c.version == expected_version)
                     .values(**values, version=expected_version + 1, updated_at=datetime.now(UTC)))
        return bool(self.conn.execute(statement).rowcount)

    def points(self, asset_codes: Iterable[str]) -> dict[str, bytes]:
        """WKB of the points (EPSG:4490) of the assets with these codes."""
        codes = sorted(set(asset_codes))
        if not codes:
            return {}
        wkb = dialect_for(self.conn).as_wkb(ASSETS.c.geom)
        rows = self.conn.execute(select(ASSETS.c.code, wkb).where(ASSETS.c.code.in_(codes))).all()
        return {str(code): bytes(value) for code, value in rows if value is not None}


def _plans_with_assets() -> Select[Any]:
    asset = (ASSETS.c.name.label("asset_name"), ASSETS.c.ownership, ASSETS.c.use_status, ASSETS.c.village_code)
    return select(PLANS, *asset).select_from(PLANS.outerjoin(ASSETS, ASSETS.c.code == PLANS.c.asset_code))
