"""GeoDataFrames to the GeoJSON and point lists embedded in a report.

Only what the page uses is embedded (a label, a popup, a few codes), with coordinates rounded to 6 decimals
(about 0.1 m): the stored 8 decimals would add a third to the file for no visible difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import mapping

from gis_service.crs import STORAGE_EPSG
from gis_service.reports.basemaps import display_xy

COORDINATE_DECIMALS = 6

Properties = Callable[[Mapping[str, Any]], dict[str, Any]]


def rounded(geometries: Any) -> np.ndarray:
    """``geometries`` (array-like of shapely objects or ``None``) as the page draws them: on the current base map
    (shifted to GCJ-02 on Gaode, see :mod:`gis_service.reports.basemaps`), coordinates rounded for display."""
    return shapely.transform(np.asarray(geometries, dtype=object),
                             lambda xy: np.round(display_xy(xy), COORDINATE_DECIMALS))


def feature_collection(frame: gpd.GeoDataFrame, properties: Properties, *,
                       geometry: str | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``frame`` (lon/lat) with ``properties(row)`` per feature.

    Rows without a geometry are left out. ``geometry`` names another geometry column (e.g. an asset footprint).
    """
    _check_crs(frame)
    column = geometry or frame.geometry.name
    geometries = rounded(frame[column].to_numpy())
    features: list[dict[str, Any]] = []
    for (_, row), geom in zip(frame.iterrows(), geometries, strict=True):
        if geom is None or geom.is_empty:
            continue
        features.append({"type": "Feature", "id": int(row["id"]) if "id" in row else len(features),
                         "geometry": mapping(geom), "properties": properties(row)})
    return {"type": "FeatureCollection", "features": features}


def bounds_latlon(frame: gpd.GeoDataFrame) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of ``frame`` as Leaflet wants it, ``None`` when empty."""
    _check_crs(frame)
    if frame.empty:
        return None
    west, south, east, north = frame.total_bounds
    (west, south), (east, north) = display_xy(np.array([[west, south], [east, north]], dtype=float))
    return [[float(south), float(west)], [float(north), float(east)]]


def _check_crs(frame: gpd.GeoDataFrame) -> None:
    # Leaflet takes longitude/latitude; EPSG:4490 is within centimetres of WGS84, a projected CRS is not.
    epsg = frame.crs.to_epsg() if frame.crs is not None else None
    if epsg not in (STORAGE_EPSG, 4326):
        raise ValueError(f"report layers must be in EPSG:{STORAGE_EPSG} or 4326, not {frame.crs}")
