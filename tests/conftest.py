"""Fixtures shared by the suite: every storage test runs on SpatiaLite and on PostGIS.

PostGIS is required: the URL comes from ``GIS_TEST_POSTGRES_URL`` (``make test`` sets it and creates the
database); if the server cannot be reached the tests fail, they are never skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gis_service.db.engine import create_db_engine
from gis_service.db.migrate import upgrade
from gis_service.repositories.snapshot import snapshot_tables
from gis_service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "layers" / "demo"
BACKENDS = ("spatialite", "postgis")
DEFAULT_PG = "postgresql+psycopg://{user}@/gis_service_test?host=/var/run/postgresql"


def _postgres_base_url() -> str:
    return os.environ.get("GIS_TEST_POSTGRES_URL") or DEFAULT_PG.format(user=os.environ.get("USER", "root"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostGIS database of this test worker's own (xdist workers must not share tables)."""
    base = make_url(_postgres_base_url())
    name = f"{base.database}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name)
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine = create_db_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    upgrade(engine)
    engine.dispose()
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SpatiaLite file; each test gets a copy (much faster than initialising anew)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = create_db_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine)
    engine.dispose()
    return path


def make_engine(backend: str, request: pytest.FixtureRequest, directory: Path) -> Engine:
    """An empty, migrated database on ``backend`` (a new SpatiaLite file in ``directory``; on PostGIS
    the worker's database, emptied)."""
    if backend == "spatialite":
        template = request.getfixturevalue("spatialite_template")
        path = directory / f"test-{len(list(directory.glob('test-*.sqlite')))}.sqlite"
        shutil.copy(template, path)
        return create_db_engine(Settings(database_url=f"sqlite:///{path}"))
    engine = create_db_engine(Settings(database_url=request.getfixturevalue("postgres_url")))
    empty_postgis(engine)
    return engine


def empty_postgis(engine: Engine) -> None:
    """Every table emptied and only the default town left (tests that add towns drop nothing themselves)."""
    from gis_service.db.engine import admin_transaction, engine_town
    from gis_service.db.town_partitions import drop_town_partitions
    from gis_service.repositories.towns import TownRepository

    code, name = engine_town(engine)
    with admin_transaction(engine) as conn:
        for other in set(TownRepository(conn).codes()) - {code}:
            drop_town_partitions(conn, other)
        names = ", ".join(f'"{table.name}"' for table in snapshot_tables())
        conn.execute(text(f"TRUNCATE {names}, towns RESTART IDENTITY"))
        TownRepository(conn).add(code, name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database on each backend."""
    engine = make_engine(backend, request, tmp_path)
    yield engine
    engine.dispose()
