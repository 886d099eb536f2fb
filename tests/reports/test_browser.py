"""The reports as a person sees them: headless Chromium, no network at all (every request that is not a local
file is refused and recorded), then the map, markers, polygons, legend, summary, search, filters and print."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from gis_service.reports import assets, merger
from gis_service.reports.build import REPORTS
from gis_service.reports.data import load_report_data
from tests.reports.conftest import Built, OpenedPage, OpenPage

HOSTILE = '<img src=x onerror="window.pwned=1">'
ON_SCREEN = """(() => {
  const sum = (selector, key) => Array.from(document.querySelectorAll(selector))
    .reduce((n, e) => n + Number(e.dataset[key]), 0);
  const single = selector => document.querySelectorAll(".leaflet-marker-pane " + selector).length;
  return {assets: sum(".marker-cluster [data-count]", "count") + single(".asset-marker"),
          idle: sum(".idle-badge", "idle") + single(".asset-idle")};
})()"""


def _counts(demo_engine: Engine) -> dict[str, int]:
    data = load_report_data(demo_engine, ["assets", "villages", "former_villages"])
    frame = data["assets"]
    return {"assets": len(frame), "idle": int((frame["use_status"] == "idle").sum()),
            "footprints": int(frame["footprint"].notna().sum()), "villages": len(data["villages"]),
            "former": len(data["former_villages"])}


def assert_rendered_offline(opened: OpenedPage) -> None:
    assert opened.errors == []
    assert opened.refused == []  # not one request left the machine (tiles are off by default)
    assert opened.page.locator(".folium-map.leaflet-container").count() == 1
    assert opened.load_seconds < 10


def test_assets_map_has_every_asset_clustered_with_legend_and_summary(built_zh: Built, demo_engine: Engine,
                                                                      open_page: OpenPage) -> None:
    counts = _counts(demo_engine)
    with open_page(built_zh.paths["assets"].as_uri()) as opened:
        assert_rendered_offline(opened)
        assert opened.js("GisReport.cluster.getLayers().length") == counts["assets"]
        # On screen: cluster bubbles count their children (and idle ones), single markers count one each.
        assert opened.js(ON_SCREEN) == {"assets": counts["assets"], "idle": counts["idle"]}
        assert opened.js("GisReport.layers.footprints.getLayers().length") == counts["footprints"]
        assert opened.js("GisReport.layers.villages.getLayers().length") == counts["villages"]
        legend = opened.page.locator(".legend-panel").inner_text()
        assert re.search(rf"闲置\s+{counts['idle']}", legend) and "镇国有" in legend and "学校校舍" in legend
        summary = opened.page.locator(".summary-panel").inner_text()
        assert f"资产总数\n{counts['assets']}" in summary and "各村(社区)资产使用状态" in summary
        assert opened.page.locator(".summary-panel svg.chart rect").count() > counts["villages"]
        for control in (".leaflet-control-measure", ".leaflet-control-zoom-fullscreen", ".leaflet-control-scale"):
            assert opened.page.locator(control).count() == 1, control
        assert opened.page.locator(".leaflet-tile").count() == 0  # offline: no base map tiles, no requests


def test_search_finds_an_asset_by_code_and_opens_its_ledger(built_zh: Built, demo_engine: Engine,
                                                            open_page: OpenPage) -> None:
    frame = load_report_data(demo_engine, ["assets"])["assets"]
    asset = frame[frame["use_status"] == "idle"].iloc[0]
    with open_page(built_zh.paths["assets"].as_uri()) as opened:
        page = opened.page
        # Typed key by key: the search box reacts to key presses, as it would for a person.
        page.locator(".leaflet-control-search input.search-input").press_sequentially(asset["code"])
        tip = page.locator(".search-tooltip .search-tip", has_text=asset["code"])
        tip.first.click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        text = popup.inner_text()
        assert asset["name"] in text and asset["code"] in text
        assert "资产编码" in text and "使用状态" in text and "闲置" in text
        assert opened.errors == []


def test_legend_ticks_filter_the_markers(built_zh: Built, demo_engine: Engine, open_page: OpenPage) -> None:
    counts = _counts(demo_engine)
    with open_page(built_zh.paths["assets"].as_uri()) as opened:
        opened.page.uncheck("input[data-filter='s'][value='idle']")
        shown = counts["assets"] - counts["idle"]
        assert opened.js("GisReport.cluster.getLayers().length") == shown
        assert opened.page.locator(".shown-count").inner_text() == f"{shown} / {counts['assets']}"
        opened.page.click("button[data-filter-all='k'][data-checked='0']")
        assert opened.js("GisReport.cluster.getLayers().length") == 0
        assert opened.js("GisReport.layers.footprints.getLayers().length") == 0


def test_merger_map_draws_former_villages_over_merged_ones(built_zh: Built, demo_engine: Engine,
                                                          open_page: OpenPage) -> None:
    counts = _counts(demo_engine)
    with open_page(built_zh.paths["merger"].as_uri()) as opened:
        assert_rendered_offline(opened)
        assert opened.js("GisReport.layers.villages.getLayers().length") == counts["villages"]
        assert opened.js("GisReport.layers.former_villages.getLayers().length") == counts["former"]
        drawn = opened.js("Object.values(GisReport.layers.villages._layers).concat("
                          "Object.values(GisReport.layers.former_villages._layers))"
                          ".filter(l => l._path && l._path.isConnected).length")
        assert drawn == counts["villages"] + counts["former"]
        labels = opened.page.locator(".leaflet-tooltip.map-label")
        assert labels.count() == counts["villages"] + counts["former"]
        assert opened.page.locator(".leaflet-tooltip.label-minor").first.is_visible()
        table = opened.page.locator(".merger-table tbody tr")
        assert table.count() == counts["villages"]
        summary = opened.page.locator(".summary-panel").inner_text()
        assert f"撤并村\n{counts['former']}" in summary
        former = opened.js("GisReport.layers.former_villages.getLayers()[0].feature.properties.popup")
        assert "并入村代码" in former and "撤并日期" in former


def test_print_layout_hides_controls_and_keeps_the_town_in_view(built_zh: Built, open_page: OpenPage) -> None:
    with open_page(built_zh.paths["assets"].as_uri()) as opened:
        page = opened.page
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1  # one landscape A4 sheet
        page.emulate_media(media="print")
        for control in (".leaflet-control-zoom", ".leaflet-control-layers", ".leaflet-control-search",
                        ".leaflet-control-measure", ".report-nav"):
            assert page.locator(control).first.is_hidden(), control
        assert page.locator(".legend-panel").is_visible() and page.locator(".summary-panel").is_visible()
        assert opened.js("GisReport.map.getBounds().contains(GisReport.layers.villages.getBounds())")
        assert opened.errors == []


def test_english_report_in_the_browser(built_en: Built, open_page: OpenPage) -> None:
    with open_page(built_en.paths["assets"].as_uri()) as opened:
        assert_rendered_offline(opened)
        assert "Idle" in opened.page.locator(".legend-panel").inner_text()
        placeholder = opened.page.locator(".leaflet-control-search input.search-input").get_attribute("placeholder")
        assert placeholder == "Asset name or code"
        opened.js("(() => { const m = GisReport.assetMarkers[0]; "
                  "GisReport.cluster.zoomToShowLayer(m, () => m.openPopup()); })()")
        opened.page.locator(".leaflet-popup-content").wait_for()
        assert "Asset code" in opened.page.locator(".leaflet-popup-content").inner_text()


def test_names_from_the_database_are_shown_as_text_not_run(demo_engine: Engine, open_page: OpenPage,
                                                           tmp_path: Path) -> None:
    layers = REPORTS["assets"].layers
    data = load_report_data(demo_engine, layers)
    frames = {name: data[name].copy() for name in layers}
    frames["assets"] = frames["assets"].head(10).copy()  # a few are enough, and build faster
    frames["assets"].loc[0, "name"] = HOSTILE
    frames["villages"].loc[0, "name"] = HOSTILE
    frames["former_villages"].loc[0, "name"] = HOSTILE
    hostile = replace(data, frames=frames)
    path = tmp_path / "assets.html"
    path.write_text(assets.build(hostile, language="zh", built_at=datetime.now(UTC)), encoding="utf-8")
    with open_page(path.as_uri()) as opened:
        opened.js("(() => { const m = GisReport.assetMarkers[0]; "
                  "GisReport.cluster.zoomToShowLayer(m, () => m.openPopup()); })()")
        opened.page.locator(".leaflet-popup-content").wait_for()
        assert HOSTILE in opened.page.locator(".leaflet-popup-content h3").inner_text()
        assert HOSTILE in opened.page.locator(".leaflet-tooltip.map-label").all_inner_texts()
        assert opened.js("window.pwned") is None
        assert opened.page.locator("img[src='x']").count() == 0
    # Popups and labels of polygons are escaped in Python (merger report): the same escaping as the labels above.
    html = merger.build(hostile, language="zh", built_at=datetime.now(UTC))
    assert HOSTILE not in html and "\\u003cimg src=x onerror=" not in html
