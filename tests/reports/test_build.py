"""Building the reports: files, manifest, sizes, no network references, languages, data versions, staleness."""

from __future__ import annotations

import importlib
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.reports import REPORTS, build_reports, ensure_current
from gis_service.reports.build import MANIFEST, read_manifest
from gis_service.reports.chart import Bar, Segment, stacked_bar_chart
from gis_service.reports.data import load_report_data
from gis_service.reports.i18n import format_time
from gis_service.reports.offline import external_references, js_literal
from tests.conftest import make_engine
from tests.reports.conftest import Built

MAX_BYTES = 5_000_000


def test_every_report_and_the_index_are_written(built_zh: Built) -> None:
    assert set(built_zh.paths) == {*REPORTS, "index"}
    manifest = json.loads((built_zh.folder / MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest) == set(REPORTS)
    for name, entry in manifest.items():
        assert entry["file"] == f"{name}.html" and entry["language"] == "zh"
        assert entry["size"] == built_zh.paths[name].stat().st_size
        assert re.fullmatch(r"[0-9a-f]{8}", entry["digest"])
    assert built_zh.seconds < 15


@pytest.mark.parametrize("name", [*REPORTS, "index"])
def test_files_are_self_contained_and_small(built_zh: Built, name: str) -> None:
    html = built_zh.paths[name].read_text(encoding="utf-8")
    assert external_references(html) == []
    assert len(html.encode()) < MAX_BYTES
    assert '<html lang="zh-CN">' in html


@pytest.mark.parametrize(("name", "title"), [("assets", "蓬莱镇公有资产分布图"), ("merger", "蓬莱镇村级建制调整图")])
def test_title_block_names_town_build_time_and_data_version(built_zh: Built, demo_engine: Engine, name: str,
                                                            title: str) -> None:
    html = built_zh.paths[name].read_text(encoding="utf-8")
    entry = read_manifest(built_zh.folder)[name]
    assert f"<title>{title}</title>" in html and f"<h1>{title}</h1>" in html
    assert "编制时间 20" in html and "(北京时间)" in html
    assert f"数据版本: {entry.data_version}" in html
    assert entry.data_version.endswith(entry.digest)


def test_english_reports_use_english_labels(built_en: Built) -> None:
    assets = built_en.paths["assets"].read_text(encoding="utf-8")
    for words in ("Penglai town: Public assets map", "Summary", "Legend", "Use status", "Idle", "Town state-owned",
                  "Idle floor area (m²)", "Asset name or code", '"Asset code"', "Built 20"):
        assert words in assets, words
    assert "资产总数" not in assets and "图例" not in assets
    merger = built_en.paths["merger"].read_text(encoding="utf-8")
    for words in ("Village merger map", "Former villages", "Where the former villages went", "Villages before"):
        assert words in merger, words
    index = built_en.paths["index"].read_text(encoding="utf-8")
    assert "Map reports" in index and '<html lang="en">' in index


def test_summary_numbers_match_the_data(built_zh: Built, demo_engine: Engine) -> None:
    data = load_report_data(demo_engine, ["assets", "villages", "former_villages"])
    assets = data["assets"]
    idle = int((assets["use_status"] == "idle").sum())
    html = built_zh.paths["assets"].read_text(encoding="utf-8")
    assert f"<dt>资产总数</dt><dd>{len(assets)}</dd>" in html
    assert f"<dt>闲置</dt><dd>{idle} ({idle / len(assets):.0%})</dd>" in html
    merger = built_zh.paths["merger"].read_text(encoding="utf-8")
    before = len(data["former_villages"]) + int((~data["villages"]["code"].isin(
        data["former_villages"]["merged_into"])).sum())
    assert f"<dt>调整前村(社区)</dt><dd>{before}</dd>" in merger
    assert f"<dt>调整后村(社区)</dt><dd>{len(data['villages'])}</dd>" in merger


def test_index_links_every_report(built_zh: Built) -> None:
    index = built_zh.paths["index"].read_text(encoding="utf-8")
    for spec in REPORTS.values():
        assert f'href="{spec.file}"' in index and spec.title("zh") in index


def test_data_version_is_the_latest_update_and_a_digest_of_layer_versions(demo_engine: Engine) -> None:
    data = load_report_data(demo_engine, ["villages", "assets"])
    latest = max(data["villages"]["updated_at"].max(), data["assets"]["updated_at"].max())
    assert data.version.updated_at == latest.to_pydatetime().replace(tzinfo=UTC)
    assert load_report_data(demo_engine, ["assets", "villages"]).version.digest == data.version.digest
    assert load_report_data(demo_engine, ["villages"]).version.digest != data.version.digest


def test_only_stale_reports_are_rebuilt(demo_engine: Engine, built_zh: Built, tmp_path: Path) -> None:
    shutil.copytree(built_zh.folder, tmp_path, dirs_exist_ok=True)
    assert ensure_current(demo_engine, tmp_path, language="zh") == []
    code, previous = _an_asset_not_idle(demo_engine)
    try:
        _set_status(demo_engine, code, "idle")
        # Only the reports that read assets are out of date (not the merger report, for one).
        readers = [name for name, spec in REPORTS.items() if "assets" in spec.layers]
        assert "merger" not in readers and ensure_current(demo_engine, tmp_path, language="zh") == readers
    finally:
        _set_status(demo_engine, code, previous)
    assert ensure_current(demo_engine, tmp_path, language="en", which=["merger"]) == ["merger"]
    (tmp_path / "merger.html").unlink()
    assert ensure_current(demo_engine, tmp_path, language="en", which=["merger"]) == ["merger"]


def test_unknown_report_or_language_is_refused(demo_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no report 'weather'"):
        build_reports(demo_engine, tmp_path, which=["weather"])
    with pytest.raises(InvalidInputError, match="unknown report language 'fr'"):
        build_reports(demo_engine, tmp_path, language="fr")
    assert not list(tmp_path.iterdir())


def test_a_broken_manifest_means_everything_is_rebuilt(demo_engine: Engine, tmp_path: Path) -> None:
    build_reports(demo_engine, tmp_path, which=["merger"])
    (tmp_path / MANIFEST).write_text("{not json", encoding="utf-8")
    assert read_manifest(tmp_path) == {}
    assert ensure_current(demo_engine, tmp_path, language="zh", which=["merger"]) == ["merger"]


def test_chart_escapes_labels_and_scales_bars() -> None:
    svg = stacked_bar_chart([Bar("<b>村</b>", (Segment(2, "#d7301f", "闲置"), Segment(6, "#4d8f5a", "在用"))),
                             Bar("乙村", (Segment(4, "#d7301f", "闲置"),))], title="资产")
    assert "<b>" not in svg and "&lt;b&gt;村&lt;/b&gt;" in svg
    widths = [float(w) for w in re.findall(r'<rect[^>]* width="([\d.]+)"', svg)]
    assert widths[0] * 3 == pytest.approx(widths[1], abs=0.2) and widths[2] == pytest.approx(widths[0] * 2, abs=0.2)


def test_script_data_cannot_close_its_script_block() -> None:
    literal = js_literal({"name": "</script><script>alert(1)</script>", "line": "\u2028"})
    assert "</" not in literal and "<" not in literal and "\u2028" not in literal
    assert json.loads(literal) == {"name": "</script><script>alert(1)</script>", "line": "\u2028"}


def test_external_references_are_found() -> None:
    html = '<script src="https://cdn.example/x.js"></script><link href="//cdn.example/y.css"><script>var a;</script>'
    assert external_references(html) == ["https://cdn.example/x.js", "//cdn.example/y.css"]


def test_times_are_shown_in_beijing_time() -> None:
    assert format_time(datetime(2026, 1, 2, 20, 30), "zh") == "2026-01-03 04:30 (北京时间)"
    assert format_time(datetime(2026, 1, 2, 20, 30, tzinfo=UTC), "en") == "2026-01-03 04:30 (UTC+8)"


def _an_asset_not_idle(engine: Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT code, use_status FROM assets WHERE use_status <> 'idle' ORDER BY id")).first()
    assert row is not None
    return str(row[0]), str(row[1])


def _set_status(engine: Engine, code: str, status: str) -> None:
    # Plain SQL, like a desktop GIS writing to the database: the layer's data version changes all the same.
    with engine.begin() as conn:
        conn.execute(text("UPDATE assets SET use_status = :status WHERE code = :code"),
                     {"status": status, "code": code})


@pytest.mark.parametrize("name", list(REPORTS))
def test_each_report_declares_every_layer_its_module_reads(name: str) -> None:
    # The registry names the layers without importing the modules (folium stays out of the API's start-up);
    # a layer missing here would make a report read it anyway but never turn stale when it changes.
    spec = REPORTS[name]
    module = importlib.import_module(spec.module)
    assert set(getattr(module, "LAYERS", ())) <= set(spec.layers)
    assert set(getattr(module, "TABLES", ())) <= set(spec.tables)


def test_every_report_builds_on_an_empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    engine = make_engine("spatialite", request, tmp_path)  # migrated, nothing loaded: a town's first day
    paths = build_reports(engine, tmp_path / "maps")
    assert sorted(p.stem for p in paths) == sorted([*REPORTS, "index"])
    engine.dispose()
