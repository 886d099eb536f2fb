"""Report 5, the planning control map, in headless Chromium with no network: zones and control lines as stored,
assets coloured by the same conformance the ledger's registration uses, conflicts listed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from gis_service.reports.data import load_report_data
from gis_service.reports.planning import CONTROL_LINES, LAYERS, PlanningView
from gis_service.services.ledger_registration import LedgerRegistrationService
from tests.reports.conftest import Built, OpenPage
from tests.reports.test_browser import assert_rendered_offline


@pytest.fixture(scope="module")
def view(demo_engine: Engine) -> PlanningView:
    return PlanningView.from_data(load_report_data(demo_engine, LAYERS))


def test_map_and_ledger_agree_on_every_pathway(view: PlanningView, demo_engine: Engine) -> None:
    ledger = {r.code: r.pathway.pathway for r in LedgerRegistrationService(demo_engine).report().assets}
    assert dict(zip(view.assets["code"], view.assets["pathway"], strict=True)) == ledger


def test_planning_map_draws_zones_control_lines_and_conflicts(built_zh: Built, view: PlanningView,
                                                              open_page: OpenPage) -> None:
    zones = view.zones["zone_type"].value_counts()
    conflicts = int((view.assets["state"] == "conflict").sum())
    with open_page(built_zh.paths["planning"].as_uri()) as opened:
        assert_rendered_offline(opened)
        for zone_type in CONTROL_LINES:
            assert opened.js(f"GisReport.layers.{zone_type}.getLayers().length") == zones.get(zone_type, 0)
        land_use = int(len(view.zones) - sum(zones.get(z, 0) for z in CONTROL_LINES))
        assert opened.js("GisReport.layers.land_use.getLayers().length") == land_use
        states = opened.js("GisReport.layers.assets.getLayers().map(l => l.feature.properties.state)")
        assert len(states) == len(view.assets) and states.count("conflict") == conflicts > 0
        assert opened.page.locator(".report-table tbody tr").count() == conflicts
        opened.js("void GisReport.layers.assets.getLayers().find(l => l.feature.properties.state === 'conflict')"
                  ".openPopup()")
        popup = opened.page.locator(".leaflet-popup-content").inner_text()
        assert "规划符合性" in popup and "登记路径" in popup and "不符合规划" in popup
        opened.page.locator(".leaflet-control-layers").hover()
        toggle = opened.page.locator(".leaflet-control-layers-overlays label", has_text="永久基本农田")
        toggle.locator("input").uncheck()
        assert not opened.js("GisReport.map.hasLayer(GisReport.layers.permanent_farmland)")
        assert opened.errors == []
