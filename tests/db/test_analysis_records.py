"""Migration 0004 builds the scenario and run tables as the models declare them, on both backends, and undoes."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError

from gis_service.db import analysis_records
from gis_service.db.migrate import downgrade, upgrade
from gis_service.repositories.scenarios import ScenarioRepository
from gis_service.repositories.snapshot import snapshot_tables
from tests.support import declared_columns

TABLES = ("scenarios", "scenario_changes", "analysis_runs")


def test_tables_match_the_models(engine: Engine) -> None:
    inspector = inspect(engine)
    for name in TABLES:
        stored = {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
        assert stored == declared_columns(name), name
    assert analysis_records.ScenarioChange.__tablename__ in {t.name for t in snapshot_tables()}  # backed up


def test_downgrade_to_the_ledger_and_up_again(engine: Engine) -> None:
    downgrade(engine, "0003_ledger")
    assert not set(TABLES) & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(TABLES) <= set(inspect(engine).get_table_names())


def test_a_scenario_holds_one_change_per_feature(engine: Engine) -> None:
    """The unique index is what refuses a second change of one feature if two writers ever get past the lock."""
    change = {"layer": "service_points", "action": "add", "feature_code": "FW-1", "created_by": "t"}
    with engine.begin() as conn:
        repo = ScenarioRepository(conn)
        first, second = repo.add("甲", None, "t"), repo.add("乙", None, "t")
        repo.add_change(first, change)
        repo.add_change(first, {**change, "layer": "facilities"})  # another layer: another feature
        repo.add_change(second, change)  # another scenario
    with pytest.raises(IntegrityError), engine.begin() as conn:
        ScenarioRepository(conn).add_change(first, {**change, "action": "move"})
    with engine.connect() as conn:
        assert len(ScenarioRepository(conn).changes(first)) == 2
