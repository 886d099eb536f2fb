"""Report 5, 规划管控图 (planning control map): the planning zones, the three control lines (permanent basic
farmland, ecological red line, town development boundary) and the public assets in conflict with them, with
each asset's conformance and registration pathway (notice plan 2 §六).

Conformance and pathways are those of the ledger (``gis_service.services.ledger_registration``): the same overlay
and rules the registration endpoint uses, so the map and the ledger cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import shapely
from markupsafe import Markup

from gis_service.crs import analysis_crs, storage_crs
from gis_service.reports.base import (
    PageInfo,
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
from gis_service.reports.features import bounds_latlon
from gis_service.reports.i18n import code_text, format_number, t
from gis_service.reports.layers import (
    add_rivers_and_roads,
    geojson_layer,
    label_html,
    legend_rows,
    point_layer,
    popup_html,
    table_html,
)
from gis_service.reports.styles import CONFORMANCE_COLORS, CONTROL_STYLES, PATHWAY_COLORS, ZONE_COLORS
from gis_service.services.ledger_registration import AssetRegistration, assess

NAME = "planning"
LAYERS = ("villages", "assets", "planning_zones", "rivers", "roads")
CONTROL_LINES = ("permanent_farmland", "ecological_redline", "development_boundary")
# Zones are drawn simplified to 1 m: the parcels are mapped at 1:2,000 to 1:10,000.
DISPLAY_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class PlanningView:
    """Zones for drawing, and every asset's conformance and pathway."""

    zones: gpd.GeoDataFrame  # EPSG:4490, simplified, with area_m2
    assets: gpd.GeoDataFrame  # EPSG:4490 points with state, pathway, reason
    registrations: tuple[AssetRegistration, ...]

    @classmethod
    def from_data(cls, data: ReportData) -> PlanningView:
        zones = data["planning_zones"]
        registrations = tuple(assess(data["assets"], zones))
        metric = zones.to_crs(analysis_crs())
        simple = gpd.GeoSeries(shapely.simplify(metric.geometry.to_numpy(), DISPLAY_TOLERANCE_M), crs=metric.crs)
        drawn = zones.assign(area_m2=metric.area.to_numpy()).set_geometry(simple.to_crs(storage_crs()).to_numpy())
        assets = data["assets"].assign(
            state=[_state(r) for r in registrations], pathway=[r.pathway.pathway for r in registrations],
            reason_zh=[r.conformance.reason_zh for r in registrations],
            reason_en=[r.conformance.reason_en for r in registrations],
            conflicts=[",".join(sorted({z.zone_type for z in r.zones} & {"permanent_farmland", "ecological_redline"}))
                       for r in registrations])
        return cls(drawn, assets, registrations)


def _state(registration: AssetRegistration) -> str:
    """``conflict`` (on farmland or the red line, or not conforming), ``unknown`` (no planning data), or
    ``conforming``."""
    if registration.conformance.conforming is None:
        return "unknown"
    return "conforming" if registration.conformance.conforming else "conflict"


def build(data: ReportData, *, language: str, built_at: datetime) -> str:
    """The planning report as one HTML document."""
    view = PlanningView.from_data(data)
    fmap = new_map(bounds_latlon(data["villages"]), canvas=True)
    add_online_tiles(fmap, language)
    _add_land_use(fmap, view.zones[~view.zones["zone_type"].isin(CONTROL_LINES)], language)
    for zone_type in CONTROL_LINES:
        _add_control_line(fmap, view.zones[view.zones["zone_type"] == zone_type], zone_type, language)
    geojson_layer(fmap, "villages", t("villages_layer", language), data["villages"],
                  lambda row: {"label": label_html(str(row["name"]))},
                  lambda _: {"color": "#3d3a33", "weight": 2, "fill": False})
    add_rivers_and_roads(fmap, data["rivers"], data["roads"], language, show_roads=False)
    _add_assets(fmap, view.assets, language)
    add_tools(fmap, language)
    side = SidePanel(summary(view, data["villages"], language), legend(language), conflict_table(view, language))
    info = PageInfo(NAME, t("planning_title", language), language, built_at, data.version, town=data.town,
                    detail_zoom=14)
    return render_page(fmap, info, side)


def summary(view: PlanningView, villages: gpd.GeoDataFrame, language: str) -> SummaryPanel:
    """Area under each control line, assets in conflict or without planning data; pathways per village."""
    area = view.zones.groupby("zone_type")["area_m2"].sum()
    states = view.assets["state"].value_counts()
    stats = [Stat(code_text("zone_type", z, language) + t("hectares", language),
                  format_number(float(area.get(z, 0.0)) / 1e4, 1)) for z in CONTROL_LINES]
    stats += [
        Stat(t("assets_conflict", language), format_number(int(states.get("conflict", 0))),
             emphasis=bool(states.get("conflict", 0))),
        Stat(t("assets_unknown", language), format_number(int(states.get("unknown", 0)))),
        Stat(t("assets_conforming", language), format_number(int(states.get("conforming", 0)))),
    ]
    bars = []
    for code, name in zip(villages["code"], villages["name"], strict=True):
        mine = view.assets[view.assets["village_code"] == code]["pathway"].value_counts()
        bars.append(Bar(str(name), tuple(Segment(float(mine.get(p, 0)), color,
                                                 code_text("registration_pathway", p, language))
                                         for p, color in PATHWAY_COLORS.items())))
    chart = stacked_bar_chart(bars, title=t("pathways_by_village", language), unit=t("unit_items", language))
    key = [(color, t(f"pathway_{p}", language)) for p, color in PATHWAY_COLORS.items()]
    return SummaryPanel(stats, t("pathways_by_village", language), chart, key)


def legend(language: str) -> Markup:
    rows: list[dict[str, Any]] = [
        {"kind": "area", "fill": color, "color": color, "width": 1, "label": code_text("zone_type", z, language)}
        for z, color in ZONE_COLORS.items()]
    rows += [{"kind": "area", "fill": style.get("fillColor", "transparent"), "color": style["color"],
              "width": 2, "style": "dashed" if "dashArray" in style else "solid",
              "label": code_text("zone_type", z, language)} for z, style in CONTROL_STYLES.items()]
    rows += [{"kind": "dot", "fill": color, "color": "#ffffff", "label": t(f"asset_{state}", language)}
             for state, color in CONFORMANCE_COLORS.items()]
    return legend_rows(rows)


def conflict_table(view: PlanningView, language: str) -> Markup:
    """The assets in conflict with the plan: name, village, what they touch, the pathway."""
    conflicts = view.assets[view.assets["state"] == "conflict"].sort_values("code")
    rows = [{"alarm": bool(r["conflicts"]), "cells": [
        str(r["name"]), str(r["code"]),
        "、".join(code_text("zone_type", z, language) for z in str(r["conflicts"]).split(",") if z) or
        t("not_construction_land", language),
        code_text("registration_pathway", str(r["pathway"]), language)]} for _, r in conflicts.iterrows()]
    headers = [t("asset", language), t("code", language), t("conflict_with", language), t("pathway", language)]
    return table_html(t("conflict_table", language), headers, rows)


def _add_land_use(fmap: Any, zones: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"tooltip": label_html(_zone_text(row, language)), "zone_type": str(row["zone_type"])}

    geojson_layer(fmap, "land_use", t("land_use_layer", language), zones, properties,
                  lambda f: {"color": ZONE_COLORS.get(f["properties"]["zone_type"], "#cccccc"), "weight": 0.5,
                             "fillColor": ZONE_COLORS.get(f["properties"]["zone_type"], "#cccccc"),
                             "fillOpacity": 0.55})


def _add_control_line(fmap: Any, zones: gpd.GeoDataFrame, zone_type: str, language: str) -> None:
    style = CONTROL_STYLES[zone_type]

    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(t("code", language), str(row["code"])), (t("area_ha", language),
                                                          format_number(float(row["area_m2"]) / 1e4, 2))]
        return {"popup": popup_html(_zone_text(row, language), rows)}

    geojson_layer(fmap, zone_type, code_text("zone_type", zone_type, language), zones, properties,
                  lambda _: dict(style))


def _add_assets(fmap: Any, assets: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(t("code", language), str(row["code"])),
                (t("category", language), code_text("asset_category", str(row["category"]), language)),
                (t("conformance", language), t(f"asset_{row['state']}", language)),
                (t("reason", language), str(row["reason_zh" if language == "zh" else "reason_en"])),
                (t("pathway", language), code_text("registration_pathway", str(row["pathway"]), language))]
        return {"popup": popup_html(str(row["name"]), rows), "tooltip": label_html(str(row["name"])),
                "state": str(row["state"])}

    point_layer(fmap, "assets", t("assets_planning_layer", language), assets, properties,
                lambda f: {"radius": 6 if f["properties"]["state"] == "conforming" else 8, "weight": 1.5,
                           "color": "#ffffff", "fillOpacity": 0.95,
                           "fillColor": CONFORMANCE_COLORS[f["properties"]["state"]]})


def _zone_text(row: Mapping[str, Any], language: str) -> str:
    kind = code_text("zone_type", str(row["zone_type"]), language)
    use = row.get("land_use_name")
    return f"{kind} · {row['land_use_code']} {use}" if isinstance(use, str) and use else kind



