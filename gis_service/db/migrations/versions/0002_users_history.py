"""API users, feature edit history, and per-layer data versions kept by triggers.

Revision ID: 0002_users_history
Revises: 0001_layers
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gis_service.db.dialects import dialect_for

revision = "0002_users_history"
down_revision = "0001_layers"
branch_labels = None
depends_on = None

# The layer tables of 0001 (a migration names them itself rather than importing today's registry).
LAYERS = ("villages", "former_villages", "assets", "service_points", "schools", "facilities", "settlements",
          "roads", "rivers", "bridges", "planning_zones")


def _timestamp(name: str, nullable: bool = False, default_now: bool = False) -> sa.Column:
    default = sa.func.current_timestamp() if default_now else None
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def upgrade() -> None:
    op.create_table(
        "api_users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("villages", sa.Text, nullable=True),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("key_prefix", sa.Text, nullable=False),
        _timestamp("created_at", default_now=True),
        _timestamp("revoked_at", nullable=True),
    )
    op.create_table(
        "feature_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("feature_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        _timestamp("changed_at"),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.UniqueConstraint("layer", "feature_id", "version"),
    )
    op.create_index("ix_feature_history_layer_changed", "feature_history", ["layer", "changed_at"])
    versions = op.create_table(
        "layer_versions",
        sa.Column("layer", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.bulk_insert(versions, [{"layer": name, "version": 0} for name in LAYERS])
    conn = op.get_bind()
    dialect = dialect_for(conn)
    for name in LAYERS:
        dialect.create_version_trigger(conn, name)


def downgrade() -> None:
    conn = op.get_bind()
    dialect = dialect_for(conn)
    for name in LAYERS:
        dialect.drop_version_trigger(conn, name)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS gis_bump_layer_version()")
    op.drop_table("layer_versions")
    op.drop_index("ix_feature_history_layer_changed", "feature_history")
    op.drop_table("feature_history")
    op.drop_table("api_users")
