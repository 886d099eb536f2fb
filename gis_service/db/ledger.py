"""Tables of the asset ledger (plan 2 of the notice) around the ``assets`` layer.

Transfers, claims and debts of former villages, revitalisation plans, stored documents and the notice's
milestones. Assets are referred to by their ledger code (资产编码), the key clerks use on paper and in Excel.
Coded columns take the code lists of :mod:`gis_service.layers.codelists` (``transfer_status``,
``claim_kind``, ``revitalisation_mode``, ``target_use``, ``plan_status``, ``document_purpose``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Float, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.db.base import Base


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.current_timestamp())


class AssetTransfer(Base):
    """移交: one asset passing from a former village (or unit) to the merged village (or the town)."""

    __tablename__ = "asset_transfers"
    __table_args__ = (Index("ix_asset_transfers_asset", "asset_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_code: Mapped[str] = mapped_column(Text, nullable=False)
    from_code: Mapped[str] = mapped_column(Text, nullable=False)  # former village or unit giving the asset
    to_code: Mapped[str] = mapped_column(Text, nullable=False)  # merged village or unit receiving it
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    transfer_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    approval: Mapped[str | None] = mapped_column(Text, nullable=True)  # approval document (批复文号)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = _now()


class VillageClaim(Base):
    """债权债务: a claim or a debt of a former village and the merged village that takes it over."""

    __tablename__ = "village_claims"
    __table_args__ = (Index("ix_village_claims_former", "former_village_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    former_village_code: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # claim | debt
    counterparty: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[float] = mapped_column(Float, nullable=False)  # 万元
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    to_code: Mapped[str | None] = mapped_column(Text, nullable=True)  # merged village taking it over
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    transfer_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    approval: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = _now()


class RevitalisationPlan(Base):
    """盘活方案: what an idle asset becomes, who answers for it, by when; struck off (销号) with evidence.

    ``version`` rises with every change; clients send it back (``If-Match``) so that two clerks editing
    one plan cannot overwrite each other. Changes are also kept in ``feature_history`` under the layer
    name ``revitalisation_plans``.
    """

    __tablename__ = "revitalisation_plans"
    __table_args__ = (Index("ix_revitalisation_plans_asset", "asset_code", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_code: Mapped[str] = mapped_column(Text, nullable=False)
    mode: Mapped[str] = mapped_column(Text, nullable=False)
    target_use: Mapped[str] = mapped_column(Text, nullable=False)
    lead_unit: Mapped[str] = mapped_column(Text, nullable=False)  # 牵头单位
    responsible_person: Mapped[str] = mapped_column(Text, nullable=False)  # 责任人
    planned_on: Mapped[date] = mapped_column(Date, nullable=False)  # 方案制定日期
    deadline: Mapped[date] = mapped_column(Date, nullable=False)  # 完成时限
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    struck_off_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    evidence_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class StoredDocument(Base):
    """A photo or document attached to an asset or a plan; the file is stored once under its SHA-256."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_asset", "asset_code"), Index("ix_documents_plan", "plan_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(Text, nullable=False)
    media_type: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    original_name: Mapped[str] = mapped_column(Text, nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    asset_code: Mapped[str | None] = mapped_column(Text, nullable=True)
    plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uploaded_by: Mapped[str] = mapped_column(Text, nullable=False)
    uploaded_at: Mapped[datetime] = _now()


class Milestone(Base):
    """A deadline of the notice (清查 31 March, 移交 31 May, 方案 30 June, 盘活 31 December), configurable."""

    __tablename__ = "ledger_milestones"

    key: Mapped[str] = mapped_column(Text, primary_key=True)  # inventory | transfer | plans | revitalisation
    due: Mapped[date] = mapped_column(Date, nullable=False)
