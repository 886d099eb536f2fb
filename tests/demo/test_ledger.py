"""The demo town's ledger: realistic in every state, consistent with the assets, mistakes only where planted."""

from __future__ import annotations

from collections import Counter
from datetime import date

import geopandas as gpd
import pytest

from gis_service.demo.generator import DemoTown, build
from gis_service.ledger import rules

AS_OF = date(2026, 11, 26)


@pytest.fixture(scope="module")
def town() -> DemoTown:
    return build()


@pytest.fixture(scope="module")
def assets(town: DemoTown) -> gpd.GeoDataFrame:
    return town.layers["assets"].set_index("code", drop=False)


def test_plans_follow_the_notice_and_come_in_every_state(town: DemoTown, assets: gpd.GeoDataFrame) -> None:
    plans = town.ledger.plans
    assert Counter(p["status"] for p in plans).keys() == {"pending", "in_progress", "struck_off"}
    for plan in plans:
        asset = assets.loc[plan["asset_code"]]
        assert rules.needs_plan(asset["use_status"]), plan["asset_code"]
        assert rules.mode_fits_ownership(plan["mode"], asset["ownership"]), plan
        assert plan["planned_on"] <= plan["deadline"]
        assert (plan["struck_off_on"] is not None) == (plan["status"] == "struck_off")
    overdue = [p for p in plans if rules.is_overdue(p["deadline"], p["status"], AS_OF)]
    running = [p for p in plans if p["status"] != "struck_off" and p["deadline"] >= AS_OF]
    assert overdue and running
    idle = assets[assets["use_status"].isin(rules.NEEDS_PLAN)]
    assert 0 < len(idle) - len(plans) < len(idle) / 5  # a few idle assets still have no plan


def test_every_struck_off_plan_has_evidence(town: DemoTown) -> None:
    struck = {p["asset_code"] for p in town.ledger.plans if p["status"] == "struck_off"}
    evidence = {d["asset_code"] for d in town.ledger.documents if d["purpose"] == "evidence"}
    assert struck == evidence


def test_transfers_agree_with_owners(town: DemoTown, assets: gpd.GeoDataFrame) -> None:
    statuses = Counter(t["status"] for t in town.ledger.transfers)
    assert statuses["completed"] > statuses["pending"] > 0
    for transfer in town.ledger.transfers:
        asset = assets.loc[transfer["asset_code"]]
        assert transfer["from_code"] == asset["former_village_code"]
        if transfer["status"] == "completed":
            assert asset["owner_code"] == transfer["to_code"] and transfer["transfer_date"] and transfer["approval"]
        else:
            assert asset["owner_code"] == transfer["from_code"] and transfer["transfer_date"] is None
    recorded = {t["asset_code"] for t in town.ledger.transfers}
    still_former = set(assets.loc[assets["owner_code"] == assets["former_village_code"], "code"])
    entered_twice = set(town.ledger.planted["duplicate"][1:])
    assert still_former - recorded - entered_twice == set(town.ledger.planted["no_transfer"])


def test_claims_go_to_the_village_their_former_village_merged_into(town: DemoTown) -> None:
    merged_into = dict(zip(town.layers["former_villages"]["code"], town.layers["former_villages"]["merged_into"],
                           strict=True))
    wrong = [f"{c['former_village_code']}:{c['counterparty']}" for c in town.ledger.claims
             if c["to_code"] != merged_into[c["former_village_code"]]]
    assert wrong == town.ledger.planted["claim_wrong_village"]
    assert {c["kind"] for c in town.ledger.claims} == {"claim", "debt"}


def test_planted_inventory_mistakes_are_real(town: DemoTown) -> None:
    metric = town.layers["assets"].to_crs(4544).set_index("code")
    villages = town.layers["villages"].to_crs(4544).set_index("code")
    for code in town.ledger.planted["wrong_village"]:
        assert not villages.loc[metric.loc[code, "village_code"], "geometry"].contains(metric.loc[code, "geometry"])
    first, second = town.ledger.planted["duplicate"]
    assert metric.loc[first, "name"] == metric.loc[second, "name"]
    assert metric.loc[first, "geometry"].distance(metric.loc[second, "geometry"]) < 5
    assert metric.loc[town.ledger.planted["no_location"][0], "location"] is None
    assert metric.loc[town.ledger.planted["not_inventoried"][0], "inventoried_on"] is None


def test_leases_and_ledger_fields(assets: gpd.GeoDataFrame) -> None:
    leased = assets[assets["use_status"] == "leased"]
    assert leased["tenant"].notna().all() and (leased["annual_income"] > 0).all()
    assert (leased["lease_end"] > leased["lease_start"]).all()
    assert assets.loc[assets["use_status"] != "leased", "tenant"].isna().all()
    assert (assets["net_value"] <= assets["original_value"]).all()
    assert assets["certificate_no"].notna().any() and assets["documents_status"].notna().all()
