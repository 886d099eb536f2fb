"""Scenarios on both backends: the base layers never change until promotion; before/after by hand; promotion
writes history, is for editors only, and refuses a base that changed under the scenario."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gis_service.access import Principal, Role
from gis_service.crs import CRS84_URI, parse_crs
from gis_service.errors import (
    AuthenticationRequiredError,
    ConflictError,
    FeatureRejectedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from gis_service.layers.registry import get_layer, list_layers
from gis_service.repositories import snapshot
from gis_service.repositories.versions import layer_versions
from gis_service.services import scenarios as scenario_service
from gis_service.services.edits import EditService
from gis_service.services.runs import RunService
from gis_service.services.scenarios import ScenarioService
from tests.services.small_town import VILLAGE_A, VILLAGE_B, X0, load_small_town, point, service_point

PLANNER = Principal("zhao_planner", Role.PLANNER)
EDITOR = Principal("li_editor", Role.EDITOR)
VIEWER = Principal("wang_leader", Role.VIEWER)
CRS84 = parse_crs(CRS84_URI)


@pytest.fixture
def town(engine: Engine, tmp_path: Path) -> Engine:
    load_small_town(engine, tmp_path)
    return engine


def _base_state(engine: Engine) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """Every layer's rows (geometries as WKB) and the layers' data versions."""
    with engine.connect() as conn:
        tables = {t.name: t for t in snapshot.snapshot_tables()}
        rows = {spec.name: [r for batch in snapshot.read_rows(conn, tables[spec.name]) for r in batch]
                for spec in list_layers()}
        history = conn.execute(text("SELECT count(*) FROM feature_history")).scalar_one()
        return {**rows, "feature_history": [history]}, layer_versions(conn)


def _evaluate(engine: Engine, scenario_id: int, **parameters: Any) -> dict[str, Any]:
    run = RunService(engine).run("scenario", {"scenario_id": scenario_id, **parameters}, PLANNER.name)
    assert run.status == "ok" and run.result is not None
    return run.result


def test_scenarios_never_alter_the_base_layers(town: Engine) -> None:
    before = _base_state(town)
    scenarios = ScenarioService(town)
    scenario = scenarios.create("代办站布局", "二组、三组", PLANNER)
    scenarios.add(scenario.name, "service_points", service_point("SP2", X0 + 4000), CRS84, PLANNER)
    scenarios.move(str(scenario.id), "service_points", "SP1", point(X0 + 1000), CRS84, PLANNER)
    scenarios.add(scenario.name, "facilities", {"type": "Feature", "geometry": point(X0 + 100), "properties": {
        "code": "F1", "name": "卫生室", "kind": "村卫生室", "village_code": VILLAGE_A}}, CRS84, PLANNER)
    scenarios.remove(scenario.name, "facilities", "F1", PLANNER)  # drops the addition again
    _evaluate(town, scenario.id)
    _evaluate(town, scenario.id, standards=["centre", "village_clinic"], method="straight")
    assert _base_state(town) == before
    shown = scenarios.get(scenario.name)
    assert [(c.action, c.feature_code, c.stale) for c in shown.changes or ()] == [
        ("add", "SP2", False), ("move", "SP1", False)]
    scenarios.delete(scenario.name, PLANNER)
    assert _base_state(town) == before


def test_before_and_after_by_hand(town: Engine) -> None:
    scenarios = ScenarioService(town)
    scenario = scenarios.create("新增代办站", None, PLANNER)
    scenarios.add(scenario.name, "service_points", service_point("SP2", X0 + 4000), CRS84, PLANNER)
    result = _evaluate(town, scenario.id)
    (station,) = [s for s in result["standards"] if s["standard"]["key"] == "agency_station"]
    assert station["method"] == "network"
    # Before: only S1 (at SP1) within 1,500 m; after: S3 is 1,000 m from SP2, S2 still 2,000 m from both.
    assert (station["town"]["before"]["covered_demand"], station["town"]["after"]["covered_demand"]) == (100, 400)
    villages = {v["village_code"]: v for v in station["villages"]}
    assert villages[VILLAGE_A]["covered_change"] == 0 and villages[VILLAGE_B]["covered_change"] == 300
    assert [(s["code"], s["covered_before"], s["covered_after"], s["nearest_after"], s["distance_after_m"])
            for s in station["settlements_changed"]] == [("S3", False, True, "SP2", 1000.0)]
    diagnosis = {v["village_code"]: v for v in result["one_plus_n"]}
    assert (diagnosis[VILLAGE_B]["before"]["stations"], diagnosis[VILLAGE_B]["after"]["stations"]) == (0, 1)
    # Moving SP1 to 1,000 m east brings S1 (1,000 m) and S2 (1,000 m) in as well: everyone is covered.
    scenarios.move(scenario.name, "service_points", "SP1", point(X0 + 1000), CRS84, PLANNER)
    after = _evaluate(town, scenario.id, standards=["agency_station"])
    assert after["standards"][0]["town"]["after"]["covered_demand"] == 600


def test_geojson_holds_the_changed_facilities_and_settlements(town: Engine) -> None:
    scenarios = ScenarioService(town)
    scenario = scenarios.create("geojson", None, PLANNER)
    scenarios.add(scenario.name, "service_points", service_point("SP2", X0 + 4000), CRS84, PLANNER)
    run = RunService(town).run("scenario", {"scenario_id": scenario.id, "standards": ["agency_station"]}, "t")
    kinds = sorted((f["properties"]["kind"], f["properties"]["code"]) for f in run.features or [])
    assert kinds == [("facility", "SP2"), ("settlement", "S3")]
    assert run.inputs["scenario"]["id"] == scenario.id and isinstance(run.inputs["layers"]["service_points"], int)


def test_changes_are_validated_like_edits(town: Engine) -> None:
    scenarios = ScenarioService(town)
    scenario = scenarios.create("校验", None, PLANNER)
    with pytest.raises(FeatureRejectedError, match="castle"):
        scenarios.add(scenario.name, "service_points", {**service_point("SP9", X0), "properties": {
            "code": "SP9", "name": "x", "kind": "castle", "village_code": VILLAGE_B}}, CRS84, PLANNER)
    with pytest.raises(FeatureRejectedError, match="code"):
        scenarios.add(scenario.name, "service_points", service_point("SP1", X0), CRS84, PLANNER)  # base has SP1
    with pytest.raises(InvalidInputError, match="facilities only"):
        scenarios.add(scenario.name, "roads", service_point("R9", X0), CRS84, PLANNER)
    with pytest.raises(NotFoundError):
        scenarios.remove(scenario.name, "service_points", "NOPE", PLANNER)
    with pytest.raises(ConflictError):
        scenarios.create("校验", None, PLANNER)
    # Labels are accepted and stored as codes; a GK body with its CRS lands where it should.
    change = scenarios.add(scenario.name, "service_points", {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [3_386_600.0, X0 + 4000]},  # northing first
        "properties": {"code": "SP2", "name": "代办站", "kind": "便民服务代办站", "village_code": VILLAGE_B}},
        parse_crs("EPSG:4544"), PLANNER)
    assert change.properties is not None and change.properties["kind"] == "agency_station"
    assert change.geometry is not None
    assert change.geometry["coordinates"] == pytest.approx(point(X0 + 4000)["coordinates"], abs=1e-7)


@pytest.mark.parametrize(("who", "error"), [(VIEWER, PermissionDeniedError),
                                             (Principal("anonymous", None), AuthenticationRequiredError)])
def test_viewers_and_anonymous_cannot_make_scenarios(town: Engine, who: Principal, error: type[Exception]) -> None:
    with pytest.raises(error):
        ScenarioService(town).create("x", None, who)


def test_promotion_writes_the_base_layers_with_history(town: Engine) -> None:
    scenarios = ScenarioService(town)
    scenario = scenarios.create("落地", None, PLANNER)
    scenarios.add(scenario.name, "service_points", service_point("SP2", X0 + 4000), CRS84, PLANNER)
    scenarios.move(scenario.name, "service_points", "SP1", point(X0 + 1000), CRS84, PLANNER)
    with pytest.raises(PermissionDeniedError, match="editor or admin"):
        scenarios.promote(scenario.name, PLANNER)
    promotion = scenarios.promote(scenario.name, EDITOR)
    assert promotion.scenario.status == "promoted" and promotion.scenario.promoted_by == EDITOR.name
    assert [(e["action"], e["code"]) for e in promotion.edits] == [("add", "SP2"), ("move", "SP1")]
    history = EditService(town).changes(get_layer("service_points"), None, 10, 0)[0]
    assert sorted((v.action, v.actor) for v in history) == [("create", EDITOR.name), ("update", EDITOR.name)]
    with town.connect() as conn:
        codes = conn.execute(text("SELECT code FROM service_points ORDER BY code")).scalars().all()
    assert codes == ["SP1", "SP2"]
    coverage = RunService(town).run("coverage", {"standard": "agency_station"}, "t")
    assert coverage.result is not None and coverage.result["town"]["covered_demand"] == 600
    with pytest.raises(ConflictError, match="promoted"):
        scenarios.add(scenario.name, "service_points", service_point("SP3", X0), CRS84, PLANNER)
    with pytest.raises(ConflictError, match="promoted"):
        scenarios.promote(scenario.name, EDITOR)


def test_stale_promotion_is_refused_and_writes_nothing(town: Engine) -> None:
    scenarios = ScenarioService(town)
    scenario = scenarios.create("过时", None, PLANNER)
    scenarios.add(scenario.name, "service_points", service_point("SP2", X0 + 4000), CRS84, PLANNER)
    scenarios.move(scenario.name, "service_points", "SP1", point(X0 + 1000), CRS84, PLANNER)
    layer = get_layer("service_points")
    EditService(town).update(layer, 1, {"properties": {"name": "改名的中心阵地"}}, CRS84, EDITOR, None)
    assert [c.stale for c in scenarios.get(scenario.name).changes or ()] == [False, True]
    before = _base_state(town)
    with pytest.raises(ConflictError, match="SP1.*edited since"):
        scenarios.promote(scenario.name, EDITOR)
    assert _base_state(town) == before
    assert scenarios.get(scenario.name).status == "draft"


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads at the same time; each one's result, or the exception it raised."""
    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each call raised
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(outcome, calls))


def _change_rows(engine: Engine, scenario_id: int) -> list[tuple[str, str]]:
    query = text("SELECT action, feature_code FROM scenario_changes WHERE scenario_id = :s ORDER BY id")
    with engine.connect() as conn:
        return [(r.action, r.feature_code) for r in conn.execute(query, {"s": scenario_id})]


def test_two_adds_of_one_code_at_once_store_one_change(town: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both requests pass validation together unless the scenario row is locked first: each then meets the
    other at the barrier (before the fix both stored their row); with the lock the second waits for the first
    (the barrier times out) and is refused with 409."""
    scenarios = ScenarioService(town)
    scenario = scenarios.create("并发", None, PLANNER)
    barrier = threading.Barrier(2, timeout=1.5)
    validated = scenario_service._validated

    def together(*args: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return validated(*args)

    monkeypatch.setattr(scenario_service, "_validated", together)
    add = functools.partial(scenarios.add, scenario.name, "service_points", service_point("SP2", X0 + 4000),
                            CRS84, PLANNER)
    outcomes = _at_once(add, add)
    assert sorted(type(o).__name__ for o in outcomes) == ["Change", "ConflictError"], outcomes
    assert _change_rows(town, scenario.id) == [("add", "SP2")]
    assert len(scenarios.get(str(scenario.id)).changes or ()) == 1  # reads (and moves) still work


def test_a_change_waits_for_a_promotion_and_is_then_refused(town: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change sent while the scenario is being promoted (by name) must not land in the promoted scenario,
    where it would never be applied."""
    scenarios = ScenarioService(town)
    scenario = scenarios.create("落地中", None, PLANNER)
    scenarios.add(scenario.name, "service_points", service_point("SP2", X0 + 4000), CRS84, PLANNER)
    promoting, proceed = threading.Event(), threading.Event()
    promote_change = scenario_service._promote_change

    def slow(*args: Any) -> Any:
        promoting.set()
        proceed.wait(10)
        return promote_change(*args)

    monkeypatch.setattr(scenario_service, "_promote_change", slow)

    def add_meanwhile() -> Any:
        assert promoting.wait(10)
        timer = threading.Timer(1.0, proceed.set)  # the add gets a second to slip in, as it did before the fix
        timer.start()
        try:
            return scenarios.add(str(scenario.id), "service_points", service_point("SP3", X0 + 2000), CRS84,
                                 PLANNER)
        finally:
            proceed.set()
            timer.cancel()

    promoted, added = _at_once(lambda: scenarios.promote(scenario.name, EDITOR), add_meanwhile)
    assert not isinstance(promoted, Exception), promoted
    assert isinstance(added, ConflictError) and "promoted" in str(added), added
    assert _change_rows(town, scenario.id) == [("add", "SP2")]
    with town.connect() as conn:
        assert conn.execute(text("SELECT code FROM service_points ORDER BY code")).scalars().all() == ["SP1", "SP2"]


@pytest.mark.parametrize("ref", ["²", "１２", "٣", "12²"])
def test_digits_that_are_not_ascii_name_no_scenario(town: Engine, ref: str) -> None:
    with pytest.raises(NotFoundError):
        ScenarioService(town).get(ref)


def test_a_name_of_other_digits_is_a_name(town: Engine) -> None:
    scenarios = ScenarioService(town)
    created = scenarios.create("²", None, PLANNER)
    assert scenarios.get("²").id == created.id
    with pytest.raises(InvalidInputError, match="only digits"):
        scenarios.create("12", None, PLANNER)
