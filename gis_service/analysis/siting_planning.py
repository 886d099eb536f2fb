"""The planning verdict of every (asset, use) for the siting, and the town centre.

Verdicts come from the registry's conformance rules (``gis_service.analysis.planning_conformance``, on the
overlay of ``gis_service.analysis.planning_overlay``), asked per use: a use that needs a building is judged by
the rule for buildings and built land (construction land; never permanent basic farmland or the ecological red
line); farming and leasing keep the land as it is, so they are judged by the rule of the asset's own category
(a pond conforms on water, collective land on farmland or construction land). ``conforming=False`` forbids the
use (its score is 0), ``None`` (no planning zone there) is unknown.

The town centre is the township government's office (an asset of category ``office`` owned by the town, in
use; the lowest code when there are several), else the centroid of the town development boundary, else none.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from gis_service.analysis.planning_conformance import Conformance, conformance
from gis_service.analysis.planning_overlay import overlay_zones
from gis_service.analysis.siting_result import PermittedTable, PlanningVerdict
from gis_service.analysis.siting_uses import UseProfile


def planning_verdicts(assets: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, uses: Sequence[UseProfile],
                      footprints: gpd.GeoSeries | None = None) -> PermittedTable:
    """Asset code → use code → verdict, from the overlay of the assets with the planning zones.

    Parameters
    ----------
    assets
        Points with ``code`` and ``category`` in a projected CRS (EPSG:4544).
    zones
        Planning zones (``zone_type``, ``land_use_code``), same CRS.
    uses
        The uses to judge.
    footprints
        Surveyed outlines aligned with ``assets`` (None entries: use the point), same CRS.
    """
    if zones.empty:
        return {}
    points = np.asarray(assets.geometry.values, dtype=object)
    shapes = points
    if footprints is not None:
        outlines = np.asarray(footprints.values, dtype=object)
        shapes = np.where(shapely.is_missing(outlines) | shapely.is_empty(outlines), points, outlines)
    overlay = overlay_zones(gpd.GeoSeries(shapes, crs=assets.crs), zones)
    categories = [c if isinstance(c, str) else None for c in assets["category"]]
    built = conformance(overlay, [None] * len(categories))  # None: the rule for buildings and built land
    own = conformance(overlay, categories)
    table: dict[str, dict[str, PlanningVerdict]] = {}
    for i, code in enumerate(assets["code"].astype(str)):
        table[code] = {use.code: _verdict(built[i] if use.needs_building else own[i]) for use in uses}
    return table


def _verdict(found: Conformance) -> PlanningVerdict:
    return PlanningVerdict(found.conforming, found.reason_zh, found.reason_en)


def town_centre(assets: gpd.GeoDataFrame, zones: gpd.GeoDataFrame | None) -> tuple[shapely.Point | None, str]:
    """The town centre and what it is (see the module's notes); ``(None, "")`` when neither exists."""
    needed = {"category", "ownership", "code"}
    if needed <= set(assets.columns):
        office = assets[(assets["category"] == "office") & (assets["ownership"] == "town_state")]
        if "use_status" in office:
            in_use = office[office["use_status"] == "in_use"]
            office = in_use if len(in_use) else office
        if len(office):
            first = office.sort_values("code").iloc[0]
            return first.geometry, str(first["code"])
    if zones is not None and not zones.empty and "zone_type" in zones:
        boundary = zones[zones["zone_type"] == "development_boundary"]
        if len(boundary):
            return shapely.union_all(np.asarray(boundary.geometry.values)).centroid, "development_boundary"
    return None, ""
