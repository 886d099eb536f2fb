"""Report 4, 闲置资产盘活图 (revitalisation map): every idle and partly idle asset with the state of its
revitalisation plan (no plan, pending, in progress, struck off, overdue), who answers for it and by when, and
the overdue plans leaders chase at their half-monthly meetings (清单制+责任制+销号制).

A plan is overdue when it is not struck off and its deadline has passed on the day the report was built
(Beijing time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from markupsafe import Markup

from gis_service.analysis.siting_reasons import reasons
from gis_service.ledger.rules import NEEDS_PLAN, plan_state
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
from gis_service.reports.i18n import REPORT_TZ, code_text, field_alias, field_label, format_number, t
from gis_service.reports.layers import (
    add_rivers_and_roads,
    add_village_base,
    label_html,
    legend_rows,
    line_legend,
    point_layer,
    popup_html,
    table_html,
)
from gis_service.reports.styles import PLAN_STATE_COLORS, PLAN_STATES
from gis_service.services.siting import SITING_LAYERS, SitingRequest, site

NAME = "revitalisation"
LAYERS = ("villages", *SITING_LAYERS)
TABLES = ("revitalisation_plans",)
ASSET_FIELDS = ("code", "category", "ownership", "use_status", "floor_area", "land_area", "building_condition")


def idle_assets(data: ReportData, as_of: date) -> gpd.GeoDataFrame:
    """The idle and partly idle assets joined with their plans, with ``state`` (see :func:`plan_state`)."""
    assets = data["assets"]
    # Codes as text on both sides: an empty layer or table comes back without dtypes.
    idle = assets[assets["use_status"].isin(NEEDS_PLAN)].astype({"code": object})
    plans = data.tables["revitalisation_plans"].drop(columns=["id", "created_at", "updated_at", "version"],
                                                     errors="ignore").astype({"asset_code": object})
    joined = idle.merge(plans, how="left", left_on="code", right_on="asset_code", suffixes=("", "_plan"))
    joined["state"] = [plan_state(None if pd.isna(s) else str(s), None if pd.isna(d) else d, as_of)
                       for s, d in zip(joined["status"], joined["deadline"], strict=True)]
    return gpd.GeoDataFrame(joined, geometry=assets.geometry.name, crs=assets.crs)


def with_recommendations(idle: gpd.GeoDataFrame, data: ReportData, language: str) -> gpd.GeoDataFrame:
    """``idle`` with each asset's top siting recommendation (``top_use``, ``top_score``, ``top_reasons``), from
    the revitalisation siting on the same layers (``gis_service.services.siting``)."""
    frames = data.projected(SITING_LAYERS)
    result = site(frames, SitingRequest(), table=data.permitted_uses).result
    top: dict[str, tuple[str, float, str]] = {}
    for i, code in enumerate(result.assets["code"]):
        ranking = result.ranking(i)
        if ranking:
            j = ranking[0]
            words = [r.zh if language == "zh" else r.en for r in reasons(result, i, j)[:2]]
            top[str(code)] = (result.uses[j].code, float(result.scores[i, j]), "；".join(words) if language == "zh"
                              else "; ".join(words))
    return idle.assign(top_use=[top.get(c, (None, np.nan, ""))[0] for c in idle["code"]],
                       top_score=[top.get(c, (None, np.nan, ""))[1] for c in idle["code"]],
                       top_reasons=[top.get(c, (None, np.nan, ""))[2] for c in idle["code"]])


def build(data: ReportData, *, language: str, built_at: datetime) -> str:
    """The revitalisation report as one HTML document."""
    as_of = built_at.astimezone(REPORT_TZ).date()
    idle = with_recommendations(idle_assets(data, as_of), data, language)
    fmap = new_map(bounds_latlon(data["villages"]))
    add_online_tiles(fmap, language)
    add_village_base(fmap, data["villages"], language)
    add_rivers_and_roads(fmap, data["rivers"], data["roads"], language, show_roads=False)
    _add_assets(fmap, idle, language)
    add_tools(fmap, language)
    side = SidePanel(summary(idle, data["villages"], language), legend(idle, language),
                     overdue_table(idle, as_of, language) + recommendation_table(idle, language))
    info = PageInfo(NAME, t("revitalisation_title", language), language, built_at, data.version, town=data.town,
                    detail_zoom=13)
    return render_page(fmap, info, side)


def summary(idle: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, language: str) -> SummaryPanel:
    """Idle assets, how many have a plan, are struck off or overdue; a chart of plan states per village."""
    states = idle["state"].value_counts()
    struck = int(states.get("struck_off", 0))
    stats = (
        Stat(t("idle_assets", language), format_number(len(idle))),
        Stat(t("with_plan", language), format_number(int(len(idle) - states.get("no_plan", 0)))),
        Stat(t("struck_off", language), f"{struck} ({struck / len(idle):.0%})" if len(idle) else "0"),
        Stat(t("overdue", language), format_number(int(states.get("overdue", 0))),
             emphasis=bool(states.get("overdue", 0))),
        Stat(t("no_plan", language), format_number(int(states.get("no_plan", 0))),
             emphasis=bool(states.get("no_plan", 0))),
        Stat(t("idle_floor_area", language), format_number(float(idle["floor_area"].fillna(0).sum()), 0)),
    )
    bars = []
    for code, name in zip(villages["code"], villages["name"], strict=True):
        mine = idle[idle["village_code"] == code]["state"].value_counts()
        bars.append(Bar(str(name), tuple(Segment(float(mine.get(state, 0)), PLAN_STATE_COLORS[state],
                                                 state_text(state, language)) for state in PLAN_STATES)))
    chart = stacked_bar_chart(bars, title=t("plans_by_village", language), unit=t("unit_items", language))
    key = [(PLAN_STATE_COLORS[state], state_text(state, language)) for state in PLAN_STATES]
    return SummaryPanel(stats, t("plans_by_village", language), chart, key)


def legend(idle: gpd.GeoDataFrame, language: str) -> Markup:
    counts = idle["state"].value_counts()
    rows: list[dict[str, Any]] = [
        {"kind": "dot", "fill": PLAN_STATE_COLORS[state], "color": "#ffffff",
         "label": f"{state_text(state, language)} {int(counts.get(state, 0))}"} for state in PLAN_STATES]
    rows += [{"kind": "line", **r} for r in line_legend(language)]
    return legend_rows(rows)


def overdue_table(idle: gpd.GeoDataFrame, as_of: date, language: str) -> Markup:
    """The overdue plans, longest overdue first: asset, lead unit, responsible person, deadline, days late."""
    late = idle[idle["state"] == "overdue"].sort_values(["deadline", "code"])
    rows = [{"alarm": True, "cells": [str(r["name"]), str(r["lead_unit"]), str(r["responsible_person"]),
                                      f"{r['deadline']:%Y-%m-%d}", format_number((as_of - r["deadline"]).days)]}
            for _, r in late.iterrows()]
    headers = [t("asset", language), t("lead_unit", language), t("responsible_person", language),
               t("deadline", language), t("days_overdue", language)]
    return table_html(t("overdue_table", language), headers, rows, numeric=(4,))


def recommendation_table(idle: gpd.GeoDataFrame, language: str) -> Markup:
    """The assets still without a plan and what the siting recommends for each: where a plan should start."""
    waiting = idle[idle["state"] == "no_plan"].sort_values("top_score", ascending=False)
    rows = [{"alarm": False, "cells": [
        str(r["name"]), code_text("target_use", str(r["top_use"]), language) if r["top_use"] else "—",
        f"{r['top_score']:.2f}" if not pd.isna(r["top_score"]) else "—", str(r["top_reasons"])]}
        for _, r in waiting.iterrows()]
    headers = [t("asset", language), t("recommended_use", language), t("score", language), t("reason", language)]
    return table_html(t("recommendation_table", language), headers, rows, numeric=(2,))


def state_text(state: str, language: str) -> str:
    """A plan state in words: the plan status labels, plus no plan and overdue."""
    if state in ("no_plan", "overdue"):
        return t(state, language)
    return code_text("plan_status", state, language)


def _add_assets(fmap: Any, idle: gpd.GeoDataFrame, language: str) -> None:
    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(field_alias("assets", name, language), field_label("assets", name, row[name], language))
                for name in ASSET_FIELDS]
        rows.append((t("plan_state", language), state_text(str(row["state"]), language)))
        if row["state"] != "no_plan":
            rows += [(t("mode", language), code_text("revitalisation_mode", str(row["mode"]), language)),
                     (t("target_use", language), code_text("target_use", str(row["target_use"]), language)),
                     (t("lead_unit", language), str(row["lead_unit"])),
                     (t("responsible_person", language), str(row["responsible_person"])),
                     (t("deadline", language), f"{row['deadline']:%Y-%m-%d}")]
            if row["state"] == "struck_off":
                rows.append((t("struck_off_on", language), f"{row['struck_off_on']:%Y-%m-%d}"))
        if row["top_use"]:
            rows += [(t("recommended_use", language), f"{code_text('target_use', str(row['top_use']), language)} "
                                                      f"({row['top_score']:.2f})"),
                     (t("reason", language), str(row["top_reasons"]))]
        return {"popup": popup_html(str(row["name"]), rows, badge=(str(row["state"]), state_text(str(row["state"]),
                                                                                                   language))),
                "tooltip": label_html(str(row["name"])), "state": str(row["state"])}

    point_layer(fmap, "idle_assets", t("idle_assets_layer", language), idle, properties,
                lambda f: {"radius": 8, "weight": 2, "color": "#ffffff", "fillOpacity": 0.95,
                           "fillColor": PLAN_STATE_COLORS[f["properties"]["state"]]})
