"""Engines for the two storage backends. Nothing connects until an engine is asked for."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from gis_service.errors import DatabaseUnavailableError
from gis_service.settings import Settings
from gis_service.towns import TOWN_ROLE_SQL, current_town

# SRIDs every database must know besides WGS84: CGCS2000 geographic and the two 3-degree GK forms at 105°E.
REQUIRED_SRIDS = (4490, 4544, 4523)

# SQLite loads an extension with dlopen(RTLD_NOW | RTLD_GLOBAL): Debian's mod_spatialite and its whole dependency
# tree (the system libproj, libgeos, libgeos_c, libsqlite3, libtiff, libcurl, libxml2) join the process-wide
# symbol scope, which the dynamic linker searches before a library's own dependencies. The pyproj, shapely and
# pyogrio wheels bundle other versions of PROJ, GEOS, GDAL and SQLite; loaded after that, their symbols bind to
# the system copies (pyproj then runs PROJ 9.1 with its own 9.5 library half-used, and PROJ's static objects are
# built by both copies in one place and freed twice at exit: "free(): invalid pointer", exit status 134).
# Loaded before, each wheel binds to its own libraries. So they are always imported before the first connection.
_LOAD_BEFORE_SPATIALITE = ("pyproj", "shapely", "pyogrio")


WRITE_OPTION = "gis_write"
# The engine's default town (settings.town_code and town_name), for transactions opened outside any chosen town.
TOWN_OPTION = "gis_town"
TOWN_NAME_OPTION = "gis_town_name"
# Schema changes and town administration: run as the connecting user, with no town chosen.
ADMIN_OPTION = "gis_admin"

# At BEGIN on PostgreSQL: the town whose rows this transaction may see and write, and the role that makes
# row-level security apply even when the service connects as a superuser or the tables' owner. Both are
# transaction-local (``true``), so a pooled connection carries nothing over. A database from before migration 0005
# (no ``towns`` table) has no row security to apply. Otherwise the role is required: a user who may not take it
# gets an error, never a transaction that silently sees every town.
_CHOOSE_TOWN = (
    "SELECT set_config('gis.town', %s, true), set_config('role', CASE "
    f"WHEN to_regclass('towns') IS NULL THEN 'none' ELSE {TOWN_ROLE_SQL} END, true)"
)
# Administration sees the chosen town's rows when it runs as the tables' owner (row security is forced on the
# owner too); a superuser sees every town.
_ADMIN_TOWN = "SELECT set_config('gis.town', %s, true)"


@contextmanager
def admin_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for schema changes and administration (towns, API keys), as the connecting user: no town role.

    The chosen town is still set, so a service connected as the tables' owner sees that town's rows (row security
    applies to the owner too); a superuser connection sees every town.
    """
    with engine.connect() as conn:
        conn.execution_options(**{ADMIN_OPTION: True, WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it holds the write lock from the start; rows read with
    ``FOR UPDATE`` are locked on PostgreSQL. Commits on success, rolls back on any exception."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


def create_db_engine(settings: Settings, **kwargs: Any) -> Engine:
    """Engine for ``settings.database_url``; SQLite URLs get SpatiaLite loaded on every connection."""
    url = make_url(settings.database_url)
    kwargs.setdefault("pool_size", settings.db_pool_size)
    kwargs.setdefault("execution_options", {}).update({TOWN_OPTION: settings.town_code,
                                                       TOWN_NAME_OPTION: settings.town_name})
    sqlite = url.get_backend_name() == "sqlite"
    overflow = settings.db_max_overflow
    kwargs.setdefault("max_overflow", (0 if sqlite else 32) if overflow is None else overflow)
    if sqlite:
        return _spatialite_engine(settings, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "begin")
    def _choose_town(conn: Connection) -> None:
        options = conn.get_execution_options()
        town = current_town(options.get(TOWN_OPTION))
        conn.exec_driver_sql(_ADMIN_TOWN if options.get(ADMIN_OPTION) else _CHOOSE_TOWN, (town,))

    return engine


def engine_town(engine: Engine | Connection) -> tuple[str, str]:
    """The default town of an engine or connection: ``settings.town_code`` and ``town_name`` when it was made."""
    options = engine.get_execution_options()
    fields = Settings.model_fields
    return (str(options.get(TOWN_OPTION) or fields["town_code"].default),
            str(options.get(TOWN_NAME_OPTION) or fields["town_name"].default))


def _sqlite_module() -> ModuleType:
    """A DB-API sqlite3 module that can load extensions.

    Debian's interpreter (used by ``make setup``) can; pyenv builds often cannot, and then the
    ``pysqlite3`` wheel is the fallback.
    """
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError as exc:  # pragma: no cover - depends on the interpreter build
        raise DatabaseUnavailableError(
            "This Python's sqlite3 cannot load SpatiaLite; use the project's .venv (make setup) "
            "or pip install pysqlite3-binary"
        ) from exc


def _spatialite_engine(settings: Settings, **kwargs: Any) -> Engine:
    url = make_url(settings.database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:  # an in-memory database lives in one connection; SQLAlchemy pools it differently
        kwargs.pop("pool_size", None)
        kwargs.pop("max_overflow", None)
    kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    for name in _LOAD_BEFORE_SPATIALITE:
        importlib.import_module(name)
    engine = create_engine(url, module=_sqlite_module(), **kwargs)
    library = settings.spatialite_library

    @event.listens_for(engine, "connect")
    def _load_spatialite(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level; SQLAlchemy's "begin" below opens real transactions,
        # so DDL and savepoints are transactional too (the sqlite3 module's implicit BEGIN is not).
        dbapi_conn.isolation_level = None
        dbapi_conn.enable_load_extension(True)
        try:
            dbapi_conn.load_extension(library)
        except Exception as exc:
            raise DatabaseUnavailableError(
                f"cannot load SpatiaLite extension '{library}': {exc} "
                "(install Debian's libsqlite3-mod-spatialite: make setup)"
            ) from exc
        finally:
            dbapi_conn.enable_load_extension(False)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # LIKE is case-sensitive in PostgreSQL; make SQLite agree (CQL2 CASEI asks for the other).
        cursor.execute("PRAGMA case_sensitive_like=ON")
        if cursor.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
            # WGS84-only init takes 0.4 s instead of 9 s for all 6,215 EPSG systems.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
            for srid in REQUIRED_SRIDS:
                cursor.execute("SELECT InsertEpsgSrid(?)", (srid,))
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A write transaction takes SQLite's write lock at once (BEGIN IMMEDIATE): one that reads first
        # and writes later would otherwise fail with "database is locked" when another writer got in between,
        # instead of waiting for it (busy_timeout).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")

    return engine


def town_of(conn: Connection) -> str:
    """The town a transaction on ``conn`` works on: the chosen one (:mod:`gis_service.towns`) or the default."""
    return current_town(engine_town(conn)[0]) or engine_town(conn)[0]


@contextmanager
def as_town_role(conn: Connection) -> Iterator[None]:
    """Within an admin transaction, run the block as a town transaction would (PostgreSQL: the town role, so row
    security applies), then go back to the connecting user. Nothing to do on SQLite."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql(f"SELECT set_config('role', {TOWN_ROLE_SQL}, true)")
    yield
    conn.exec_driver_sql("SELECT set_config('role', 'none', true)")
