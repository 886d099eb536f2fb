"""SQL for stored documents and photos (the caller owns the transaction; files are the store's business)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, func, insert, select, update

from gis_service.db.ledger import StoredDocument

DOCUMENTS = cast(Table, StoredDocument.__table__)


class DocumentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, *, sha256: str, media_type: str, size_bytes: int, original_name: str, purpose: str,
               asset_code: str | None, plan_id: int | None, uploaded_by: str, uploaded_at: datetime) -> int:
        statement = insert(DOCUMENTS).values(
            sha256=sha256, media_type=media_type, size_bytes=size_bytes, original_name=original_name,
            purpose=purpose, asset_code=asset_code, plan_id=plan_id, uploaded_by=uploaded_by,
            uploaded_at=uploaded_at)
        return int(self.conn.execute(statement).inserted_primary_key[0])  # type: ignore[index]

    def get(self, document_id: int) -> Row[Any] | None:
        return self.conn.execute(select(DOCUMENTS).where(DOCUMENTS.c.id == document_id)).one_or_none()

    def many(self, document_ids: Sequence[int]) -> Sequence[Row[Any]]:
        return self.conn.execute(select(DOCUMENTS).where(DOCUMENTS.c.id.in_(list(document_ids)))).all()

    def for_asset(self, asset_code: str) -> Sequence[Row[Any]]:
        statement = select(DOCUMENTS).where(DOCUMENTS.c.asset_code == asset_code).order_by(DOCUMENTS.c.id)
        return self.conn.execute(statement).all()

    def for_plan(self, plan_id: int, purpose: str | None = None) -> Sequence[Row[Any]]:
        statement = select(DOCUMENTS).where(DOCUMENTS.c.plan_id == plan_id)
        if purpose is not None:
            statement = statement.where(DOCUMENTS.c.purpose == purpose)
        return self.conn.execute(statement.order_by(DOCUMENTS.c.id)).all()

    def evidence_by_plan(self, plan_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
        """Ids of the strike-off evidence of each of these plans (plans without any are left out)."""
        if not plan_ids:
            return {}
        statement = (select(DOCUMENTS.c.plan_id, DOCUMENTS.c.id)
                     .where(DOCUMENTS.c.plan_id.in_(list(plan_ids)), DOCUMENTS.c.purpose == "evidence")
                     .order_by(DOCUMENTS.c.id))
        found: dict[int, list[int]] = {}
        for plan_id, document_id in self.conn.execute(statement):
            found.setdefault(int(plan_id), []).append(int(document_id))
        return {plan_id: tuple(ids) for plan_id, ids in found.items()}

    def attach(self, document_ids: Sequence[int], plan_id: int) -> int:
        """Attach documents to a plan; returns how many rows changed."""
        statement = update(DOCUMENTS).where(DOCUMENTS.c.id.in_(list(document_ids))).values(plan_id=plan_id)
        return int(self.conn.execute(statement).rowcount)

    def references(self, sha256: str) -> int:
        """How many rows point to the file with this SHA-256."""
        statement = select(func.count()).select_from(DOCUMENTS).where(DOCUMENTS.c.sha256 == sha256)
        return int(self.conn.execute(statement).scalar_one())
