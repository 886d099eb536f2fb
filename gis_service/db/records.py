"""Tables that are not layers: API users, the edit history of features, and per-layer data versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from gis_service.db.base import Base


class User(Base):
    """An API key holder. Only the SHA-256 of the key is stored; ``key_prefix`` lets people tell keys apart."""

    __tablename__ = "api_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    villages: Mapped[str | None] = mapped_column(Text, nullable=True)  # comma-separated village codes
    # Comma-separated town codes the key may work on, or ``*`` for every town of the database (migration 0005).
    towns: Mapped[str] = mapped_column(Text, nullable=False)
    key_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    key_prefix: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.current_timestamp())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FeatureVersion(Base):
    """One change to one feature: who, when, what (create, replace, update, delete, restore), before and after.

    ``before`` and ``after`` are the feature's attributes and geometries (GeoJSON, EPSG:4490 lon/lat), ``None``
    before a create and after a delete.
    """

    __tablename__ = "feature_history"
    __table_args__ = (UniqueConstraint("layer", "feature_id", "version"),
                      Index("ix_feature_history_layer_changed", "layer", "changed_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    layer: Mapped[str] = mapped_column(Text, nullable=False)
    feature_id: Mapped[int] = mapped_column(Integer, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class LayerVersion(Base):
    """A counter per layer that database triggers raise on every insert, update or delete.

    Cached API responses are keyed by it, so they are never served after any change, whoever made it
    (the API, an import, or a desktop GIS writing to PostGIS directly).
    """

    __tablename__ = "layer_versions"

    town_code: Mapped[str] = mapped_column(Text, primary_key=True)
    layer: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class Town(Base):
    """A town this database serves (9-digit NBS township code). On PostgreSQL each has a partition of every
    town table (``gis-service towns add``); a SpatiaLite file holds one."""

    __tablename__ = "towns"

    town_code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    county_code: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.current_timestamp())
