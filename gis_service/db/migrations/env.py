"""Alembic environment: runs on the connection handed in by :func:`gis_service.db.migrate.upgrade`."""

from __future__ import annotations

from alembic import context

from gis_service.db import models, records  # noqa: F401
from gis_service.db.base import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
