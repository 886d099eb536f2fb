"""Report 6, 学校布局图 (school layout map): schools by level and status, the catchments of the open primary
schools and kindergartens along the roads, the children beyond their reach, and the closed schools' buildings
as idle assets waiting for a new use (plan 18 of the notice, 优化基础教育学校布局).

Reach follows the coverage standards (``gis_service.analysis.standards``): a primary or nine-year school within
2.5 km, a kindergarten within 1 km, along the roads where there are roads. Demand is the children aged 0-14 of
each settlement (the data has no finer ages), as in the coverage analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from markupsafe import Markup

from gis_service.analysis.standards import FACILITY_THRESHOLDS
from gis_service.crs import storage_crs
from gis_service.reports.areas import areas_frame, with_service_areas
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
from gis_service.reports.i18n import code_text, field_alias, field_label, format_metres, format_number, t
from gis_service.reports.layers import (
    add_rivers_and_roads,
    add_village_base,
    geojson_layer,
    label_html,
    legend_rows,
    line_legend,
    point_layer,
    popup_html,
    table_html,
)
from gis_service.reports.styles import COVERAGE_COLORS, SCHOOL_COLORS, STATUS_COLORS
from gis_service.services.coverage import coverage_of, road_network

NAME = "schools"
LAYERS = ("villages", "settlements", "schools", "assets", "roads", "rivers", "bridges")
PRIMARY = FACILITY_THRESHOLDS["primary_school"]
KINDERGARTEN = FACILITY_THRESHOLDS["kindergarten"]
SCHOOL_FIELDS = ("code", "level", "status", "capacity", "enrolment", "village_code")


@dataclass(frozen=True)
class SchoolView:
    """What the schools report shows, computed once from the layers (EPSG:4544)."""

    villages: gpd.GeoDataFrame
    schools: gpd.GeoDataFrame  # every school, open ones with a catchment in ``area``
    settlements: gpd.GeoDataFrame  # with primary_ok, kindergarten_ok and their distances
    idle_schools: gpd.GeoDataFrame  # school buildings in the asset ledger that are idle or partly idle

    @classmethod
    def from_data(cls, data: ReportData) -> SchoolView:
        frames = data.projected(LAYERS)
        network = road_network(frames, "auto")
        primary = coverage_of(frames, PRIMARY, "auto", network).report.settlements
        kinder = coverage_of(frames, KINDERGARTEN, "auto", network).report.settlements
        settlements = frames["settlements"].assign(
            primary_ok=primary.covered, primary_m=primary.distance_m,
            kindergarten_ok=kinder.covered, kindergarten_m=kinder.distance_m)
        schools = frames["schools"]
        limits = np.where(schools["level"] == "kindergarten", KINDERGARTEN.metres or 0.0, PRIMARY.metres or 0.0)
        schools = with_service_areas(schools, network, limits)
        # Catchments of the open schools the standards speak of; a closed school, or a junior middle school
        # (no walking standard for it here), gets none.
        served = (schools["status"] == "open") & schools["level"].isin([*PRIMARY.kinds, *KINDERGARTEN.kinds])
        schools.loc[~served, "area"] = None
        assets = frames["assets"]
        idle = assets[(assets["category"] == "school") & assets["use_status"].isin(["idle", "partly_idle"])]
        return cls(frames["villages"], schools, settlements, idle)

    def children(self, column: str, reached: bool) -> float:
        rows = self.settlements[self.settlements[column] == reached]
        return float(rows["children"].fillna(0).sum())


def build(data: ReportData, *, language: str, built_at: datetime) -> str:
    """The schools report as one HTML document."""
    view = SchoolView.from_data(data)
    stored = {"schools": view.schools.drop(columns="area").to_crs(storage_crs()),
              "areas": areas_frame(view.schools.dropna(subset=["area"])).to_crs(storage_crs()),
              "settlements": view.settlements.to_crs(storage_crs()),
              "idle": view.idle_schools.to_crs(storage_crs())}
    fmap = new_map(bounds_latlon(data["villages"]), canvas=True)
    add_online_tiles(fmap, language)
    add_village_base(fmap, data["villages"], language)
    add_rivers_and_roads(fmap, data["rivers"], data["roads"], language, show_roads=False)
    _add_catchments(fmap, stored["areas"], language)
    _add_children(fmap, stored["settlements"], "primary", language, show=True)
    _add_children(fmap, stored["settlements"], "kindergarten", language, show=False)
    _add_idle_schools(fmap, stored["idle"], language)
    _add_schools(fmap, stored["schools"], language)
    add_tools(fmap, language)
    side = SidePanel(summary(view, language), legend(language), school_table(view, language))
    info = PageInfo(NAME, t("schools_title", language), language, built_at, data.version, town=data.town,
                    detail_zoom=13)
    return render_page(fmap, info, side)


def summary(view: SchoolView, language: str) -> SummaryPanel:
    """Open and closed schools, children within and beyond reach, idle school buildings."""
    status = view.schools["status"].value_counts()
    beyond_primary = view.children("primary_ok", False)
    beyond_kinder = view.children("kindergarten_ok", False)
    stats = (
        Stat(t("schools_open", language), format_number(int(status.get("open", 0)))),
        Stat(t("schools_closed", language), format_number(int(len(view.schools) - status.get("open", 0)))),
        Stat(t("children_total", language), format_number(float(view.settlements["children"].fillna(0).sum()), 0)),
        Stat(t("children_beyond_primary", language), format_number(beyond_primary, 0), emphasis=beyond_primary > 0),
        Stat(t("children_beyond_kindergarten", language), format_number(beyond_kinder, 0),
             emphasis=beyond_kinder > 0),
        Stat(t("idle_school_buildings", language), format_number(len(view.idle_schools)),
             emphasis=len(view.idle_schools) > 0),
    )
    bars = []
    for code, name in zip(view.villages["code"], view.villages["name"], strict=True):
        rows = view.settlements[view.settlements["village_code"] == code]
        kids = rows["children"].fillna(0)
        bars.append(Bar(str(name), (Segment(float(kids[rows["primary_ok"]].sum()), COVERAGE_COLORS["covered"],
                                            t("within_reach", language)),
                                    Segment(float(kids[~rows["primary_ok"]].sum()), COVERAGE_COLORS["uncovered"],
                                            t("beyond_reach", language)))))
    chart = stacked_bar_chart(bars, title=t("children_by_village", language), unit=t("unit_people", language))
    key = [(COVERAGE_COLORS["covered"], t("within_reach", language)),
           (COVERAGE_COLORS["uncovered"], t("beyond_reach", language))]
    return SummaryPanel(stats, t("children_by_village", language), chart, key)


def legend(language: str) -> Markup:
    rows: list[dict[str, Any]] = [
        {"kind": "dot", "fill": color, "color": "#ffffff", "label": code_text("school_level", level, language)}
        for level, color in SCHOOL_COLORS.items()]
    rows += [
        {"kind": "dot", "fill": "#9e9e9e", "color": "#555555", "style": "dashed",
         "label": t("school_closed_marker", language)},
        {"kind": "dot", "fill": STATUS_COLORS["idle"], "color": "#000000", "label": t("idle_school_asset", language)},
        {"kind": "dot", "fill": COVERAGE_COLORS["uncovered"], "color": "#ffffff",
         "label": t("children_beyond_marker", language)},
        {"kind": "area", "fill": "#c6dbef", "color": SCHOOL_COLORS["primary"], "width": 1,
         "label": t("catchment", language)},
    ]
    rows += [{"kind": "line", **r} for r in line_legend(language)]
    return legend_rows(rows)


def school_table(view: SchoolView, language: str) -> Markup:
    """Every school: level, status, places and pupils, and how full it is."""
    rows = []
    for _, school in view.schools.sort_values(["status", "level", "code"]).iterrows():
        capacity, enrolment = school["capacity"], school["enrolment"]
        use = f"{enrolment / capacity:.0%}" if not pd.isna(capacity) and capacity and not pd.isna(enrolment) else "—"
        rows.append({"alarm": school["status"] != "open", "cells": [
            str(school["name"]), code_text("school_level", str(school["level"]), language),
            code_text("school_status", str(school["status"]), language),
            field_label("schools", "capacity", capacity, language),
            field_label("schools", "enrolment", enrolment, language), use]})
    headers = [t("school", language), t("level", language), t("status", language), t("capacity", language),
               t("enrolment", language), t("utilisation", language)]
    return table_html(t("school_table", language), headers, rows, numeric=(3, 4, 5))


def _add_catchments(fmap: Any, areas: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        limit = KINDERGARTEN.metres if row["level"] == "kindergarten" else PRIMARY.metres
        return {"tooltip": label_html(f"{row['name']} · {format_number(float(limit or 0), 0)} m"),
                "level": str(row["level"])}

    geojson_layer(fmap, "catchments", t("catchments_layer", language), areas, properties,
                  lambda f: {"color": SCHOOL_COLORS.get(f["properties"]["level"], "#555555"), "weight": 1,
                             "fillColor": SCHOOL_COLORS.get(f["properties"]["level"], "#555555"),
                             "fillOpacity": 0.15})


def _add_children(fmap: Any, settlements: gpd.GeoDataFrame, level: str, language: str, *, show: bool) -> None:
    """Settlements whose children are beyond reach of a school of ``level`` (primary or kindergarten)."""
    beyond = settlements[~settlements[f"{level}_ok"] & (settlements["children"].fillna(0) > 0)]

    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(t("children", language), format_number(float(row["children"] or 0), 0)),
                (t(f"distance_{level}", language), format_metres(row[f"{level}_m"], language))]
        return {"popup": popup_html(str(row["name"]), rows),
                "radius": round(3 + float(np.sqrt(max(row["children"] or 0, 0))) / 2, 1)}

    point_layer(fmap, f"beyond_{level}", t(f"beyond_{level}_layer", language), beyond, properties,
                lambda f: {"radius": f["properties"]["radius"], "weight": 1, "color": "#ffffff", "fillOpacity": 0.85,
                           "fillColor": COVERAGE_COLORS["uncovered"]}, show=show)


def _add_idle_schools(fmap: Any, idle: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(t("code", language), str(row["code"])),
                (t("use_status", language), code_text("use_status", str(row["use_status"]), language)),
                (t("floor_area", language), field_label("assets", "floor_area", row["floor_area"], language))]
        return {"popup": popup_html(str(row["name"]), rows), "tooltip": label_html(str(row["name"]))}

    point_layer(fmap, "idle_schools", t("idle_schools_layer", language), idle, properties,
                lambda _: {"radius": 8, "weight": 2, "color": "#000000", "fillOpacity": 1,
                           "fillColor": STATUS_COLORS["idle"]})


def _add_schools(fmap: Any, schools: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(field_alias("schools", name, language), field_label("schools", name, row[name], language))
                for name in SCHOOL_FIELDS]
        return {"popup": popup_html(str(row["name"]), rows), "tooltip": label_html(str(row["name"])),
                "level": str(row["level"]), "open": row["status"] == "open"}

    point_layer(fmap, "schools", t("schools_layer", language), schools, properties,
                lambda f: {"radius": 9, "weight": 2, "fillOpacity": 1,
                           "color": "#ffffff" if f["properties"]["open"] else "#555555",
                           "dashArray": None if f["properties"]["open"] else "3 2",
                           "fillColor": SCHOOL_COLORS.get(f["properties"]["level"], "#555555")
                           if f["properties"]["open"] else "#9e9e9e"})
