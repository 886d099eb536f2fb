"""Report 3, 便民服务覆盖图 ("1+N" coverage map): central positions and agency stations with their service
areas along the roads, settlements coloured covered or not, a per-village choropleth of the share covered, and
the placement of the missing stations in idle assets as a layer to toggle.

The numbers are the coverage analysis's (``gis_service.analysis``): a settlement is covered when a central
position is within 3 km or a station (or centre) within 1.5 km, measured along the roads where roads exist
(rivers crossed only at bridges). The service areas are drawn for reading the map, not for counting.
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

from gis_service.analysis.one_plus_n import OnePlusN
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
from gis_service.reports.i18n import format_metres, format_number, t
from gis_service.reports.layers import (
    add_rivers_and_roads,
    geojson_layer,
    label_html,
    legend_rows,
    line_legend,
    point_layer,
    popup_html,
    table_html,
)
from gis_service.reports.styles import COVERAGE_COLORS, SHARE_CLASSES, share_color
from gis_service.services.coverage import coverage_of, one_plus_n_of, road_network
from gis_service.services.placement import PlacementOutcome, PlacementRequest, place

NAME = "coverage"
LAYERS = ("villages", "settlements", "service_points", "assets", "roads", "rivers", "bridges")
MAX_PROPOSED = 20  # a report proposes at most this many stations (the placement API takes any number)
CENTRE_M = FACILITY_THRESHOLDS["centre"].metres or 0.0
STATION_M = FACILITY_THRESHOLDS["agency_station"].metres or 0.0


@dataclass(frozen=True)
class CoverageView:
    """What the coverage report shows, computed once from the layers (EPSG:4544)."""

    villages: gpd.GeoDataFrame  # with share_all, share_centre, verdict columns
    settlements: gpd.GeoDataFrame  # with covered, distance_m, nearest_code
    points: gpd.GeoDataFrame  # service points with their service area in ``area``
    diagnosis: tuple[OnePlusN, ...]
    method: str
    placement: PlacementOutcome | None

    @classmethod
    def from_data(cls, data: ReportData) -> CoverageView:
        frames = data.projected(LAYERS)
        network = road_network(frames, "auto")
        centre = coverage_of(frames, FACILITY_THRESHOLDS["centre"], "auto", network).report.settlements
        station = coverage_of(frames, FACILITY_THRESHOLDS["agency_station"], "auto", network).report.settlements
        settlements = frames["settlements"].assign(
            covered=centre.covered | station.covered, distance_m=np.minimum(centre.distance_m, station.distance_m),
            nearest_code=np.where(station.distance_m <= centre.distance_m, station.nearest_code, centre.nearest_code))
        diagnosis = one_plus_n_of(frames, "auto", network)
        by_code = {d.village_code: d for d in diagnosis}
        villages = frames["villages"].assign(
            share_all=[by_code[c].share_all if c in by_code else np.nan for c in frames["villages"]["code"]],
            share_centre=[by_code[c].share_centre if c in by_code else np.nan for c in frames["villages"]["code"]])
        points = frames["service_points"]
        points = with_service_areas(points, network, np.where(points["kind"] == "centre", CENTRE_M, STATION_M))
        needed = min(sum(d.stations_needed for d in diagnosis), MAX_PROPOSED)
        request = PlacementRequest(new_sites=needed, standard="agency_station")
        placement = place(frames, request, network) if needed else None
        method = "network" if network is not None else "straight"
        return cls(villages, settlements, points, diagnosis, method, placement)

    @property
    def population(self) -> float:
        return float(self.settlements["population"].fillna(0).sum())

    @property
    def covered_population(self) -> float:
        return float(self.settlements.loc[self.settlements["covered"], "population"].fillna(0).sum())

    def village_population(self, code: str) -> tuple[float, float]:
        """People of a village covered and not covered."""
        rows = self.settlements[self.settlements["village_code"] == code]
        people = rows["population"].fillna(0)
        return float(people[rows["covered"]].sum()), float(people[~rows["covered"]].sum())


def build(data: ReportData, *, language: str, built_at: datetime) -> str:
    """The coverage report as one HTML document."""
    view = CoverageView.from_data(data)
    stored = _to_storage(view)
    fmap = new_map(bounds_latlon(stored["villages"]), canvas=True)
    add_online_tiles(fmap, language)
    _add_villages(fmap, stored["villages"], view, language)
    add_rivers_and_roads(fmap, data["rivers"], data["roads"], language, show_roads=False)
    _add_areas(fmap, stored["areas"], language)
    _add_settlements(fmap, stored["settlements"], language)
    _add_points(fmap, stored["points"], language)
    if view.placement is not None:
        _add_proposed(fmap, stored["proposed"], language)
    add_tools(fmap, language)
    side = SidePanel(summary(view, language), legend(language), diagnosis_table(view, language))
    info = PageInfo(NAME, t("coverage_title", language), language, built_at, data.version, town=data.town,
                    detail_zoom=13)
    return render_page(fmap, info, side)


def _to_storage(view: CoverageView) -> dict[str, gpd.GeoDataFrame]:
    """The layers in EPSG:4490 (Leaflet wants longitude/latitude)."""
    areas = areas_frame(view.points)
    proposed = view.placement.sites if view.placement is not None else view.points.iloc[:0]
    return {"villages": view.villages.to_crs(storage_crs()), "settlements": view.settlements.to_crs(storage_crs()),
            "points": view.points.drop(columns="area").to_crs(storage_crs()),
            "areas": areas.to_crs(storage_crs()), "proposed": proposed.to_crs(storage_crs())}


def summary(view: CoverageView, language: str) -> SummaryPanel:
    """Share of people covered, who is not, how many stations are missing and what placing them would give."""
    uncovered = view.settlements[~view.settlements["covered"]]
    kinds = view.points["kind"].value_counts()
    needed = sum(d.stations_needed for d in view.diagnosis)
    share = view.covered_population / view.population if view.population else float("nan")
    stats = [
        Stat(t("coverage_share", language), _percent(share), emphasis=share < 0.9),
        Stat(t("uncovered_settlements", language), format_number(len(uncovered)), emphasis=len(uncovered) > 0),
        Stat(t("uncovered_population", language), format_number(float(uncovered["population"].fillna(0).sum()), 0)),
        Stat(t("centres", language), format_number(int(kinds.get("centre", 0)))),
        Stat(t("stations", language), format_number(int(kinds.get("agency_station", 0)))),
        Stat(t("stations_needed", language), format_number(needed), emphasis=needed > 0),
    ]
    if view.placement is not None:
        stats.append(Stat(t("station_share_after", language),
                          f"{_percent(view.placement.share_before)} → {_percent(view.placement.share_after)}"))
    bars = [Bar(str(name), (Segment(covered, COVERAGE_COLORS["covered"], t("covered", language)),
                            Segment(left, COVERAGE_COLORS["uncovered"], t("uncovered", language))))
            for code, name in zip(view.villages["code"], view.villages["name"], strict=True)
            for covered, left in [view.village_population(code)]]
    chart = stacked_bar_chart(bars, title=t("coverage_by_village", language), unit=t("unit_people", language))
    key = [(COVERAGE_COLORS["covered"], t("covered", language)),
           (COVERAGE_COLORS["uncovered"], t("uncovered", language))]
    return SummaryPanel(stats, t("coverage_by_village", language), chart, key)


def legend(language: str) -> Markup:
    rows: list[dict[str, Any]] = [
        {"kind": "dot", "fill": COVERAGE_COLORS["centre"], "color": "#ffffff", "label": t("centre_point", language)},
        {"kind": "dot", "fill": COVERAGE_COLORS["station"], "color": "#ffffff", "label": t("station_point", language)},
        {"kind": "dot", "fill": COVERAGE_COLORS["proposed"], "color": "#000000", "style": "dashed",
         "label": t("proposed_station", language)},
        {"kind": "dot", "fill": COVERAGE_COLORS["covered"], "color": "#ffffff",
         "label": t("settlement_covered", language)},
        {"kind": "dot", "fill": COVERAGE_COLORS["uncovered"], "color": "#ffffff",
         "label": t("settlement_uncovered", language)},
        {"kind": "area", "fill": COVERAGE_COLORS["area_centre"], "color": COVERAGE_COLORS["centre"], "width": 1,
         "label": t("area_centre", language)},
        {"kind": "area", "fill": COVERAGE_COLORS["area_station"], "color": COVERAGE_COLORS["station"], "width": 1,
         "label": t("area_station", language)},
    ]
    for low, high in SHARE_CLASSES:
        rows.append({"kind": "area", "fill": share_color((low + high) / 2), "color": "#555555", "width": 1,
                     "label": f"{t('village_share', language)} {low:.0%}–{high:.0%}"})
    rows += [{"kind": "line", "color": r["color"], "width": r["width"], "style": r["style"], "label": r["label"]}
             for r in line_legend(language)]
    return legend_rows(rows)


def diagnosis_table(view: CoverageView, language: str) -> Markup:
    """The "1+N" diagnosis per village: centre, stations, shares and the verdict."""
    rows = []
    for d in view.diagnosis:
        rows.append({"alarm": d.stations_needed > 0 or not d.has_centre, "cells": [
            d.name, t("yes", language) if d.has_centre else t("no", language), str(d.stations),
            _percent(d.share_all), verdict_text(d, language)]})
    headers = [t("merged_village", language), t("centres", language), t("stations", language),
               t("coverage_share", language), t("verdict", language)]
    return table_html(t("one_plus_n_table", language), headers, rows, numeric=(2, 3))


def verdict_text(diagnosis: OnePlusN, language: str) -> str:
    """The verdict in words: adequate, or what is missing."""
    parts = []
    if not diagnosis.has_centre:
        parts.append(t("needs_centre", language))
    if diagnosis.stations_needed:
        parts.append(t("needs_stations", language).format(n=diagnosis.stations_needed))
    return "；".join(parts) if language == "zh" and parts else ("; ".join(parts) or t("adequate", language))


def _add_villages(fmap: Any, villages: gpd.GeoDataFrame, view: CoverageView, language: str) -> None:
    by_code = {d.village_code: d for d in view.diagnosis}

    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        d = by_code.get(str(row["code"]))
        rows = [(t("coverage_share", language), _percent(row["share_all"])),
                (t("centre_share", language), _percent(row["share_centre"]))]
        if d is not None:
            rows += [(t("stations", language), str(d.stations)), (t("verdict", language), verdict_text(d, language))]
        return {"label": label_html(str(row["name"])), "popup": popup_html(str(row["name"]), rows),
                "fill": share_color(float(row["share_all"])) if not pd.isna(row["share_all"]) else "#dddddd"}

    geojson_layer(fmap, "villages", t("village_share_layer", language), villages, properties,
                  lambda f: {"color": "#555555", "weight": 1.5, "fillColor": f["properties"]["fill"],
                             "fillOpacity": 0.45})


def _add_areas(fmap: Any, areas: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"tooltip": label_html(f"{row['name']} · {_area_label(str(row['kind']), language)}"),
                "kind": str(row["kind"])}

    geojson_layer(fmap, "areas", t("service_areas_layer", language), areas[~areas.geometry.is_empty], properties,
                  lambda f: {"color": COVERAGE_COLORS["centre" if f["properties"]["kind"] == "centre" else "station"],
                             "weight": 1, "fillColor": COVERAGE_COLORS["area_centre" if f["properties"]["kind"] ==
                                                                       "centre" else "area_station"],
                             "fillOpacity": 0.25})


def _add_settlements(fmap: Any, settlements: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(t("population", language), format_number(float(row["population"] or 0), 0)),
                (t("coverage_state", language), t("covered" if row["covered"] else "uncovered", language)),
                (t("distance_nearest", language), format_metres(row["distance_m"], language)),
                (t("nearest_point", language), str(row["nearest_code"] or "—"))]
        return {"popup": popup_html(str(row["name"]), rows), "covered": bool(row["covered"]),
                "radius": round(3 + float(np.sqrt(max(row["population"] or 0, 0))) / 5, 1)}

    point_layer(fmap, "settlements", t("settlements_layer", language), settlements, properties,
                lambda f: {"radius": f["properties"]["radius"], "weight": 1, "color": "#ffffff", "fillOpacity": 0.9,
                           "fillColor": COVERAGE_COLORS["covered" if f["properties"]["covered"] else "uncovered"]})


def _add_points(fmap: Any, points: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(t("kind", language), _area_label(str(row["kind"]), language)),
                (t("code", language), str(row["code"])), (t("services", language), str(row["services"] or "—"))]
        return {"popup": popup_html(str(row["name"]), rows), "tooltip": label_html(str(row["name"])),
                "kind": str(row["kind"])}

    point_layer(fmap, "service_points", t("service_points_layer", language), points, properties,
                lambda f: {"radius": 9 if f["properties"]["kind"] == "centre" else 7, "weight": 2, "color": "#ffffff",
                           "fillOpacity": 1, "fillColor": COVERAGE_COLORS["centre" if f["properties"]["kind"] ==
                                                                          "centre" else "station"]})


def _add_proposed(fmap: Any, proposed: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(t("code", language), str(row["code"])), (t("proposal_basis", language), t("proposal_note", language))]
        return {"popup": popup_html(f"{t('proposed_station', language)}: {row['name']}", rows),
                "tooltip": label_html(str(row["name"]))}

    point_layer(fmap, "proposed", t("proposed_layer", language), proposed, properties,
                lambda _: {"radius": 9, "weight": 2, "color": "#000000", "dashArray": "3 2", "fillOpacity": 1,
                           "fillColor": COVERAGE_COLORS["proposed"]})


def _area_label(kind: str, language: str) -> str:
    return t("centre_point" if kind == "centre" else "station_point", language)


def _percent(share: float) -> str:
    return "—" if share is None or pd.isna(share) else f"{share:.1%}"
