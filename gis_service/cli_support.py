"""What every ``gis-service`` command module shares, kept apart from ``cli.py`` so that the sub-command modules
need not import the command that mounts them."""

from __future__ import annotations

from sqlalchemy import Engine

from gis_service.settings import Settings, get_settings


def open_engine(settings: Settings) -> Engine:
    """An engine for ``settings.database_url`` with the schema migrated to the newest revision."""
    from gis_service.db.engine import create_db_engine
    from gis_service.db.migrate import upgrade

    engine = create_db_engine(settings)
    upgrade(engine)
    return engine


def say(zh: str, en: str) -> str:
    """``zh`` or ``en``, by the language of the settings (GIS_LANGUAGE)."""
    return zh if get_settings().language == "zh" else en
