"""Service areas of facilities for the reports: along the roads where there are roads, discs otherwise,
simplified for display."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from gis_service.analysis.network import RoadNetwork, point_coordinates
from gis_service.analysis.service_areas import network_areas, straight_line_areas

# Simplified to 5 m: the areas are drawn at village scale, and every buffered road bend adds vertices.
DISPLAY_TOLERANCE_M = 5.0


def with_service_areas(points: gpd.GeoDataFrame, network: RoadNetwork | None,
                       limits_m: npt.ArrayLike) -> gpd.GeoDataFrame:
    """``points`` (EPSG:4544) with an ``area`` column: what each serves within its limit in metres."""
    limits = np.broadcast_to(np.asarray(limits_m, dtype=float), (len(points),))
    xy = point_coordinates(points, "facilities") if len(points) else np.empty((0, 2))
    areas = np.empty(len(points), dtype=object)
    for limit in np.unique(limits):
        chosen = limits == limit
        areas[chosen] = network_areas(network, xy[chosen], float(limit)) if network is not None else \
            straight_line_areas(xy[chosen], float(limit))
    simplified: Any = shapely.simplify(areas, DISPLAY_TOLERANCE_M) if len(areas) else areas
    return points.assign(area=gpd.GeoSeries(simplified, index=points.index, crs=points.crs))


def areas_frame(points: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The ``area`` column of :func:`with_service_areas` as the geometry (point geometry dropped)."""
    return points.set_geometry("area").drop(columns="geometry").rename_geometry("geometry")
