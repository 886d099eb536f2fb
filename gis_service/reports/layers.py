"""Map layers the reports share: GeoJSON with escaped popups and labels, and the offline "base map" of
village boundaries, rivers and roads that stands in for tiles when there is no internet."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
from markupsafe import Markup, escape

from gis_service.reports.base import register_layer
from gis_service.reports.features import Properties, feature_collection
from gis_service.reports.html import render
from gis_service.reports.i18n import code_text, field_alias, field_label, t
from gis_service.reports.styles import HIGHLIGHT_STYLE, RIVER_STYLE, ROAD_STYLES, VILLAGE_BASE_STYLE

Style = Callable[[dict[str, Any]], dict[str, Any]]


def popup_html(title: str, rows: list[tuple[str, str]], badge: tuple[str, str] | None = None) -> str:
    """A popup: a title, an optional status badge ``(code, label)`` and a two-column table, all escaped."""
    return str(render("popup.html", title=title, rows=rows, badge=badge))


def label_html(text: str) -> str:
    """Label text for a tooltip (Leaflet writes it as HTML, so it is escaped here)."""
    return str(escape(text))


def geojson_layer(fmap: Any, name: str, title: str, frame: gpd.GeoDataFrame, properties: Properties,
                  style: Style, *, highlight: bool = False, show: bool = True, geometry: str | None = None,
                  control: bool = True) -> Any:
    """A GeoJSON layer whose popups and labels come from ``properties`` (keys ``popup``, ``label``,
    ``label_class``, ``tooltip``), registered in the page as ``GisReport.layers[name]``."""
    import offlinefolium
    from offlinefolium.utilities import JsCode

    data = feature_collection(frame, properties, geometry=geometry)
    layer = offlinefolium.GeoJson(
        data, name=title, style_function=style, show=show, control=control,
        highlight_function=(lambda _: HIGHLIGHT_STYLE) if highlight else None,
        on_each_feature=JsCode("GisReport.bindFeature"),
    )
    layer.add_to(fmap)
    register_layer(fmap, name, layer)
    return layer


def point_layer(fmap: Any, name: str, title: str, frame: gpd.GeoDataFrame, properties: Properties, style: Style,
                *, show: bool = True) -> Any:
    """Points drawn as circles (vector, no icon images): ``style`` gives each its colours and ``radius`` in
    pixels. Registered in the page as ``GisReport.layers[name]`` like :func:`geojson_layer`."""
    import offlinefolium
    from offlinefolium.utilities import JsCode

    data = feature_collection(frame, properties)

    def filled(feature: dict[str, Any]) -> dict[str, Any]:
        return {"fill": True, **style(feature)}  # a CircleMarker is hollow unless told

    layer = offlinefolium.GeoJson(data, name=title, style_function=filled, show=show,
                                  marker=offlinefolium.CircleMarker(), on_each_feature=JsCode("GisReport.bindFeature"))
    layer.add_to(fmap)
    register_layer(fmap, name, layer)
    return layer


def legend_rows(rows: list[dict[str, Any]]) -> Markup:
    """A legend of ``rows`` (``kind`` area, dot or line; ``label``; ``color``, ``fill``, ``width``, ``style``)."""
    defaults = {"fill": "transparent", "width": 2, "style": "solid", "color": "#555"}
    return render("legend_rows.html", rows=[{**defaults, **row} for row in rows])


def table_html(title: str, headers: list[str], rows: list[dict[str, Any]], numeric: tuple[int, ...] = ()) -> Markup:
    """A side-panel table: ``rows`` hold ``cells`` (escaped text) and ``alarm`` (drawn in red)."""
    return render("table.html", title=title, headers=headers, rows=rows, numeric=numeric)


def add_village_base(fmap: Any, villages: gpd.GeoDataFrame, language: str) -> Any:
    """Village boundaries with their names: the base of a map that has no tiles."""

    def properties(row: Mapping[str, Any]) -> dict[str, Any]:
        rows = [(field_alias("villages", name, language), field_label("villages", name, row[name], language))
                for name in ("code", "kind", "population", "households", "branch")]
        return {"label": label_html(str(row["name"])), "popup": popup_html(str(row["name"]), rows)}

    return geojson_layer(fmap, "villages", t("villages_layer", language), villages, properties,
                         lambda _: VILLAGE_BASE_STYLE)


def add_rivers_and_roads(fmap: Any, rivers: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, language: str, *,
                         show_roads: bool = True) -> None:
    """Rivers and roads, so that people find their way on a map without tiles."""

    def road_properties(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"tooltip": label_html(f"{row['name']} ({row['code']})"), "road_class": str(row["road_class"])}

    def river_properties(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"tooltip": label_html(str(row["name"]))}

    geojson_layer(fmap, "roads", t("roads_layer", language), roads, road_properties,
                  lambda feature: ROAD_STYLES.get(feature["properties"]["road_class"], ROAD_STYLES["village"]),
                  show=show_roads)
    geojson_layer(fmap, "rivers", t("rivers_layer", language), rivers, river_properties, lambda _: RIVER_STYLE)


def line_legend(language: str) -> list[dict[str, Any]]:
    """Legend rows for rivers and road classes, drawn like the map draws them."""
    rows = [{"label": t("rivers_layer", language), "color": RIVER_STYLE["color"], "width": 3, "style": "solid"}]
    for road_class, style in ROAD_STYLES.items():
        rows.append({"label": code_text("road_class", road_class, language), "color": style["color"],
                     "width": max(1, round(style["weight"])),
                     "style": "dashed" if "dashArray" in style else "solid"})
    return rows
