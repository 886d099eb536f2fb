"""Analysis runs on both backends: stored with inputs, parameters and outputs; listed; re-run and compared."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gis_service.access import Principal, Role
from gis_service.crs import CRS84_URI, parse_crs
from gis_service.errors import (
    AuthenticationRequiredError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from gis_service.layers.registry import get_layer
from gis_service.services.edits import EditService
from gis_service.services.runs import RunService, input_hash, require_rerun
from tests.services.small_town import X0, load_small_town, service_point

EDITOR = Principal("li_editor", Role.EDITOR)


@pytest.fixture
def town(engine: Engine, tmp_path: Path) -> Engine:
    load_small_town(engine, tmp_path)
    return engine


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM analysis_runs")).scalar_one())


def test_a_run_keeps_parameters_inputs_and_outputs(town: Engine) -> None:
    runs = RunService(town)
    run = runs.run("coverage", {"standard": "agency_station"}, "zhao")
    assert run.parameters == {"standard": "agency_station", "method": "auto", "metres": None, "minutes": None}
    assert set(run.inputs["layers"]) == {"settlements", "service_points", "roads", "rivers", "bridges"}
    assert run.input_hash == input_hash(run.inputs) and run.status == "ok" and run.seconds > 0
    stored = runs.get(run.id)
    assert stored.result == run.result and stored.result is not None
    assert stored.result["town"]["covered_demand"] == 100 and stored.result["method"] == "network"
    assert [f["properties"]["code"] for f in stored.features or []] == ["S1", "S2", "S3"]
    assert stored.created_by == "zhao" and stored.started_at.tzinfo is not None


def test_runs_are_listed_newest_first_by_kind_and_page(town: Engine) -> None:
    runs = RunService(town)
    first = runs.run("coverage", {"standard": "centre"}, "a")
    second = runs.run("one_plus_n", {}, "a")
    third = runs.run("coverage", {"standard": "agency_station", "method": "straight"}, "a")
    listed, total = runs.page()
    assert total == 3 and [r.id for r in listed] == [third.id, second.id, first.id]
    assert all(r.outputs is None for r in listed)  # lists carry no results
    coverage, total = runs.page("coverage", limit=1, offset=1)
    assert total == 2 and [r.id for r in coverage] == [first.id]
    with pytest.raises(InvalidInputError):
        runs.page("nope")


def test_rerun_says_whether_inputs_changed_and_outputs_are_equal(town: Engine) -> None:
    runs = RunService(town)
    run = runs.run("coverage", {"standard": "agency_station"}, "a")
    again = runs.rerun(run.id, "b")
    assert again.run.id != run.id and again.run.parameters == run.parameters
    assert not again.inputs_changed and again.changed_layers == {} and again.outputs_equal
    EditService(town).create(get_layer("service_points"), service_point("SP2", X0 + 4000), parse_crs(CRS84_URI),
                             EDITOR)
    changed = runs.rerun(run.id, "b")
    assert changed.inputs_changed and list(changed.changed_layers) == ["service_points"]
    assert not changed.outputs_equal
    assert changed.run.result is not None and changed.run.result["town"]["covered_demand"] == 400


def test_placement_models_are_stored_with_solver_and_objective(town: Engine) -> None:
    runs = RunService(town)
    # No assets: the existing centre is the only candidate, so one more site cannot be placed.
    with pytest.raises(ValueError, match="p counts all sites"):
        runs.run("placement", {"new_sites": 1}, "a")
    failed, _ = runs.page("placement")
    assert failed[0].status == "failed" and "p counts all sites" in (failed[0].error or "")
    assert failed[0].outputs is None and set(failed[0].inputs["layers"]) >= {"assets", "settlements"}
    lscp = runs.run("placement", {"model": "lscp"}, "a")
    assert lscp.solver is not None and lscp.solver.startswith("lscp") and lscp.objective == 1.0
    assert lscp.result is not None and lscp.result["left_out"] == ["S2", "S3"]  # out of the centre's reach


@pytest.mark.parametrize(("kind", "parameters"), [
    ("coverage", {"standard": "nope"}), ("coverage", {"method": "fly"}), ("placement", {"model": "magic"}),
    ("placement", {"model": "capacitated"}), ("placement", {"new_sites": "many"}), ("scenario", {}), ("tea", {}),
])
def test_bad_parameters_store_nothing(town: Engine, kind: str, parameters: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        RunService(town).run(kind, parameters, "a")
    assert _count(town) == 0


def test_unknown_run_is_404(town: Engine) -> None:
    with pytest.raises(NotFoundError):
        RunService(town).get(99)


@pytest.mark.parametrize(("who", "error"), [
    (Principal("anonymous", None), AuthenticationRequiredError),
    (Principal("wang_leader", Role.VIEWER), PermissionDeniedError),
    (Principal("zhao_planner", Role.PLANNER), None),
    (EDITOR, None),
    (Principal("root", Role.ADMIN), None),
])
def test_only_planners_editors_and_admins_may_rerun(who: Principal, error: type[Exception] | None) -> None:
    if error is None:
        require_rerun(who)
    else:
        with pytest.raises(error, match="planner, editor or admin"):
            require_rerun(who)
