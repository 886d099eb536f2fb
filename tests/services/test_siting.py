"""The siting on stored layers, on SpatiaLite and PostGIS: ranking, moving demand, planning veto, assignment."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.services.conformance import ConformanceService, table_from
from gis_service.services.siting import SitingRequest, SitingService, only_asset, parse_weights
from gis_service.services.siting_outputs import siting_json
from gis_service.settings import Settings
from tests import siting_town as town

DAY_CARE = "elderly_day_care"


def test_ranking_follows_demand_when_it_moves(engine: Engine, tmp_path: Path) -> None:
    town.load(engine, tmp_path)
    service = SitingService(engine)
    before = service.siting(SitingRequest(uses=(DAY_CARE, "warehouse"))).result
    assert before.measurements.method == "network"
    assert before.score("B", DAY_CARE) > before.score("A", DAY_CARE)
    town.replace_layer(engine, tmp_path, "settlements", town.settlements(s2_x=town.X0 + 500))
    after = service.siting(SitingRequest(uses=(DAY_CARE, "warehouse"))).result
    assert after.score("A", DAY_CARE) > before.score("A", DAY_CARE)
    assert after.score("B", DAY_CARE) < before.score("B", DAY_CARE)
    assert after.score("A", DAY_CARE) > after.score("B", DAY_CARE)


def test_building_on_permanent_farmland_scores_zero(engine: Engine, tmp_path: Path) -> None:
    town.load(engine, tmp_path, farmland_over_a=True)
    outcome = SitingService(engine).siting(SitingRequest(uses=("老年日间照料中心", "warehouse")))
    result = outcome.result
    assert result.score("A", DAY_CARE) == 0.0 and result.score("A", "warehouse") == 0.0
    assert result.score("B", DAY_CARE) > 0
    body = siting_json(outcome, only_asset(outcome, "A"), "en")
    top = body["assets"][0]["top"]
    assert top["permitted"] is False
    assert top["reasons"][0]["factor"] == "planning" and "永久基本农田" in top["reasons"][0]["zh"]


def test_assignment_and_json(engine: Engine, tmp_path: Path) -> None:
    town.load(engine, tmp_path)
    outcome = SitingService(engine).siting(SitingRequest(assign=True))
    assert outcome.assignment is not None
    assert {s.asset_code for s in outcome.assignment.steps} == {"A", "B"}
    body = siting_json(outcome, only_asset(outcome, None), "zh")
    assert [a["code"] for a in body["assets"]] == ["A", "B"]
    for asset in body["assets"]:
        assert asset["top"]["rank"] == 1 and asset["top"]["reasons"]
        scores = [entry["score"] for entry in asset["ranking"]]
        assert scores == sorted(scores, reverse=True)
    assert body["assignment"]["steps"][0]["step"] == 1


def test_bad_requests_name_the_field(engine: Engine, tmp_path: Path) -> None:
    town.load(engine, tmp_path)
    service = SitingService(engine)
    with pytest.raises(InvalidInputError, match="uses"):
        service.siting(SitingRequest(uses=("spaceport",)))
    with pytest.raises(InvalidInputError, match="weights"):
        parse_weights("demand=lots")
    with pytest.raises(InvalidInputError, match="weights"):
        parse_weights("charm=2")
    with pytest.raises(InvalidInputError, match="weights"):
        parse_weights("demand=-1")
    assert parse_weights("demand=2, scenic=0").demand == 2.0
    with pytest.raises(NotFoundError, match="asset_code"):
        only_asset(service.siting(), "NOPE")


def test_industrial_land_refuses_day_care_and_the_table_is_the_apps(engine: Engine, tmp_path: Path) -> None:
    """A stands on a 1001 (industrial) parcel: day care and kindergarten score 0 as the conformance check says,
    a workshop does not; the service judges with the table it is given (the app's GIS_PERMITTED_USES_FILE)."""
    town.load(engine, tmp_path)
    town.replace_layer(engine, tmp_path, "planning_zones", town.zones(code_under_a="1001"))
    uses = (DAY_CARE, "kindergarten", "workshop")
    result = SitingService(engine).siting(SitingRequest(uses=uses)).result
    assert result.score("A", DAY_CARE) == 0.0 and result.score("A", "kindergarten") == 0.0
    assert result.score("A", "workshop") > 0 and result.score("B", DAY_CARE) > 0
    verdict = ConformanceService(engine).layer("assets", use="kindergarten", code="A").verdicts[0]
    assert verdict.verdict == "not_conforming"
    override = tmp_path / "uses.csv"
    override.write_text("key,use,level\n1001,kindergarten,yes\n", encoding="utf-8")
    table = table_from(Settings(permitted_uses_file=override))
    ours = SitingService(engine, table).siting(SitingRequest(uses=uses)).result
    assert ours.score("A", "kindergarten") > 0 and ours.score("A", DAY_CARE) == 0.0
