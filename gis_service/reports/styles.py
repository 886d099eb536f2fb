"""Colours, symbols and line styles shared by the reports, the legends and the charts.

One table per idea, so that a legend can never disagree with its map: the map, the legend and the chart of a
report all read their colours from here.
"""

from __future__ import annotations

from typing import Any

# Use status: idle is the target of revitalisation, so it gets the loudest colour; in use is quiet.
STATUS_COLORS: dict[str, str] = {
    "idle": "#d7301f",
    "partly_idle": "#f08c00",
    "leased": "#2f6db5",
    "in_use": "#4d8f5a",
}
STATUS_ORDER = ("idle", "partly_idle", "leased", "in_use")

# A glyph per asset category, drawn inside the status-coloured marker: text, not an icon font, because icon
# fonts are extra files (or 700 kB inlined) and a town office printer prints text reliably.
CATEGORY_GLYPHS: dict[str, tuple[str, str]] = {
    "village_office": ("村", "V"),
    "office": ("镇", "T"),
    "school": ("校", "S"),
    "clinic": ("医", "C"),
    "nursing_home": ("老", "N"),
    "culture_room": ("文", "Cu"),
    "shop": ("店", "Sh"),
    "factory": ("厂", "F"),
    "warehouse": ("仓", "W"),
    "land": ("地", "L"),
    "pond": ("塘", "P"),
    "forest": ("林", "Fo"),
    "reservoir": ("库", "R"),
    "other": ("他", "O"),
}

OWNERSHIP_ORDER = ("town_state", "village_collective")

# Qualitative pastel colours for merged villages (and, lighter, their former villages): neighbours must differ,
# and black labels must stay readable on top.
VILLAGE_PALETTE = (
    "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
    "#bc80bd", "#ccebc5", "#ffed6f", "#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#d9d9d9",
)
UNCHANGED_COLOR = "#e6e1d6"

# Without tiles the map's own background shows: a paper tone that reads as "land" next to blue rivers.
MAP_BACKGROUND = "#f4f1ea"

ROAD_STYLES: dict[str, dict[str, Any]] = {
    "county": {"color": "#c0392b", "weight": 3.5},
    "township": {"color": "#d68910", "weight": 2.5},
    "village": {"color": "#8c8c8c", "weight": 1.5},
    "track": {"color": "#a6a6a6", "weight": 1, "dashArray": "3 3"},
}
RIVER_STYLE: dict[str, Any] = {"color": "#5b9bd5", "weight": 4, "opacity": 0.9}

VILLAGE_BASE_STYLE: dict[str, Any] = {
    "color": "#7a7466", "weight": 1.5, "fillColor": "#ffffff", "fillOpacity": 0.5,
}
MERGED_STYLE: dict[str, Any] = {"color": "#3d3a33", "weight": 3, "fillOpacity": 0.55}
FORMER_STYLE: dict[str, Any] = {"color": "#5f5a50", "weight": 1.5, "dashArray": "6 4", "fillOpacity": 0.0}
HIGHLIGHT_STYLE: dict[str, Any] = {"weight": 4, "color": "#000000"}


def village_colors(codes: list[str]) -> dict[str, str]:
    """A palette colour per village code, in code order, so that a village keeps its colour between builds."""
    return {code: VILLAGE_PALETTE[i % len(VILLAGE_PALETTE)] for i, code in enumerate(sorted(codes))}


def footprint_style(status: str) -> dict[str, Any]:
    color = STATUS_COLORS.get(status, "#777777")
    return {"color": color, "weight": 1, "fillColor": color, "fillOpacity": 0.25}


# The coverage report: covered settlements green, uncovered red (the alarm colour of the assets report).
COVERAGE_COLORS: dict[str, str] = {
    "covered": "#2e8b57",
    "uncovered": "#d7301f",
    "centre": "#1f4e9c",
    "station": "#3a9ad9",
    "proposed": "#f5b700",
    "area_centre": "#9ebbe8",
    "area_station": "#a8dcf0",
}
# Classes of the share of people covered, low to high, for the village choropleth.
SHARE_CLASSES: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.0))
SHARE_COLORS = ("#f4a582", "#fddbc7", "#d1e5f0", "#92c5de")


def share_color(share: float) -> str:
    """The choropleth colour of a share covered (0-1)."""
    for (_, high), color in zip(SHARE_CLASSES, SHARE_COLORS, strict=True):
        if share < high or high == 1.0:
            return color
    return SHARE_COLORS[-1]


# School levels (the schools report): open schools in these colours, closed ones grey and dashed.
SCHOOL_COLORS: dict[str, str] = {
    "kindergarten": "#e377c2",
    "primary": "#1f77b4",
    "nine_year": "#6a3d9a",
    "junior": "#17becf",
}


# Revitalisation plan states (the revitalisation report): overdue and no plan are what leaders chase.
PLAN_STATES = ("overdue", "no_plan", "pending", "in_progress", "struck_off")
PLAN_STATE_COLORS: dict[str, str] = {
    "overdue": "#b3001b",
    "no_plan": "#7f7f7f",
    "pending": "#f08c00",
    "in_progress": "#2f6db5",
    "struck_off": "#2e8b57",
}


# Planning zones (the planning report): land-use parcels in the colours of Chinese land-use maps (farmland
# yellow, forest green, water blue, construction land red-brown); control lines drawn over them.
ZONE_COLORS: dict[str, str] = {
    "general_farmland": "#f5e79e",
    "forest": "#8fc98a",
    "water": "#a6cee3",
    "village_construction": "#d99077",
    "other": "#dddddd",
}
CONTROL_STYLES: dict[str, dict[str, Any]] = {
    "permanent_farmland": {"color": "#c9a100", "weight": 1, "fillColor": "#f2d600", "fillOpacity": 0.55},
    "ecological_redline": {"color": "#d7191c", "weight": 2.5, "fillColor": "#d7191c", "fillOpacity": 0.12},
    "development_boundary": {"color": "#7b3294", "weight": 3, "dashArray": "8 5", "fill": False},
}
CONFORMANCE_COLORS: dict[str, str] = {"conflict": "#b3001b", "unknown": "#7f7f7f", "conforming": "#2e8b57"}
PATHWAY_COLORS: dict[str, str] = {
    "change_registration": "#2e8b57",
    "register": "#66bd63",
    "joint_approval": "#f08c00",
    "plan_first": "#b3001b",
}
