"""Tables of planning scenarios and of analysis runs (issue 5: scenarios and provenance).

A scenario holds facilities added, moved or removed on paper; the base layers are changed only when an
editor promotes it. A change on a base feature keeps that feature's id and ETag as they were when the change
was made, so a promotion can tell that the base moved on under the scenario. Every analysis run keeps its
parameters, the data versions of the layers it read, and its outputs, so it can be shown and re-run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.db.base import Base


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.current_timestamp())


class Scenario(Base):
    """方案情景: a named set of facility changes, evaluated before/after and promoted (or not) by an editor."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="draft")  # draft | promoted
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    promoted_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ScenarioChange(Base):
    """One facility added, moved or removed in a scenario.

    ``geometry`` is GeoJSON in EPSG:4490 lon/lat (add, move); ``properties`` the validated attributes of an
    added feature (codes, not labels). ``base_feature_id`` and ``base_etag`` name the base feature a move or
    remove was made against. A scenario holds at most one change per feature: the unique index keeps two
    concurrent requests from both recording one (it also serves lookups by scenario).
    """

    __tablename__ = "scenario_changes"
    __table_args__ = (Index("ux_scenario_changes_feature", "scenario_id", "layer", "feature_code", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scenario_id: Mapped[int] = mapped_column(Integer, ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=False)
    layer: Mapped[str] = mapped_column(Text, nullable=False)  # service_points | schools | facilities
    action: Mapped[str] = mapped_column(Text, nullable=False)  # add | move | remove
    feature_code: Mapped[str] = mapped_column(Text, nullable=False)
    base_feature_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _now()


class AnalysisRun(Base):
    """One analysis run: what was asked (``parameters``), what it read (``inputs``: the layers' data versions and
    the scenario, if any, with ``input_hash`` over them), how it was solved, how long it took, and its outputs
    (the summary and every result needed to show it again, features included)."""

    __tablename__ = "analysis_runs"
    __table_args__ = (Index("ix_analysis_runs_kind_started", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # coverage | one_plus_n | placement | scenario
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    input_hash: Mapped[str] = mapped_column(Text, nullable=False)
    solver: Mapped[str | None] = mapped_column(Text, nullable=True)
    objective: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(Text, nullable=False)  # ok | failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    seconds: Mapped[float] = mapped_column(Float, nullable=False)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
