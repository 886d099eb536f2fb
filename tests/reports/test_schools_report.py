"""Report 6, the school layout map, in headless Chromium with no network: catchments, children beyond reach and
idle school buildings agree with the coverage analysis and the ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from gis_service.reports.data import load_report_data
from gis_service.reports.i18n import format_number
from gis_service.reports.schools import LAYERS, SchoolView
from gis_service.services.coverage import CoverageService
from tests.reports.conftest import Built, OpenPage
from tests.reports.test_browser import assert_rendered_offline


@pytest.fixture(scope="module")
def view(demo_engine: Engine) -> SchoolView:
    return SchoolView.from_data(load_report_data(demo_engine, LAYERS))


def test_children_beyond_reach_are_the_coverage_analysis_gaps(view: SchoolView, demo_engine: Engine) -> None:
    for standard, column in (("primary_school", "primary_ok"), ("kindergarten", "kindergarten_ok")):
        town = CoverageService(demo_engine).coverage(standard).report.town
        assert view.children(column, False) == town.demand - town.covered_demand


def test_school_map_draws_schools_catchments_and_children(built_zh: Built, view: SchoolView,
                                                          open_page: OpenPage) -> None:
    settlements = view.settlements
    beyond = int((~settlements["primary_ok"] & (settlements["children"] > 0)).sum())
    open_served = view.schools["area"].notna().sum()
    with open_page(built_zh.paths["schools"].as_uri()) as opened:
        assert_rendered_offline(opened)
        assert opened.js("GisReport.layers.schools.getLayers().length") == len(view.schools)
        assert opened.js("GisReport.layers.catchments.getLayers().length") == open_served
        assert opened.js("GisReport.layers.beyond_primary.getLayers().length") == beyond
        assert opened.js("GisReport.layers.idle_schools.getLayers().length") == len(view.idle_schools) > 0
        summary = opened.page.locator(".summary-panel").inner_text()
        assert f"小学2.5公里外儿童\n{format_number(view.children('primary_ok', False), 0)}" in summary
        assert opened.page.locator(".report-table tbody tr").count() == len(view.schools)
        closed = int((view.schools["status"] != "open").sum())
        assert opened.page.locator(".report-table tbody tr.alarm").count() == closed


def test_kindergarten_gaps_are_a_layer_to_switch_on(built_zh: Built, open_page: OpenPage) -> None:
    with open_page(built_zh.paths["schools"].as_uri()) as opened:
        page = opened.page
        assert not opened.js("GisReport.map.hasLayer(GisReport.layers.beyond_kindergarten)")
        page.locator(".leaflet-control-layers").hover()
        page.locator(".leaflet-control-layers-overlays label", has_text="幼儿园1公里外的儿童").locator("input").check()
        assert opened.js("GisReport.map.hasLayer(GisReport.layers.beyond_kindergarten)")
        opened.js("void GisReport.layers.schools.getLayers()[0].openPopup()")
        text = page.locator(".leaflet-popup-content").inner_text()
        assert "学段" in text and "办学状态" in text
        assert opened.errors == []
