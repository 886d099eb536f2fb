"""SQL for transfers (移交) of assets and for the claims and debts (债权债务) of former villages.

The caller owns the transaction; rows are returned as SQLAlchemy rows (``row.id``, ``row.status``, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Row, func, insert, select, update

from gis_service.repositories.ledger_books import ASSETS, CLAIMS, FORMER, TRANSFERS, VILLAGES


@dataclass(frozen=True)
class TransferFilter:
    """Which transfers to list (``None``: any)."""

    status: str | None = None
    asset_code: str | None = None
    from_code: str | None = None
    to_code: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class ClaimFilter:
    """Which claims and debts to list (``None``: any)."""

    former_village_code: str | None = None
    kind: str | None = None
    status: str | None = None
    to_code: str | None = None
    limit: int = 100
    offset: int = 0


class PlacesRepository:
    """Look-ups of the assets, merged and former villages that transfers refer to."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def asset_for_update(self, code: str) -> Row[Any] | None:
        """The asset's id, code, owner_code, owner_unit, village_code and former_village_code, locked."""
        statement = select(ASSETS.c.id, ASSETS.c.code, ASSETS.c.owner_code, ASSETS.c.owner_unit,
                           ASSETS.c.village_code, ASSETS.c.former_village_code).where(ASSETS.c.code == code)
        return cast("Row[Any] | None", self.conn.execute(statement.with_for_update()).one_or_none())

    def village(self, code: str) -> Row[Any] | None:
        """A merged village's code and name."""
        statement = select(VILLAGES.c.code, VILLAGES.c.name).where(VILLAGES.c.code == code)
        return cast("Row[Any] | None", self.conn.execute(statement).one_or_none())

    def former_village(self, code: str) -> Row[Any] | None:
        """A former village's code, name and merged_into."""
        statement = select(FORMER.c.code, FORMER.c.name, FORMER.c.merged_into).where(FORMER.c.code == code)
        return cast("Row[Any] | None", self.conn.execute(statement).one_or_none())


class TransferRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, Any]) -> int:
        result = self.conn.execute(insert(TRANSFERS).values(**values).returning(TRANSFERS.c.id))
        return int(result.scalar_one())

    def get(self, transfer_id: int, *, for_update: bool = False) -> Row[Any] | None:
        statement = select(TRANSFERS).where(TRANSFERS.c.id == transfer_id)
        return self.conn.execute(statement.with_for_update() if for_update else statement).one_or_none()

    def pending_for_asset(self, asset_code: str) -> Row[Any] | None:
        statement = select(TRANSFERS).where(TRANSFERS.c.asset_code == asset_code, TRANSFERS.c.status == "pending")
        return self.conn.execute(statement.order_by(TRANSFERS.c.id).limit(1)).one_or_none()

    def complete(self, transfer_id: int, transfer_date: date, approval: str) -> None:
        self.conn.execute(update(TRANSFERS).where(TRANSFERS.c.id == transfer_id).values(
            status="completed", transfer_date=transfer_date, approval=approval))

    def list(self, where: TransferFilter) -> tuple[list[Row[Any]], int]:
        """Matching transfers, oldest first, and how many match."""
        conditions = [TRANSFERS.c[name] == value for name, value in
                      (("status", where.status), ("asset_code", where.asset_code), ("from_code", where.from_code),
                       ("to_code", where.to_code)) if value is not None]
        total = self.conn.execute(select(func.count()).select_from(TRANSFERS).where(*conditions)).scalar_one()
        statement = (select(TRANSFERS).where(*conditions).order_by(TRANSFERS.c.id)
                     .limit(where.limit).offset(where.offset))
        return list(self.conn.execute(statement).all()), int(total)


class ClaimRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, Any]) -> int:
        result = self.conn.execute(insert(CLAIMS).values(**values).returning(CLAIMS.c.id))
        return int(result.scalar_one())

    def get(self, claim_id: int, *, for_update: bool = False) -> Row[Any] | None:
        statement = select(CLAIMS).where(CLAIMS.c.id == claim_id)
        return self.conn.execute(statement.with_for_update() if for_update else statement).one_or_none()

    def transfer(self, claim_id: int, to_code: str, transfer_date: date, approval: str) -> None:
        self.conn.execute(update(CLAIMS).where(CLAIMS.c.id == claim_id).values(
            status="completed", to_code=to_code, transfer_date=transfer_date, approval=approval))

    def list(self, where: ClaimFilter) -> tuple[list[Row[Any]], int]:
        """Matching claims and debts, oldest first, and how many match."""
        conditions = [CLAIMS.c[name] == value for name, value in
                      (("former_village_code", where.former_village_code), ("kind", where.kind),
                       ("status", where.status), ("to_code", where.to_code)) if value is not None]
        total = self.conn.execute(select(func.count()).select_from(CLAIMS).where(*conditions)).scalar_one()
        statement = select(CLAIMS).where(*conditions).order_by(CLAIMS.c.id).limit(where.limit).offset(where.offset)
        return list(self.conn.execute(statement).all()), int(total)
