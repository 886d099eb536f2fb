"""Report 4, the revitalisation map, in headless Chromium with no network: every idle asset with the state of its
plan, the overdue list leaders chase, and staleness when a plan changes."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from gis_service.ledger.rules import is_overdue
from gis_service.reports.build import ensure_current
from gis_service.reports.i18n import REPORT_TZ
from tests.reports.conftest import Built, OpenPage
from tests.reports.test_browser import assert_rendered_offline


def _ledger(engine: Engine) -> tuple[int, int, int]:
    """Idle assets, overdue plans and assets without a plan, counted in SQL (independently of the report)."""
    today = datetime.now(REPORT_TZ).date()
    with engine.connect() as conn:
        idle = conn.execute(text("SELECT count(*) FROM assets WHERE use_status IN ('idle', 'partly_idle')")).scalar()
        plans = conn.execute(text(
            "SELECT p.status, p.deadline FROM revitalisation_plans p JOIN assets a ON a.code = p.asset_code "
            "WHERE a.use_status IN ('idle', 'partly_idle')")).all()
    overdue = sum(1 for status, deadline in plans
                  if is_overdue(deadline if not isinstance(deadline, str) else datetime.fromisoformat(deadline).date(),
                                status, today))
    return int(idle or 0), overdue, int(idle or 0) - len(plans)


def test_revitalisation_map_shows_every_idle_asset_and_the_overdue_plans(built_zh: Built, demo_engine: Engine,
                                                                         open_page: OpenPage) -> None:
    idle, overdue, no_plan = _ledger(demo_engine)
    assert overdue > 0 and no_plan > 0  # the demo ledger has both
    with open_page(built_zh.paths["revitalisation"].as_uri()) as opened:
        assert_rendered_offline(opened)
        assert opened.js("GisReport.layers.idle_assets.getLayers().length") == idle
        states = opened.js("GisReport.layers.idle_assets.getLayers().map(l => l.feature.properties.state)")
        assert states.count("overdue") == overdue and states.count("no_plan") == no_plan
        assert opened.page.locator(".report-table tbody tr.alarm").count() == overdue
        summary = opened.page.locator(".summary-panel").inner_text()
        assert f"逾期\n{overdue}" in summary and f"未制定方案\n{no_plan}" in summary
        opened.js("void GisReport.layers.idle_assets.getLayers().find(l => l.feature.properties.state === 'overdue')"
                  ".openPopup()")
        popup = opened.page.locator(".leaflet-popup-content").inner_text()
        assert "责任人" in popup and "完成时限" in popup and "牵头单位" in popup
        assert "推荐用途" in popup and "理由" in popup  # the siting's top recommendation and why
        waiting = opened.page.locator(".report-table-panel", has_text="未制定方案资产的推荐用途")
        assert waiting.locator("tbody tr").count() == no_plan
        assert opened.errors == []


def test_a_struck_off_plan_makes_the_report_stale(built_zh: Built, demo_engine: Engine, tmp_path: Path) -> None:
    shutil.copytree(built_zh.folder, tmp_path, dirs_exist_ok=True)
    ensure_current(demo_engine, tmp_path, language="zh")  # other tests may have touched the data since
    assert ensure_current(demo_engine, tmp_path, language="zh") == []
    with demo_engine.begin() as conn:
        previous = conn.execute(text("SELECT id, note FROM revitalisation_plans ORDER BY id LIMIT 1")).one()
        conn.execute(text("UPDATE revitalisation_plans SET note = 'checked' WHERE id = :id"), {"id": previous[0]})
    try:
        assert ensure_current(demo_engine, tmp_path, language="zh", which=["revitalisation"]) == ["revitalisation"]
    finally:
        with demo_engine.begin() as conn:
            conn.execute(text("UPDATE revitalisation_plans SET note = :note WHERE id = :id"),
                         {"id": previous[0], "note": previous[1]})


def test_the_overdue_list_is_rebuilt_on_a_new_day(built_zh: Built, demo_engine: Engine, tmp_path: Path) -> None:
    shutil.copytree(built_zh.folder, tmp_path, dirs_exist_ok=True)
    ensure_current(demo_engine, tmp_path, language="zh")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    manifest["revitalisation"]["built_at"] = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    # Nothing changed in the data, but yesterday's overdue list is not today's: only that report is rebuilt.
    assert ensure_current(demo_engine, tmp_path, language="zh") == ["revitalisation"]


def test_recommendations_follow_the_permitted_uses_file(demo_engine: Engine, tmp_path: Path) -> None:
    from gis_service.analysis.conformance_uses import PERMITTED_USES, load_permitted_uses
    from gis_service.reports.build import build_reports
    from gis_service.reports.data import load_report_data
    from gis_service.reports.revitalisation import LAYERS, TABLES, idle_assets, with_recommendations

    data = load_report_data(demo_engine, LAYERS, TABLES)
    today = datetime.now(REPORT_TZ).date()
    tops = with_recommendations(idle_assets(data, today), data, "zh")["top_use"].value_counts()
    # A building use ("farming" on a pond is judged as aquaculture, "lease" keeps the land as it is).
    usual = next(use for use in tops.index if use not in ("farming", "lease"))
    # The town's own table forbids that use wherever the built-in one allows it.
    rows = ["key,use,level"] + [f"{p.key},{usual},no" for p in PERMITTED_USES if p.use == usual]
    (tmp_path / "uses.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    table = load_permitted_uses(tmp_path / "uses.csv")
    stricter = dataclasses.replace(data, permitted_uses=table)
    assert usual not in set(with_recommendations(idle_assets(stricter, today), stricter, "zh")["top_use"])
    paths = build_reports(demo_engine, tmp_path / "maps", which=["revitalisation"], permitted_uses=table)
    assert paths[0].name == "revitalisation.html"
