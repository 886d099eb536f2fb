"""Many towns in one PostGIS database (issue 9): partitions by town code, row-level security, town administration.

These run on PostGIS only, where partitioning and row security exist; the SpatiaLite cases check that a file
holds exactly its one town.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from gis_service.db.engine import admin_transaction, write_transaction
from gis_service.db.migrate import downgrade
from gis_service.db.town_partitions import partitioned_tables, partitions_of
from gis_service.errors import ConflictError, InvalidInputError, NotFoundError
from gis_service.repositories.versions import every_town_layer_versions
from gis_service.services.towns import TownService
from gis_service.towns import GLOBAL_TABLES, UNSECURED_TOWN_TABLES, working_on
from tests.conftest import make_engine

PENGLAI, HUIMA = "510923100", "510923101"


@pytest.fixture
def pg(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # noqa: ANN001
    engine = make_engine("postgis", request, tmp_path)
    TownService(engine).add(HUIMA, "回马镇")
    yield engine
    engine.dispose()


def _add_asset(engine: Engine, town: str, code: str, asset_id: int | None = None) -> None:
    columns = "code, name, ownership, asset_class, category, use_status, geom" + (", id" if asset_id else "")
    values = (":code, '原村委会', 'village_collective', 'non_operating', 'office', 'idle', "
              "ST_SetSRID(ST_MakePoint(105.25, 30.6), 4490)" + (", :id" if asset_id else ""))
    with working_on(town), write_transaction(engine) as conn:
        conn.execute(text(f"INSERT INTO assets ({columns}) VALUES ({values})"), {"code": code, "id": asset_id})


def _codes(engine: Engine, town: str) -> list[str]:
    with working_on(town), engine.connect() as conn:
        # No town in the query: row-level security decides what it sees.
        return list(conn.execute(text("SELECT code FROM assets ORDER BY code")).scalars())


def test_every_town_table_is_partitioned_by_town_and_secured(pg: Engine) -> None:
    with admin_transaction(pg) as conn:
        tables = set(conn.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition")).scalars())
        town_tables = tables - GLOBAL_TABLES
        assert len(town_tables) >= 21
        assert set(partitioned_tables(conn)) == town_tables  # a new table without a town would show here
        for table in town_tables:
            assert partitions_of(conn, table) == [PENGLAI, HUIMA], table
            secured, forced = conn.execute(text(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = :t"), {"t": table}).one()
            assert (secured, forced) == ((False, False) if table in UNSECURED_TOWN_TABLES else (True, True)), table
            key = conn.execute(text(
                "SELECT (SELECT attname FROM pg_attribute WHERE attrelid = conrelid AND attnum = conkey[1]) "
                "FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) AND contype = 'p'"), {"t": table}).scalar()
            assert key == "town_code", table


def test_a_transaction_sees_and_writes_only_its_own_town(pg: Engine) -> None:
    _add_asset(pg, PENGLAI, "ZC-001")
    _add_asset(pg, PENGLAI, "ZC-002")
    _add_asset(pg, HUIMA, "ZC-001")  # codes are unique per town, not across towns
    assert _codes(pg, PENGLAI) == ["ZC-001", "ZC-002"]
    assert _codes(pg, HUIMA) == ["ZC-001"]
    with admin_transaction(pg) as conn:
        assert conn.execute(text("SELECT town_code, count(*) FROM assets GROUP BY 1 ORDER BY 1")).all() == [
            (PENGLAI, 2), (HUIMA, 1)]
    # Naming another town's code in an insert or an update is refused by the policy, whatever the query says.
    with pytest.raises(DBAPIError, match="row-level security"), working_on(PENGLAI), write_transaction(pg) as conn:
        conn.execute(text("INSERT INTO assets (town_code, code, name, ownership, asset_class, category, use_status, "
                          "geom) VALUES (:t, 'X', 'x', 'town', 'operating', 'land', 'in_use', "
                          "ST_SetSRID(ST_MakePoint(105.2, 30.6), 4490))"), {"t": HUIMA})
    with pytest.raises(DBAPIError, match="row-level security"), working_on(PENGLAI), write_transaction(pg) as conn:
        conn.execute(text("UPDATE assets SET town_code = :t"), {"t": HUIMA})
    with working_on(PENGLAI), write_transaction(pg) as conn:  # a delete without a filter empties one town
        assert conn.execute(text("DELETE FROM assets")).rowcount == 2
    assert _codes(pg, HUIMA) == ["ZC-001"]


def test_a_query_reads_only_its_towns_partition(pg: Engine) -> None:
    _add_asset(pg, PENGLAI, "ZC-001")
    with working_on(HUIMA), pg.connect() as conn:
        plan = "\n".join(conn.execute(text("EXPLAIN SELECT * FROM assets WHERE code = 'ZC-001'")).scalars())
    assert f"assets_{HUIMA}" in plan
    assert f"assets_{PENGLAI}" not in plan


def test_ids_come_from_one_sequence_and_never_collide(pg: Engine) -> None:
    _add_asset(pg, PENGLAI, "A")
    _add_asset(pg, HUIMA, "B")
    with admin_transaction(pg) as conn:
        ids = conn.execute(text("SELECT town_code, id FROM assets ORDER BY id")).all()
    assert [town for town, _ in ids] == [PENGLAI, HUIMA]
    assert ids[0][1] < ids[1][1]
    # A restore moves the sequence past what it loads, never back below ids another town uses.
    from gis_service.db.dialects import dialect_for
    from gis_service.db.models import Asset

    with working_on(PENGLAI), write_transaction(pg) as conn:
        dialect_for(conn).restart_ids(conn, Asset.__table__, 1)
    _add_asset(pg, PENGLAI, "C")
    with admin_transaction(pg) as conn:
        assert conn.execute(text("SELECT max(id) FROM assets WHERE code = 'C'")).scalar() > ids[1][1]


def test_a_write_changes_only_its_towns_layer_version(pg: Engine) -> None:
    with pg.connect() as conn:
        before = every_town_layer_versions(conn)
    _add_asset(pg, HUIMA, "B")
    with pg.connect() as conn:
        after = every_town_layer_versions(conn)
    assert after[(HUIMA, "assets")] != before.get((HUIMA, "assets"))
    assert after.get((PENGLAI, "assets")) == before.get((PENGLAI, "assets"))
    # A write from outside the service, with no town chosen (psql as the owner), changes every town's version.
    _add_asset(pg, PENGLAI, "A")
    with pg.connect() as conn:
        before = every_town_layer_versions(conn)
    outside = create_engine(pg.url)  # no service engine: no town chosen, as psql or a desktop GIS would connect
    with outside.begin() as conn:
        conn.execute(text("UPDATE assets SET name = name || '(改)'"))
    outside.dispose()
    with pg.connect() as conn:
        after = every_town_layer_versions(conn)
    assert after[(HUIMA, "assets")] != before[(HUIMA, "assets")]
    assert after[(PENGLAI, "assets")] != before[(PENGLAI, "assets")]


def test_adding_and_dropping_towns(pg: Engine) -> None:
    towns = TownService(pg)
    assert [(t.code, t.name, t.county_code, t.default) for t in towns.list()] == [
        (PENGLAI, "蓬莱镇", "510923", True), (HUIMA, "回马镇", "510923", False)]
    with pytest.raises(ConflictError):
        towns.add(HUIMA, "回马镇")
    with pytest.raises(InvalidInputError):
        towns.add("51092310", "短码镇")
    with pytest.raises(InvalidInputError):
        towns.add("510923102", "  ")
    _add_asset(pg, HUIMA, "B")
    _add_asset(pg, PENGLAI, "A")
    with pytest.raises(ConflictError, match="own town"):
        towns.drop(PENGLAI)
    towns.drop(HUIMA)
    with pytest.raises(NotFoundError):
        towns.drop(HUIMA)
    assert _codes(pg, PENGLAI) == ["A"]
    with admin_transaction(pg) as conn:
        assert all(partitions_of(conn, table) == [PENGLAI] for table in partitioned_tables(conn))
    # A town added again starts empty.
    towns.add(HUIMA, "回马镇")
    assert _codes(pg, HUIMA) == []


def test_a_database_of_several_towns_is_not_flattened(pg: Engine) -> None:
    with pytest.raises(RuntimeError, match="2 towns"):
        downgrade(pg, "0004_scenarios_runs")
    with admin_transaction(pg) as conn:  # nothing was changed
        assert partitions_of(conn, "assets") == [PENGLAI, HUIMA]


def test_a_spatialite_file_holds_one_town(request: pytest.FixtureRequest, tmp_path) -> None:  # noqa: ANN001
    engine = make_engine("spatialite", request, tmp_path)
    towns = TownService(engine)
    assert [t.code for t in towns.list()] == [PENGLAI]
    with pytest.raises(ConflictError, match="SpatiaLite"):
        towns.add(HUIMA, "回马镇")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM towns")).scalar() == 1
    with pytest.raises(DBAPIError, match="CHECK"), write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO scenarios (town_code, name, status, created_by, created_at, updated_at) "
                          "VALUES (:t, 's', 'draft', 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"t": HUIMA})
    engine.dispose()


def test_a_towns_transaction_reaches_neither_partitions_nor_shared_tables(pg: Engine) -> None:
    _add_asset(pg, PENGLAI, "A")
    with working_on(HUIMA), pg.connect() as conn:
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        assert conn.execute(text("SELECT current_user")).scalar_one() == f"gis_town_{database}"[:63]
    for statement in (f"SELECT count(*) FROM assets_{PENGLAI}",  # around the policy, through the partition
                      f"UPDATE assets_{PENGLAI} SET name = 'x'",
                      "INSERT INTO api_users (name, role, towns, key_hash, key_prefix) VALUES ('x', 'admin', '*', "
                      "'h', 'p')",
                      "UPDATE towns SET name = 'x'",
                      "DELETE FROM alembic_version"):
        with pytest.raises(DBAPIError, match="permission denied"), working_on(HUIMA), \
                write_transaction(pg) as conn:
            conn.execute(text(statement))
    assert _codes(pg, PENGLAI) == ["A"]


def test_a_new_town_starts_with_a_version_for_every_layer(pg: Engine) -> None:
    with pg.connect() as conn:
        versions = every_town_layer_versions(conn)
    assert {layer for town, layer in versions if town == HUIMA} == {layer for town, layer in versions
                                                                      if town == PENGLAI} != set()


@pytest.fixture
def owner_database(postgres_url: str) -> Iterator[str]:
    """A database owned by an ordinary user (no superuser), as a province's service would run: CREATEROLE only."""
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url)
    owner, name = f"gis_owner_{base.database}"[:63], f"{base.database}_owned"[:63]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN CREATEROLE'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{owner}"'))
    with create_engine(base.set(database=name), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("CREATE EXTENSION postgis"))  # only a superuser may
        conn.execute(text(f'GRANT ALL ON SCHEMA public TO "{owner}"'))
    yield base.set(database=name, username=owner).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{f"gis_town_{name}"[:63]}"'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
    admin.dispose()


def test_an_owner_who_is_no_superuser_is_confined_too(owner_database: str) -> None:
    from gis_service.db.engine import create_db_engine
    from gis_service.db.migrate import upgrade
    from gis_service.settings import Settings

    engine = create_db_engine(Settings(database_url=owner_database))
    upgrade(engine)
    TownService(engine).add(HUIMA, "回马镇")
    _add_asset(engine, PENGLAI, "A")
    _add_asset(engine, HUIMA, "B")
    assert _codes(engine, PENGLAI) == ["A"]
    assert _codes(engine, HUIMA) == ["B"]
    # Administration as the owner still sees one town at a time: row security is forced on the owner too.
    with working_on(HUIMA), admin_transaction(engine) as conn:
        assert list(conn.execute(text("SELECT code FROM assets")).scalars()) == ["B"]
    with pytest.raises(DBAPIError, match="row-level security"), working_on(PENGLAI), \
            write_transaction(engine) as conn:
        conn.execute(text("UPDATE assets SET town_code = :t"), {"t": HUIMA})
    engine.dispose()
