"""Migration 0004 builds the scenario and run tables as the models declare them, on both backends, and undoes."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from gis_service.db import analysis_records
from gis_service.db.base import Base
from gis_service.db.migrate import downgrade, upgrade
from gis_service.repositories.snapshot import snapshot_tables

TABLES = ("scenarios", "scenario_changes", "analysis_runs")


def test_tables_match_the_models(engine: Engine) -> None:
    inspector = inspect(engine)
    for name in TABLES:
        stored = {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
        declared = {c.name: c.nullable for c in Base.metadata.tables[name].columns}
        assert stored == declared, name
    assert analysis_records.ScenarioChange.__tablename__ in {t.name for t in snapshot_tables()}  # backed up


def test_downgrade_to_the_ledger_and_up_again(engine: Engine) -> None:
    downgrade(engine, "0003_ledger")
    assert not set(TABLES) & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(TABLES) <= set(inspect(engine).get_table_names())
