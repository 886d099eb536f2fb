"""What every ``gis-service`` command module shares, kept apart from ``cli.py`` so that the sub-command modules
need not import the command that mounts them."""

from __future__ import annotations

from sqlalchemy import Engine

from gis_service.settings import Settings, get_settings


def open_engine(settings: Settings) -> Engine:
    """An engine for ``settings.database_url`` with the schema migrated to the newest revision, for work on the
    chosen town (which the database must serve)."""
    engine = open_admin_engine(settings)
    check_town_served(engine, settings)
    return engine


def open_admin_engine(settings: Settings) -> Engine:
    """An engine with the schema migrated, for administration across towns (``gis-service towns``)."""
    from gis_service.db.engine import create_db_engine
    from gis_service.db.migrate import upgrade

    engine = create_db_engine(settings)
    upgrade(engine)
    return engine


def check_town_served(engine: Engine, settings: Settings) -> None:
    """Refuse to work on a town the database does not serve (``--town`` or ``GIS_TOWN_CODE``): on PostGIS it would
    see nothing, and a SpatiaLite file holds its one town whatever the setting says."""
    from gis_service.errors import NotFoundError
    from gis_service.services.towns import TownService
    from gis_service.towns import current_town

    town = current_town(settings.town_code) or settings.town_code
    served = TownService(engine).codes()
    if town not in served:
        raise NotFoundError(say(f"本数据库没有镇 {town}(有: {', '.join(sorted(served))});用 --town 或 GIS_TOWN_CODE "
                                "选择,或 gis-service towns add 添加",
                                f"this database serves no town {town} (it serves {', '.join(sorted(served))}): "
                                "choose one with --town or GIS_TOWN_CODE, or add it with gis-service towns add"))


def say(zh: str, en: str) -> str:
    """``zh`` or ``en``, by the language of the settings (GIS_LANGUAGE)."""
    return zh if get_settings().language == "zh" else en
