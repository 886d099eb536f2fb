"""The page every report shares: map without tiles, title block, summary panel, legend, tools and print layout.

A report module builds its layers, summary and legend, then hands them to :func:`render_page`. The page is one
HTML file: Leaflet, its plugins, the reports' script and stylesheet and the data are all inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from branca.element import MacroElement
from jinja2 import Template
from markupsafe import Markup, escape

from gis_service.reports import basemaps, offline
from gis_service.reports.data import DataVersion
from gis_service.reports.html import render
from gis_service.reports.i18n import format_time, t, town_title
from gis_service.reports.styles import MAP_BACKGROUND, STATUS_COLORS

# Below this zoom minor labels are hidden, where at town scale they would pile up (a report may lower it).
DETAIL_ZOOM = 14
MAX_ZOOM = 18


@dataclass(frozen=True)
class PageInfo:
    """What the title block says about a report."""

    name: str
    title: str
    language: str
    built_at: datetime
    version: DataVersion
    detail_zoom: float = DETAIL_ZOOM
    town: str | None = None  # the town's name (None: the service's own town)


@dataclass(frozen=True)
class Stat:
    """A key number of the summary panel (``emphasis`` draws it in the alarm colour, e.g. idle assets)."""

    label: str
    value: str
    emphasis: bool = False


@dataclass(frozen=True)
class SummaryPanel:
    stats: Sequence[Stat]
    chart_caption: str
    chart: Markup
    chart_key: Sequence[tuple[str, str]] = ()  # (colour, label) under the chart


@dataclass
class SidePanel:
    """The column beside the map: summary, legend, and anything a report adds (e.g. a table)."""

    summary: SummaryPanel
    legend: Markup
    extra: Markup = field(default_factory=Markup)


class ScriptCall(MacroElement):
    """A line of script that runs after its parent (map or layer) exists, e.g. ``GisReport.init(map_1a2b)``."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "ScriptCall"
        self.code = code


def new_map(bounds: list[list[float]] | None, *, canvas: bool = False) -> Any:
    """A map with no tiles (offline), fitted to ``bounds``; layers and controls are added by the caller.

    ``canvas`` draws every vector layer on one canvas instead of an SVG element per feature: reports with
    thousands of circles or parcels stay smooth (10,000 settlements are 10,000 SVG nodes otherwise).
    """
    from offlinefolium import FitBounds

    map_class = offline.offline_map_class()
    # maxZoom on the map itself: with no tile layer nothing else sets it, and MarkerCluster needs it.
    fmap = map_class(location=[30.6, 105.25], zoom_start=12, tiles=None, maxZoom=MAX_ZOOM, control_scale=False,
                     zoomSnap=0.25,  # quarter steps: a town fills the window instead of half of it
                     prefer_canvas=canvas)
    if bounds is not None:
        fit = FitBounds(bounds)
        # At once, before any layer is added: an animated fit makes clusters form twice on opening.
        fit.options["animate"] = False
        fmap.add_child(fit)
    return fmap


def add_online_tiles(fmap: Any, language: str) -> None:
    """The base map of the report being built (:func:`gis_service.reports.basemaps.current`): none offline (the
    default: the page then makes no request at all), or Tianditu, Gaode (overlays shifted to GCJ-02) or
    OpenStreetMap tiles, shown and listed in the layer control."""
    import offlinefolium

    for source in basemaps.current().tiles:
        offlinefolium.TileLayer(source.url, name=source.zh if language == "zh" else source.en, attr=source.attribution,
                                subdomains=source.subdomains, overlay=source.overlay, control=True, show=True,
                                max_zoom=MAX_ZOOM).add_to(fmap)


def add_tools(fmap: Any, language: str) -> None:
    """Measure (metres, square metres and mu) and full screen (the whole report, so the legend stays)."""
    from offlinefolium.plugins import Fullscreen, MeasureControl
    from offlinefolium.utilities import JsCode

    MeasureControl(position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
                   primary_area_unit="sqmeters", secondary_area_unit="mu",
                   units={"mu": {"factor": 1 / 666.667, "display": "亩" if language == "zh" else "mu",
                                 "decimals": 2}},
                   localization="cn" if language == "zh" else "en").add_to(fmap)
    Fullscreen(position="topleft", title=t("fullscreen", language), title_cancel=t("exit_fullscreen", language),
               fullscreenElement=JsCode("document.documentElement")).add_to(fmap)


def register_layer(fmap: Any, name: str, layer: Any) -> None:
    """Make ``layer`` reachable from the page's script as ``GisReport.layers[name]`` (filters and tests use it)."""
    layer.add_child(ScriptCall(f"GisReport.register({offline.js_literal(name)}, {layer.get_name()});"))


def render_page(fmap: Any, info: PageInfo, side: SidePanel) -> str:
    """The report as one self-contained HTML document."""
    import offlinefolium

    offlinefolium.LayerControl(collapsed=True, position="topright").add_to(fmap)
    figure = fmap.get_root()
    figure.title = str(escape(town_title(info.title, info.language, info.town)))
    offline.inline_style(figure, "report_css", offline.static_text("report.css") + _dynamic_css())
    offline.inline_script(figure, "report_js", offline.static_text("report.js"))
    figure.html.add_child(offlinefolium.Element(_title_block(info)), name="report_header", index=0)
    figure.html.add_child(offlinefolium.Element(_side_panel(side, info.language)), name="report_side")
    options = {"lang": info.language, "detailZoom": info.detail_zoom, "name": info.name}
    fmap.add_child(ScriptCall(f"GisReport.init({fmap.get_name()}, {offline.js_literal(options)});"))
    html = str(figure.render())
    lang = "zh-CN" if info.language == "zh" else "en"
    return html.replace("<html>", f'<html lang="{lang}">', 1)


def _title_block(info: PageInfo) -> str:
    return render(
        "title.html", title=town_title(info.title, info.language, info.town),
        built=f"{t('built_at', info.language)} {format_time(info.built_at, info.language)}",
        version=f"{t('data_version', info.language)}: {info.version.describe(info.language)}",
        crs=t("crs_note", info.language), all_maps=t("all_maps", info.language),
    )


def _side_panel(side: SidePanel, language: str) -> str:
    return render(
        "side.html", summary=side.summary, legend=side.legend, extra=side.extra,
        summary_label=t("summary", language), legend_label=t("legend", language),
        offline_note=t("offline_note", language),
    )


def _dynamic_css() -> str:
    # Status colours live in styles.STATUS_COLORS only; the stylesheet takes them from there.
    rules = [f".status-{code}{{background:{color}}}" for code, color in STATUS_COLORS.items()]
    rules.append(f"body>.folium-map{{background:{MAP_BACKGROUND}}}")
    return "\n" + "\n".join(rules) + "\n"
