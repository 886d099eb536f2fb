"""Registration pathways (notice plan 2, §六) on both backends: one hand-made asset for each pathway."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.services.layers import LayerService
from gis_service.services.ledger_registration import LedgerRegistrationService, report_json
from tests.services.ledger_registry_data import (
    CERTIFICATE,
    VILLAGE_A,
    VILLAGE_B,
    four_pathways,
    load_assets,
    load_zones,
)


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> LedgerRegistrationService:
    layers = LayerService(engine)
    load_zones(layers, tmp_path)
    load_assets(layers, tmp_path, four_pathways())
    return LedgerRegistrationService(engine)


def test_each_asset_gets_its_pathway_and_reason(service: LedgerRegistrationService) -> None:
    found = {a.code: a for a in service.report().assets}
    assert {code: a.pathway.pathway for code, a in found.items()} == {
        "R-CERT": "change_registration", "R-DOCS": "register", "R-JOINT": "joint_approval",
        "R-FARM": "plan_first", "R-NODATA": "plan_first", "R-POND": "joint_approval"}
    assert CERTIFICATE in found["R-CERT"].reason("zh")
    assert found["R-JOINT"].reason("zh").endswith("(位于建设用地(村庄建设用地 0703))")
    assert found["R-FARM"].reason("zh").endswith("(占用永久基本农田1000.0㎡)")
    assert "overlaps permanent basic farmland by 1000.0 m²" in found["R-FARM"].reason("en")
    assert "no planning data here" in found["R-NODATA"].reason("en")
    assert found["R-NODATA"].conformance.conforming is None
    assert found["R-POND"].conformance.reason_en == "lies on water (ponds) (water 1704)"


def test_zones_touched_with_area_and_share(service: LedgerRegistrationService) -> None:
    farm = service.one("R-FARM")
    assert [(z.code, z.zone_type, z.land_use_code) for z in farm.zones] == [
        ("Z-VC", "village_construction", "0703"), ("Z-PF", "permanent_farmland", "0101")]
    # 1000 m² each side (the footprint went through EPSG:4490 in storage and back: within 1 cm²).
    assert [z.area_m2 for z in farm.zones] == pytest.approx([1000.0, 1000.0], abs=0.01)
    assert [z.share for z in farm.zones] == pytest.approx([0.5, 0.5], abs=1e-4)
    point = service.one("R-DOCS")
    assert [(z.code, z.area_m2, z.share) for z in point.zones] == [("Z-VC", 0.0, 1.0)]


def test_counts_per_village_and_filters(service: LedgerRegistrationService) -> None:
    report = service.report()
    assert report.counts == {
        VILLAGE_A: {"change_registration": 1, "register": 0, "joint_approval": 2, "plan_first": 2},
        VILLAGE_B: {"change_registration": 0, "register": 1, "joint_approval": 0, "plan_first": 0}}
    assert report.totals == {"change_registration": 1, "register": 1, "joint_approval": 2, "plan_first": 2}
    assert [a.code for a in service.report(village=VILLAGE_B).assets] == ["R-DOCS"]
    by_label = service.report(pathway="不符合规划,先纳入规划再登记")
    assert [a.code for a in by_label.assets] == ["R-FARM", "R-NODATA"]
    assert by_label.totals["register"] == 1  # counts stay over every pathway
    body = report_json(by_label, "en")
    assert body["pathways"]["plan_first"] == "not conforming: enter the plan first"
    assert body["assets"][0]["zones"][1]["zone_type_label"] == "permanent basic farmland"


def test_unknown_asset_and_pathway(service: LedgerRegistrationService) -> None:
    with pytest.raises(NotFoundError, match="NOPE"):
        service.one("NOPE")
    with pytest.raises(InvalidInputError, match="unknown registration pathway"):
        service.report(pathway="someday")


def test_no_planning_zones_at_all(engine: Engine, tmp_path: Path) -> None:
    load_assets(LayerService(engine), tmp_path, four_pathways()[2:3])
    [only] = LedgerRegistrationService(engine).report().assets
    assert only.pathway.pathway == "plan_first"
    assert only.conformance.reason_zh == "所在位置无规划数据"
