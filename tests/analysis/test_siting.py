"""The siting scores on a hand-made town (tests/siting_town.py): values computed by hand, directions, vetoes,
the town assignment."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

from gis_service.analysis.conformance_uses import load_permitted_uses
from gis_service.analysis.network import RoadNetwork
from gis_service.analysis.siting import PlanningVerdict, SitingModel, SitingWeights, assign_town
from gis_service.analysis.siting_planning import planning_verdicts
from gis_service.analysis.siting_reasons import reasons
from gis_service.analysis.siting_result import SitingParameters
from gis_service.analysis.siting_uses import profiles_for
from tests import siting_town as town

DAY_CARE = "elderly_day_care"


def model(assets: gpd.GeoDataFrame | None = None, settlements: gpd.GeoDataFrame | None = None,
          **kwargs: object) -> SitingModel:
    roads = town.roads()
    return SitingModel.from_geodataframes(
        town.assets() if assets is None else assets, town.settlements() if settlements is None else settlements,
        network=RoadNetwork.from_geodataframes(roads), roads=roads, zones=town.zones(), **kwargs)  # type: ignore[arg-type]


def test_hand_computed_values_and_ranking() -> None:
    result = model(uses=[DAY_CARE, "warehouse"]).solve()
    a, b = result.position("A", DAY_CARE), result.position("B", DAY_CARE)
    assert result.raw["coverage_gain"][a] == 100 and result.raw["coverage_gain"][b] == 300
    assert result.values["coverage_gain"][a] == pytest.approx(0.4)
    assert result.values["coverage_gain"][b] == pytest.approx(300 / 450)
    assert result.values["condition"][a] == 1.0 and result.values["area"][a] == 1.0  # 300 m² ≥ 200 m²
    assert result.score("B", DAY_CARE) > result.score("A", DAY_CARE)
    # The score is the sum of the contributions, each share × value.
    for name in result.values:
        value = result.values[name][b]
        if math.isfinite(value):
            assert result.contributions[name][b] == pytest.approx(result.shares[name][b] * value)
    assert sum(result.contributions[n][b] for n in result.values) == pytest.approx(result.score("B", DAY_CARE))
    # No day-care centre exists: the factor "nearest of the same kind" is at its best.
    assert result.values["nearest_same_kind"][b] == 1.0


def test_moving_demand_towards_an_asset_raises_its_score() -> None:
    before = model(uses=[DAY_CARE]).solve()
    after = model(settlements=town.settlements(s2_x=town.X0 + 500), uses=[DAY_CARE]).solve()
    assert after.score("A", DAY_CARE) > before.score("A", DAY_CARE)
    assert after.score("B", DAY_CARE) < before.score("B", DAY_CARE)
    assert after.score("A", DAY_CARE) > after.score("B", DAY_CARE)  # the ranking turned


def test_an_existing_facility_nearby_lowers_the_score() -> None:
    centre = gpd.GeoDataFrame({"code": ["F1"], "kind": ["elderly_day_care"]},
                              geometry=[Point(town.X0 + 4000, town.Y0)], crs=4544)
    alone = model(uses=[DAY_CARE]).solve()
    beside = model(uses=[DAY_CARE], facilities={"facilities": centre}).solve()
    b = beside.position("B", DAY_CARE)
    assert beside.raw["coverage_gain"][b] == 0  # S2 is covered already
    assert beside.raw["nearest_same_kind"][b] == pytest.approx(220, abs=1)  # 20 m leg + 200 m along the road
    assert beside.score("B", DAY_CARE) < alone.score("B", DAY_CARE)
    assert beside.score("A", DAY_CARE) == pytest.approx(alone.score("A", DAY_CARE), abs=0.02)


def test_a_use_the_plan_forbids_scores_zero_with_the_reason() -> None:
    verdict = PlanningVerdict(False, "位于永久基本农田内", "lies in permanent basic farmland")
    result = model(uses=[DAY_CARE, "warehouse"], permitted={"A": {DAY_CARE: verdict}}).solve()
    assert result.score("A", DAY_CARE) == 0.0
    assert result.score("A", "warehouse") > 0  # only the forbidden use
    words = reasons(result, *result.position("A", DAY_CARE))
    assert words[0].factor == "planning" and "规划不允许" in words[0].zh and "forbidden" in words[0].en
    assert result.ranking(0)[0] == result.use_codes.index("warehouse")


def test_unsafe_building_cannot_host_people() -> None:
    frame = town.assets().assign(building_condition=["dangerous", "good"])
    result = model(frame, uses=[DAY_CARE, "warehouse"]).solve()
    assert result.score("A", DAY_CARE) == 0.0 and result.score("A", "warehouse") > 0
    assert result.score("B", DAY_CARE) > 0


def test_weights_change_the_score_as_documented() -> None:
    only_gain = SitingWeights(**{name: 0.0 for name in SitingWeights().as_dict()} | {"coverage_gain": 1.0})
    result = model(uses=[DAY_CARE], parameters=SitingParameters(weights=only_gain)).solve()
    assert result.score("A", DAY_CARE) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="road_access"):
        SitingWeights(road_access=-1)


def test_land_takes_no_building_use() -> None:
    frame = town.assets().assign(category=["land", "village_office"], land_area=[5000.0, 400.0])
    result = model(frame, uses=[DAY_CARE, "farming"]).solve()
    assert math.isnan(result.score("A", DAY_CARE)) and result.score("A", "farming") > 0
    assert math.isnan(result.score("B", "farming"))
    assert result.rank[0].tolist() == [0, 1]


def test_assignment_never_gives_the_same_people_to_two_assets() -> None:
    # Two offices 300 m apart around one hamlet of 300 elderly: both reach the same people.
    frame = town.assets(xs=(town.X0, town.X0 + 300, town.X0 + 4200), codes=("A1", "A2", "B"))
    people = town.settlements().assign(elderly=[300, 300],
                                       geometry=[Point(town.X0 + 150, town.Y0), Point(town.X0 + 4000, town.Y0)])
    result = model(frame, people, uses=[DAY_CARE, "warehouse"]).solve()
    # Scored one by one, both offices near the hamlet are best as day-care centres.
    assert result.use_codes[result.ranking(0)[0]] == DAY_CARE == result.use_codes[result.ranking(1)[0]]
    plan = assign_town(result)
    day_care = [s for s in plan.steps if s.use == DAY_CARE]
    assert sorted(s.asset_code for s in day_care) in (["A1", "B"], ["A2", "B"])
    served = [set(s.served) for s in day_care]
    assert not served[0] & served[1]
    assert all(s.new_coverage > 0 for s in day_care)
    loser = ({"A1", "A2"} - {s.asset_code for s in day_care}).pop()
    assert plan.use_of(loser) == "warehouse"
    assert len({s.asset_code for s in plan.steps}) == len(plan.steps)  # at most one use per asset
    assert not plan.unassigned


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="projected"):
        SitingModel.from_geodataframes(town.assets().to_crs(4490), town.settlements())
    with pytest.raises(ValueError, match="unknown use"):
        model(uses=["spaceport"])
    with pytest.raises(ValueError, match="elderly"):
        model(settlements=town.settlements().drop(columns="elderly"), uses=[DAY_CARE])


def test_straight_lines_without_a_network() -> None:
    result = SitingModel.from_geodataframes(town.assets(), town.settlements(), uses=[DAY_CARE]).solve()
    assert result.measurements.method == "straight"
    assert np.isnan(result.values["road_access"]).all()  # no road layer: left out, not guessed
    assert result.score("B", DAY_CARE) > result.score("A", DAY_CARE)


KINDERGARTEN, WORKSHOP = "kindergarten", "workshop"


def test_siting_judges_uses_with_the_permitted_use_table() -> None:
    """A on industrial land (1001): no day care or kindergarten there, as the conformance check says; a workshop
    is fine. B on village construction land of no stated use: allowed on condition of the village plan."""
    uses = [DAY_CARE, KINDERGARTEN, WORKSHOP]
    verdicts = planning_verdicts(town.assets(), town.zones(code_under_a="1001"), profiles_for(uses))
    result = model(uses=uses, permitted=verdicts).solve()
    for use in (DAY_CARE, KINDERGARTEN):
        assert result.score("A", use) == 0.0
        words = reasons(result, *result.position("A", use))
        assert words[0].factor == "planning" and "规划不允许" in words[0].zh and "1001" in words[0].zh
    assert result.permitted[result.position("A", WORKSHOP)].permitted is True
    assert result.score("A", WORKSHOP) > 0
    b_care = result.permitted[result.position("B", DAY_CARE)]
    assert (b_care.permitted, b_care.conditional) == (True, True)
    assert result.score("B", DAY_CARE) > 0
    conditions = [w for w in reasons(result, *result.position("B", DAY_CARE)) if w.factor == "planning"]
    assert len(conditions) == 1 and "规划有条件允许" in conditions[0].zh and "村庄规划" in conditions[0].zh


def test_siting_takes_the_table_it_is_given(tmp_path: Path) -> None:
    override = tmp_path / "uses.csv"
    override.write_text("key,use,level,condition_zh,condition_en\n1001,kindergarten,conditional,限企业托育点,"
                        "workplace nursery only\n", encoding="utf-8")
    zones = town.zones(code_under_a="1001")
    built_in = planning_verdicts(town.assets(), zones, profiles_for([KINDERGARTEN]))
    ours = planning_verdicts(town.assets(), zones, profiles_for([KINDERGARTEN]), table=load_permitted_uses(override))
    assert built_in["A"][KINDERGARTEN].permitted is False
    assert ours["A"][KINDERGARTEN].permitted is True and "限企业托育点" in ours["A"][KINDERGARTEN].reason_zh


def test_farming_a_pond_is_judged_as_aquaculture() -> None:
    frame = town.assets().assign(category=["pond", "land"], land_area=[5000.0, 5000.0])
    zones = town.zones(code_under_a="1704")  # A: a pond on pond water; B: land on village construction land
    verdicts = planning_verdicts(frame, zones, profiles_for(["farming"]))
    assert verdicts["A"]["farming"].permitted is True and not verdicts["A"]["farming"].conditional
    assert verdicts["B"]["farming"].permitted is False  # no farming on village construction land
    assert DAY_CARE not in verdicts["A"]  # a pond cannot take a building use: not judged
