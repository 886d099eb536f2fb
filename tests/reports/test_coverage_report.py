"""Report 3, the "1+N" coverage map, in headless Chromium with no network: what it draws matches the coverage
analysis, layers toggle, popups speak Chinese; and a screenshot of every report is kept as an artifact."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from sqlalchemy import Engine

from gis_service.reports import build_reports
from gis_service.reports.build import REPORTS
from gis_service.reports.coverage import LAYERS, CoverageView
from gis_service.reports.data import load_report_data
from gis_service.services.demo import load_demo
from gis_service.services.layers import LayerService
from tests.conftest import DEMO_DIR, make_engine
from tests.reports.conftest import Built, OpenPage
from tests.reports.test_browser import assert_rendered_offline

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "reports"
FILL = "GisReport.layers.{}.getLayers().filter(l => l.options.fillColor === '{}').length"


@pytest.fixture(scope="module")
def view(demo_engine: Engine) -> CoverageView:
    return CoverageView.from_data(load_report_data(demo_engine, LAYERS))


def test_coverage_map_draws_what_the_analysis_found(built_zh: Built, view: CoverageView,
                                                    open_page: OpenPage) -> None:
    uncovered = int((~view.settlements["covered"]).sum())
    assert 0 < uncovered < len(view.settlements)  # the demo town has gaps for the report to show
    with open_page(built_zh.paths["coverage"].as_uri()) as opened:
        assert_rendered_offline(opened)
        assert opened.js("GisReport.layers.settlements.getLayers().length") == len(view.settlements)
        assert opened.js(FILL.format("settlements", "#d7301f")) == uncovered
        assert opened.js("GisReport.layers.service_points.getLayers().length") == len(view.points)
        assert opened.js("GisReport.layers.areas.getLayers().length") == int((~view.points["area"].is_empty).sum())
        assert view.placement is not None
        assert opened.js("GisReport.layers.proposed.getLayers().length") == len(view.placement.sites)
        summary = opened.page.locator(".summary-panel").inner_text()
        assert f"未覆盖居民点\n{uncovered}" in summary and "各村(社区)人口覆盖情况" in summary
        rows = opened.page.locator(".report-table tbody tr")
        assert rows.count() == len(view.diagnosis)
        needing = sum(1 for d in view.diagnosis if d.stations_needed or not d.has_centre)
        assert opened.page.locator(".report-table tbody tr.alarm").count() == needing


def test_proposed_stations_toggle_and_popups_are_chinese(built_zh: Built, open_page: OpenPage) -> None:
    with open_page(built_zh.paths["coverage"].as_uri()) as opened:
        page = opened.page
        assert opened.js("GisReport.map.hasLayer(GisReport.layers.proposed)")
        page.locator(".leaflet-control-layers").hover()
        page.locator(".leaflet-control-layers-overlays label", has_text="建议增设代办站").locator("input").uncheck()
        assert not opened.js("GisReport.map.hasLayer(GisReport.layers.proposed)")
        opened.js("void GisReport.layers.settlements.getLayers()[0].openPopup()")
        text = page.locator(".leaflet-popup-content").inner_text()
        assert "覆盖情况" in text and "至最近服务点距离" in text and "人口" in text
        assert opened.errors == []


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_is_photographed_offline(built_zh: Built, open_page: OpenPage, name: str) -> None:
    with open_page(built_zh.paths[name].as_uri()) as opened:
        assert_rendered_offline(opened)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.page.wait_for_timeout(300)  # let clusters and labels settle before the picture
        path = ARTIFACTS / f"{name}.png"
        opened.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 20_000  # a map, not a blank page


def test_ten_thousand_settlements_stay_one_canvas(request: pytest.FixtureRequest, tmp_path: Path,
                                                  open_page: OpenPage) -> None:
    """Issue 7's scale: 10,000 points and the town's ~1,650 planning parcels. Vector layers go on one canvas
    (not one SVG node each) and every settlement is drawn."""
    engine = make_engine("spatialite", request, tmp_path)
    load_demo(engine, DEMO_DIR)
    demo = gpd.read_file(DEMO_DIR / "settlements.geojson")
    rng = np.random.default_rng(7)
    copies = demo.iloc[rng.integers(0, len(demo), 10_000)].reset_index(drop=True)
    moved = copies.to_crs(4544)
    moved["geometry"] = gpd.points_from_xy(moved.geometry.x + rng.normal(0, 60, len(moved)),
                                           moved.geometry.y + rng.normal(0, 60, len(moved)), crs=4544)
    moved["code"] = [f"JM-SCALE-{i:05d}" for i in range(len(moved))]
    moved.to_crs(4490).to_file(tmp_path / "settlements.geojson", driver="GeoJSON")
    LayerService(engine).import_files([(tmp_path / "settlements.geojson", "settlements")], mode="replace")
    build_reports(engine, tmp_path / "maps", which=["coverage", "planning"])
    engine.dispose()
    with open_page((tmp_path / "maps" / "coverage.html").as_uri()) as opened:
        assert_rendered_offline(opened)
        assert opened.js("GisReport.layers.settlements.getLayers().length") == 10_000
        assert opened.page.locator(".leaflet-overlay-pane canvas").count() >= 1
        assert opened.page.locator(".leaflet-overlay-pane path").count() < 100  # no SVG node per feature
    with open_page((tmp_path / "maps" / "planning.html").as_uri()) as opened:
        assert_rendered_offline(opened)
        drawn = opened.js("['land_use', 'permanent_farmland', 'ecological_redline', 'development_boundary']"
                          ".reduce((n, k) => n + GisReport.layers[k].getLayers().length, 0)")
        zones = (DEMO_DIR / "planning_zones.geojson").read_text(encoding="utf-8").count('{"type":"Feature",')
        assert drawn == zones > 1_500
