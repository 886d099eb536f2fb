"""The asset ledger: ledger columns on ``assets``; transfers, claims and debts, plans, documents, milestones.

Revision ID: 0003_ledger
Revises: 0002_users_history
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gis_service.db.dialects import dialect_for

revision = "0003_ledger"
down_revision = "0002_users_history"
branch_labels = None
depends_on = None

ASSET_COLUMNS = (
    ("owner_code", sa.Text), ("year_built", sa.Integer), ("net_value", sa.Float), ("certificate_no", sa.Text),
    ("documents_status", sa.Text), ("building_condition", sa.Text), ("tenant", sa.Text),
    ("lease_start", sa.Date), ("lease_end", sa.Date), ("annual_income", sa.Float), ("inventoried_on", sa.Date),
)


# Ledger tables whose changes move a data version too (as the layers' do, migration 0002): reports and caches
# built from them know when they are stale.
VERSIONED = ("asset_transfers", "village_claims", "revitalisation_plans", "documents")


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _text(name: str, nullable: bool = True, default: str | None = None) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable, server_default=default)


def _date(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Date, nullable=nullable)


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp())


def upgrade() -> None:
    for name, kind in ASSET_COLUMNS:
        op.add_column("assets", sa.Column(name, kind, nullable=True))
    op.create_table(
        "asset_transfers", _id(), _text("asset_code", False), _text("from_code", False), _text("to_code", False),
        _text("status", False, "pending"), _date("transfer_date"), _text("approval"), _text("note"),
        _text("recorded_by", False), _now("recorded_at"),
    )
    op.create_index("ix_asset_transfers_asset", "asset_transfers", ["asset_code"])
    op.create_table(
        "village_claims", _id(), _text("former_village_code", False), _text("kind", False),
        _text("counterparty", False), sa.Column("amount", sa.Float, nullable=False), _text("description"),
        _text("to_code"), _text("status", False, "pending"), _date("transfer_date"), _text("approval"),
        _text("recorded_by", False), _now("recorded_at"),
    )
    op.create_index("ix_village_claims_former", "village_claims", ["former_village_code"])
    op.create_table(
        "revitalisation_plans", _id(), _text("asset_code", False), _text("mode", False),
        _text("target_use", False), _text("lead_unit", False), _text("responsible_person", False),
        _date("planned_on", False), _date("deadline", False), _text("status", False, "pending"),
        _date("struck_off_on"), _text("evidence_note"), _text("note"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        _now("created_at"), _now("updated_at"),
    )
    op.create_index("ix_revitalisation_plans_asset", "revitalisation_plans", ["asset_code"], unique=True)
    op.create_table(
        "documents", _id(), _text("sha256", False), _text("media_type", False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False), _text("original_name", False),
        _text("purpose", False), _text("asset_code"), sa.Column("plan_id", sa.Integer, nullable=True),
        _text("uploaded_by", False), _now("uploaded_at"),
    )
    op.create_index("ix_documents_asset", "documents", ["asset_code"])
    op.create_index("ix_documents_plan", "documents", ["plan_id"])
    op.create_table("ledger_milestones", sa.Column("key", sa.Text, primary_key=True), _date("due", False))
    versions = sa.table("layer_versions", sa.column("layer", sa.Text), sa.column("version", sa.BigInteger))
    op.bulk_insert(versions, [{"layer": name, "version": 0} for name in VERSIONED])
    conn = op.get_bind()
    for name in VERSIONED:
        dialect_for(conn).create_version_trigger(conn, name)


def downgrade() -> None:
    conn = op.get_bind()
    for name in VERSIONED:
        dialect_for(conn).drop_version_trigger(conn, name)
    versions = sa.table("layer_versions", sa.column("layer", sa.Text))
    op.execute(versions.delete().where(versions.c.layer.in_(VERSIONED)))
    op.drop_table("ledger_milestones")
    for table, indexes in (("documents", ("ix_documents_asset", "ix_documents_plan")),
                           ("revitalisation_plans", ("ix_revitalisation_plans_asset",)),
                           ("village_claims", ("ix_village_claims_former",)),
                           ("asset_transfers", ("ix_asset_transfers_asset",))):
        for index in indexes:
            op.drop_index(index, table)
        op.drop_table(table)
    # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would lose SpatiaLite's geometry registration.
    for name, _ in reversed(ASSET_COLUMNS):
        op.drop_column("assets", name)
