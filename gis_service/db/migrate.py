"""Run the packaged Alembic migrations against an engine (both backends)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from gis_service.db.engine import admin_transaction, engine_town


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("gis_service.db") / "migrations"))
    return config


def head_revision() -> str:
    """The newest schema revision this version of the service knows."""
    return str(ScriptDirectory.from_config(_config()).get_current_head())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the latest)."""
    config = _config()
    with admin_transaction(engine) as conn:
        config.attributes["connection"] = conn
        config.attributes["town"] = engine_town(engine)
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (default: an empty database)."""
    config = _config()
    with admin_transaction(engine) as conn:
        config.attributes["connection"] = conn
        config.attributes["town"] = engine_town(engine)
        command.downgrade(config, revision)
