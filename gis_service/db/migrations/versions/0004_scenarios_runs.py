"""Planning scenarios with their facility changes, and the provenance of analysis runs.

Revision ID: 0004_scenarios_runs
Revises: 0003_ledger
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_scenarios_runs"
down_revision = "0003_ledger"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _text(name: str, nullable: bool = True, default: str | None = None) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable, server_default=default)


def _time(name: str, nullable: bool = False, default_now: bool = True) -> sa.Column:
    default = sa.func.current_timestamp() if default_now else None
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def upgrade() -> None:
    op.create_table(
        "scenarios", _id(), sa.Column("name", sa.Text, nullable=False, unique=True), _text("description"),
        _text("status", False, "draft"), _text("created_by", False), _time("created_at"), _time("updated_at"),
        _text("promoted_by"), _time("promoted_at", nullable=True, default_now=False),
    )
    op.create_table(
        "scenario_changes", _id(),
        sa.Column("scenario_id", sa.Integer, sa.ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False),
        _text("layer", False), _text("action", False), _text("feature_code", False),
        sa.Column("base_feature_id", sa.Integer, nullable=True), _text("base_etag"),
        sa.Column("properties", sa.JSON, nullable=True), sa.Column("geometry", sa.JSON, nullable=True),
        _text("created_by", False), _time("created_at"),
    )
    # One change per feature and scenario (the service replaces an earlier one); leads with scenario_id, so it
    # also serves reading a scenario's changes.
    op.create_index("ux_scenario_changes_feature", "scenario_changes", ["scenario_id", "layer", "feature_code"],
                    unique=True)
    op.create_table(
        "analysis_runs", _id(), _text("kind", False), sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False), _text("input_hash", False), _text("solver"),
        sa.Column("objective", sa.Float, nullable=True), _text("status", False), _text("error"),
        _time("started_at", default_now=False), sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("outputs", sa.JSON, nullable=True), _text("created_by", False),
    )
    op.create_index("ix_analysis_runs_kind_started", "analysis_runs", ["kind", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_analysis_runs_kind_started", "analysis_runs")
    op.drop_table("analysis_runs")
    op.drop_index("ux_scenario_changes_feature", "scenario_changes")
    op.drop_table("scenario_changes")
    op.drop_table("scenarios")
