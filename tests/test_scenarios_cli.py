"""``gis-service scenarios`` and ``gis-service analyze runs`` as a user runs them, on the hand-made small town."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gis_service.db.engine import create_db_engine
from gis_service.db.migrate import upgrade
from gis_service.services.users import UserService
from gis_service.settings import Settings
from tests.services.small_town import X0, Y0, load_small_town
from tests.test_cli import run


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "small.sqlite"
    engine = create_db_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine)
    load_small_town(engine, tmp_path)
    UserService(engine).add("zhao_planner", "planner")
    engine.dispose()
    return path


def _ok(args: list[str], db: Path) -> str:
    result = run(args, db, ("GIS_LANGUAGE", "en"))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_scenario_from_start_to_promotion(db: Path) -> None:
    _ok(["scenarios", "create", "new-station", "--description", "a station for S3"], db)
    added = _ok(["scenarios", "add", "new-station", "service_points", "--code", "SP2", "--name", "station",
                 "--x", str(X0 + 4000), "--y", str(Y0), "--crs", "EPSG:4544", "--set", "kind=agency_station",
                 "--set", "village_code=510923100202"], db)
    assert "add service_points 'SP2'" in added
    evaluation = json.loads(_ok(["scenarios", "evaluate", "new-station", "--standard", "agency_station", "--json"],
                                db))
    town = evaluation["standards"][0]["town"]
    assert (town["before"]["covered_demand"], town["after"]["covered_demand"]) == (100, 400)
    table = _ok(["scenarios", "evaluate", "new-station", "--standard", "agency_station"], db)
    assert "+300" in table and "100/600" in table and "400/600" in table
    assert "SP2" in _ok(["scenarios", "show", "new-station"], db)
    assert "new-station" in _ok(["scenarios", "list"], db)
    refused = run(["scenarios", "promote", "new-station", "--user", "zhao_planner"], db)
    assert refused.returncode == 1 and "editor or admin" in refused.stderr
    promoted = _ok(["scenarios", "promote", "new-station"], db)
    assert "add service_points 'SP2' -> feature" in promoted
    coverage = json.loads(_ok(["analyze", "coverage", "--standard", "agency_station", "--json"], db))
    assert coverage["town"]["covered_demand"] == 400
    assert run(["scenarios", "delete", "new-station"], db).returncode == 1  # promoted: kept as a record


def test_bad_scenario_input_is_an_error_with_the_field(db: Path) -> None:
    _ok(["scenarios", "create", "bad"], db)
    result = run(["scenarios", "add", "bad", "service_points", "--code", "SPX", "--name", "x", "--x", "105.25",
                  "--y", "30.6", "--set", "kind=castle", "--set", "village_code=510923100202"], db)
    assert result.returncode == 2 and "castle" in result.stderr
    assert run(["scenarios", "move", "bad", "service_points", "NOPE", "--x", "105.25", "--y", "30.6"],
               db).returncode == 1


def test_runs_are_listed_shown_and_rerun(db: Path) -> None:
    first = _ok(["analyze", "coverage", "--standard", "agency_station"], db)
    assert "within 1500 m, network" in first and "run 1" in first
    _ok(["analyze", "placement", "--model", "lscp"], db)
    listing = json.loads(_ok(["analyze", "runs", "list", "--json"], db))
    assert [r["kind"] for r in listing["runs"]] == ["placement", "coverage"]
    shown = _ok(["analyze", "runs", "show", "1"], db)
    assert "coverage" in shown and "inputs" in shown and "town" in shown
    again = json.loads(_ok(["analyze", "runs", "rerun", "1", "--json"], db))
    assert again == {"previous": 1, "run": 3, "inputs_changed": False, "changed_layers": {}, "outputs_equal": True}
    assert "inputs unchanged, outputs equal" in _ok(["analyze", "runs", "rerun", "1"], db)
    assert run(["analyze", "runs", "show", "99"], db).returncode == 1
