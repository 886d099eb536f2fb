"""Report 2, 村级建制调整图 (village merger map): former village boundaries over the merged villages, with
names, codes and population, and which former villages went where.

Each merged village has a colour; its former villages are drawn over it with dashed outlines, so the colour
says where a former village went. Clicking anywhere inside a former village shows both sides of the merger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from markupsafe import Markup

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
from gis_service.reports.html import render
from gis_service.reports.i18n import field_alias, field_label, format_number, t
from gis_service.reports.layers import add_rivers_and_roads, geojson_layer, label_html, line_legend, popup_html
from gis_service.reports.styles import FORMER_STYLE, MERGED_STYLE, UNCHANGED_COLOR, VILLAGE_PALETTE, village_colors

NAME = "merger"
MERGED_FIELDS = ("code", "kind", "population", "households", "branch")
FORMER_FIELDS = ("code", "population", "households", "dissolved_on")


@dataclass(frozen=True)
class Merger:
    """The merged villages with their former villages, and a colour per merged village."""

    villages: gpd.GeoDataFrame
    former: gpd.GeoDataFrame
    colors: Mapping[str, str]

    @classmethod
    def from_data(cls, data: ReportData) -> Merger:
        villages = data["villages"].sort_values("code").reset_index(drop=True)
        former = data["former_villages"].sort_values(["merged_into", "code"]).reset_index(drop=True)
        merged_codes = set(former["merged_into"])
        colors = village_colors([c for c in villages["code"] if c in merged_codes])
        return cls(villages, former, colors)

    def color(self, village_code: str) -> str:
        return self.colors.get(village_code, UNCHANGED_COLOR)

    def former_of(self, village_code: str) -> pd.DataFrame:
        return self.former[self.former["merged_into"] == village_code]

    def village_names(self) -> dict[str, str]:
        return {str(c): str(n) for c, n in zip(self.villages["code"], self.villages["name"], strict=True)}


def build(data: ReportData, *, language: str, built_at: datetime) -> str:
    """The merger report as one HTML document."""
    merger = Merger.from_data(data)
    fmap = new_map(bounds_latlon(merger.villages))
    add_online_tiles(fmap, language)
    _add_merged(fmap, merger, language)
    add_rivers_and_roads(fmap, data["rivers"], data["roads"], language, show_roads=False)
    _add_former(fmap, merger, language)
    add_tools(fmap, language)
    side = SidePanel(summary(merger, language), legend(language), merger_table(merger, language))
    # Former village names are what this map is about: shown from town scale on.
    info = PageInfo(NAME, t("merger_title", language), language, built_at, data.version, town=data.town, detail_zoom=12)
    return render_page(fmap, info, side)


def summary(merger: Merger, language: str) -> SummaryPanel:
    """Villages before and after, population, and a chart of each merged village's population by origin."""
    after = len(merger.villages)
    unchanged = int((~merger.villages["code"].isin(merger.former["merged_into"])).sum())
    before = len(merger.former) + unchanged
    population = float(merger.villages["population"].sum())
    stats = (
        Stat(t("units_before", language), format_number(before)),
        Stat(t("units_after", language), format_number(after)),
        Stat(t("former_count", language), format_number(len(merger.former)), emphasis=True),
        Stat(t("population_total", language), format_number(population, 0)),
        Stat(t("mean_population_before", language), format_number(population / before, 0) if before else "—"),
        Stat(t("mean_population_after", language), format_number(population / after, 0) if after else "—"),
    )
    chart = stacked_bar_chart(_population_bars(merger, language), title=t("population_by_village", language),
                              unit=t("unit_people", language))
    return SummaryPanel(stats, t("population_by_village", language), chart)


def legend(language: str) -> Markup:
    return render("legend_merger.html", merged=t("legend_merged", language), former=t("legend_former", language),
                  unchanged=t("legend_unchanged", language), merged_fill=VILLAGE_PALETTE[0],
                  merged_line=MERGED_STYLE["color"], former_line=FORMER_STYLE["color"],
                  unchanged_fill=UNCHANGED_COLOR, lines=line_legend(language))


def merger_table(merger: Merger, language: str) -> Markup:
    """Which former villages went into which merged village (the question this map answers), as a table."""
    rows = []
    for _, village in merger.villages.iterrows():
        former = [{"name": str(f["name"]), "code": str(f["code"])}
                  for _, f in merger.former_of(village["code"]).iterrows()]
        rows.append({"name": str(village["name"]), "code": str(village["code"]), "former": former,
                     "color": merger.color(village["code"]),
                     "population": field_label("villages", "population", village["population"], language)})
    return render("merger_table.html", title=t("merger_table", language), rows=rows,
                  merged_label=t("merged_village", language), former_label=t("former_villages", language),
                  population_label=field_alias("villages", "population", language),
                  unchanged=t("unchanged", language))


def _population_bars(merger: Merger, language: str) -> list[Bar]:
    bars = []
    for _, village in merger.villages.iterrows():
        former = merger.former_of(village["code"])
        color = merger.color(village["code"])
        segments: tuple[Segment, ...]
        if former.empty:
            segments = (Segment(_number(village["population"]), color, t("unchanged", language)),)
        else:
            segments = tuple(Segment(_number(f["population"]), color, str(f["name"])) for _, f in former.iterrows())
        bars.append(Bar(str(village["name"]), segments))
    return bars


def _add_merged(fmap: Any, merger: Merger, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = _rows("villages", MERGED_FIELDS, row, language)
        names = "、".join(str(n) for n in merger.former_of(row["code"])["name"]) or t("unchanged", language)
        rows.append((t("former_villages", language), names))
        return {"label": label_html(str(row["name"])), "popup": popup_html(str(row["name"]), rows),
                "color": merger.color(row["code"])}

    geojson_layer(fmap, "villages", t("merged_layer", language), merger.villages, properties,
                  lambda feature: {**MERGED_STYLE, "fillColor": feature["properties"]["color"]})


def _add_former(fmap: Any, merger: Merger, language: str) -> None:
    names = merger.village_names()
    populations = dict(zip(merger.villages["code"], merger.villages["population"], strict=True))

    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        target = str(row["merged_into"])
        rows = _rows("former_villages", FORMER_FIELDS, row, language)
        rows.insert(1, (field_alias("former_villages", "merged_into", language),
                        f"{names.get(target, target)} ({target})"))
        rows.append((f"{names.get(target, target)} · {field_alias('villages', 'population', language)}",
                     field_label("villages", "population", populations.get(target), language)))
        return {"label": label_html(str(row["name"])), "label_class": "label-minor",
                "popup": popup_html(str(row["name"]), rows)}

    # Filled, though invisibly, so that a click anywhere inside a former village opens its popup.
    geojson_layer(fmap, "former_villages", t("former_layer", language), merger.former, properties,
                  lambda _: {**FORMER_STYLE, "fill": True}, highlight=True)


def _rows(layer: str, fields: tuple[str, ...], row: Mapping[str, Any], language: str) -> list[tuple[str, str]]:
    return [(field_alias(layer, name, language), field_label(layer, name, row[name], language)) for name in fields]


def _number(value: Any) -> float:
    return 0.0 if pd.isna(value) else float(value)
