"""Report 1, 资产分布图 (public assets map): every asset by category and use status, idle ones standing out.

Markers are drawn by the page's script from compact records (codes, position and the ledger values in field
order; the field names, labels and glyphs are sent once): 282 folium ``Marker`` objects would each emit their
own block of script and popup HTML, and the filters need each marker's status, ownership and category anyway.
The script writes values into popups as text, never as HTML, so a name in the ledger cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
from markupsafe import Markup

from gis_service.layers.registry import get_layer
from gis_service.reports.base import (
    PageInfo,
    ScriptCall,
    SidePanel,
    Stat,
    SummaryPanel,
    add_online_tiles,
    add_tools,
    new_map,
    render_page,
)
from gis_service.reports.chart import Bar, Segment, stacked_bar_chart
from gis_service.reports.data import ReportData
from gis_service.reports.features import bounds_latlon, rounded
from gis_service.reports.html import render
from gis_service.reports.i18n import code_text, field_alias, field_label, format_number, t
from gis_service.reports.layers import (
    add_rivers_and_roads,
    add_village_base,
    geojson_layer,
    label_html,
    line_legend,
)
from gis_service.reports.offline import SEARCH_CSS, SEARCH_JS, js_literal, library
from gis_service.reports.styles import CATEGORY_GLYPHS, OWNERSHIP_ORDER, STATUS_COLORS, STATUS_ORDER, footprint_style

NAME = "assets"
# Village codes in the ledger are shown with the village's name: people know names, not 12-digit codes.
PLACE_FIELDS = ("village_code", "former_village_code")


def build(data: ReportData, *, language: str, built_at: datetime) -> str:
    """The assets report as one HTML document."""
    assets, villages = data["assets"], data["villages"]
    places = _place_names(data)
    fmap = new_map(bounds_latlon(villages))
    add_online_tiles(fmap, language)
    add_village_base(fmap, villages, language)
    add_rivers_and_roads(fmap, data["rivers"], data["roads"], language)
    _add_footprints(fmap, assets, language)
    _add_markers(fmap, assets, places, language)
    add_tools(fmap, language)
    side = SidePanel(summary(assets, villages, language), legend(assets, language))
    info = PageInfo(NAME, t("assets_title", language), language, built_at, data.version, town=data.town)
    return render_page(fmap, info, side)


def popup_fields() -> list[str]:
    """The ledger fields a popup lists, in the registry's order (the name is the popup's title)."""
    return [spec.name for spec in get_layer("assets").fields if spec.name != "name"]


def asset_texts(language: str) -> dict[str, Any]:
    """What every asset record shares, sent once: popup field names, status labels, glyphs, search box words."""
    return {
        "fields": [field_alias("assets", name, language) for name in popup_fields()],
        "status": {code: code_text("use_status", code, language) for code in STATUS_ORDER},
        "glyphs": {code: glyphs[0 if language == "zh" else 1] for code, glyphs in CATEGORY_GLYPHS.items()},
        "placeholder": t("search_placeholder", language), "notFound": t("search_not_found", language),
        "cancel": t("search_cancel", language),
    }


def asset_records(assets: gpd.GeoDataFrame, places: Mapping[str, str], language: str) -> list[dict[str, Any]]:
    """One record per asset for the page's script: code ``c``, name ``n``, ownership ``o``, category ``k``,
    status ``s``, position ``y``/``x`` and the popup's values ``v`` (as people read them, in field order)."""
    points = rounded(assets.geometry.to_numpy())
    fields = popup_fields()
    records = []
    for (_, row), point in zip(assets.iterrows(), points, strict=True):
        if point is None or point.is_empty:
            continue
        records.append({
            "c": str(row["code"]), "n": str(row["name"]), "o": str(row["ownership"]), "k": str(row["category"]),
            "s": str(row["use_status"]), "y": point.y, "x": point.x,
            "v": [_ledger_value(row, name, places, language) for name in fields],
        })
    return records


def _ledger_value(row: Mapping[str, Any], name: str, places: Mapping[str, str], language: str) -> str:
    value = row[name]
    if name in PLACE_FIELDS and value in places:
        return f"{places[value]} ({value})"
    return field_label("assets", name, value, language)


def summary(assets: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, language: str) -> SummaryPanel:
    """Key numbers and a chart of use status per village."""
    status = assets["use_status"]
    total = len(assets)
    idle = int((status == "idle").sum())
    share = f" ({idle / total:.0%})" if total else ""
    stats = (
        Stat(t("assets_total", language), format_number(total)),
        Stat(t("assets_idle", language), f"{idle}{share}", emphasis=True),
        Stat(t("assets_partly_idle", language), format_number(int((status == "partly_idle").sum()))),
        Stat(code_text("use_status", "leased", language), format_number(int((status == "leased").sum()))),
        Stat(t("idle_floor_area", language), format_number(float(assets.loc[status == "idle", "floor_area"].sum()), 0)),
        Stat(t("original_value_total", language), format_number(float(assets["original_value"].sum()), 0)),
    )
    chart = stacked_bar_chart(_village_bars(assets, villages, language), title=t("assets_by_village", language),
                              unit=t("unit_items", language))
    key = [(STATUS_COLORS[code], code_text("use_status", code, language)) for code in STATUS_ORDER]
    return SummaryPanel(stats, t("assets_by_village", language), chart, key)


def legend(assets: gpd.GeoDataFrame, language: str) -> Markup:
    """Legend and filters in one: each row is a tick box with the symbol, the label and how many there are."""
    groups = [
        _group("s", field_alias("assets", "use_status", language), "use_status", STATUS_ORDER,
               assets["use_status"], language, symbol="status"),
        _group("o", field_alias("assets", "ownership", language), "ownership", OWNERSHIP_ORDER,
               assets["ownership"], language),
        _group("k", field_alias("assets", "category", language), "asset_category", tuple(CATEGORY_GLYPHS),
               assets["category"], language, symbol="glyph"),
    ]
    return render("legend_assets.html", groups=groups, lines=line_legend(language), total=len(assets),
                  hint=t("filter_hint", language), shown_label=t("shown_assets", language),
                  select_all=t("all", language), select_none=t("none", language))


@dataclass(frozen=True)
class LegendItem:
    """A legend row that is also a filter: ``code`` is the value it ticks on or off."""

    code: str
    label: str
    count: int
    glyph: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class LegendGroup:
    key: str  # the record field it filters: s (status), o (ownership), k (category)
    title: str
    items: tuple[LegendItem, ...]


def _group(key: str, title: str, codelist: str, order: tuple[str, ...], values: Any, language: str,
           symbol: str | None = None) -> LegendGroup:
    counts = values.value_counts()
    items = []
    for code in order:
        count = int(counts.get(code, 0))
        if count == 0 and symbol != "status":  # every status is shown, empty categories only add clutter
            continue
        glyph = CATEGORY_GLYPHS[code][0 if language == "zh" else 1] if symbol == "glyph" else None
        items.append(LegendItem(code, code_text(codelist, code, language), count, glyph,
                                code if symbol == "status" else None))
    return LegendGroup(key, title, tuple(items))


def _village_bars(assets: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, language: str) -> list[Bar]:
    counts = assets.groupby(["village_code", "use_status"]).size()
    bars = []
    for _, village in villages.sort_values("code").iterrows():
        segments = tuple(
            Segment(float(counts.get((village["code"], code), 0)), STATUS_COLORS[code],
                    code_text("use_status", code, language))
            for code in STATUS_ORDER
        )
        bars.append(Bar(str(village["name"]), segments))
    return bars


def _place_names(data: ReportData) -> dict[str, str]:
    places = dict(zip(data["former_villages"]["code"], data["former_villages"]["name"], strict=True))
    places.update(zip(data["villages"]["code"], data["villages"]["name"], strict=True))
    return {str(code): str(name) for code, name in places.items()}


def _add_footprints(fmap: Any, assets: gpd.GeoDataFrame, language: str) -> None:
    """Land, pond and forest parcels, tinted by status; their popups are the markers' (bound by asset code)."""
    with_footprint = assets[assets["footprint"].notna()]

    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"c": str(row["code"]), "s": str(row["use_status"]), "o": str(row["ownership"]),
                "k": str(row["category"]), "tooltip": label_html(f"{row['name']} ({row['code']})")}

    geojson_layer(fmap, "footprints", t("footprints_layer", language), with_footprint, properties,
                  lambda feature: footprint_style(feature["properties"]["s"]), geometry="footprint")


def _add_markers(fmap: Any, assets: gpd.GeoDataFrame, places: Mapping[str, str], language: str) -> None:
    from offlinefolium.plugins import MarkerCluster

    # Clusters stop at street level: by then the markers no longer overlap and each should be seen.
    cluster = MarkerCluster(name=t("assets_layer", language), icon_create_function="GisReport.clusterIcon",
                            maxClusterRadius=45, disableClusteringAtZoom=16, showCoverageOnHover=False,
                            spiderfyOnMaxZoom=True)
    cluster.add_to(fmap)
    fmap.add_child(library("leaflet_search", js=SEARCH_JS, css=SEARCH_CSS))
    records = js_literal(asset_records(assets, places, language))
    texts = js_literal(asset_texts(language))
    fmap.add_child(ScriptCall(f"GisReport.addAssets({fmap.get_name()}, {cluster.get_name()}, {records}, {texts});"))
