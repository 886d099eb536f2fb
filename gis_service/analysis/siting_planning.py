"""The planning verdict of every (asset, use) for the siting, and the town centre.

Verdicts come from the planning conformance (:func:`gis_service.analysis.conformance.check_requests`, on the
overlay of :mod:`gis_service.analysis.planning_overlay`) with the permitted-use table the app uses
(:mod:`gis_service.analysis.conformance_uses`, with ``GIS_PERMITTED_USES_FILE`` merged in by the caller), so the
siting never recommends what the conformance check calls not conforming. Each use the asset can take is judged
under its conformance use (:func:`conformance_use`: the same code, except farming a pond, a reservoir or a forest,
which is aquaculture or forestry):

``not_conforming``
    forbids the use (``permitted=False``, its score is 0, the reason says why);
``conditional``
    permits it (``permitted=True, conditional=True``) with no penalty: the condition (a village nursery only,
    outside the development boundary only on collective operating land…) is for the township to meet, and it
    is quoted among the reasons;
``conforming``
    permits it;
``unknown``
    no or too little planning data: ``permitted=None``, not penalised.

The town centre is the township government's office (an asset of category ``office`` owned by the town, in
use; the lowest code when there are several), else the centroid of the town development boundary, else none.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from gis_service.analysis import conformance_uses
from gis_service.analysis.conformance import Verdict, check_requests
from gis_service.analysis.planning_overlay import overlay_zones
from gis_service.analysis.siting_result import PlanningVerdict
from gis_service.analysis.siting_uses import UseProfile, subject_of

# Farming a resource asset means what its land is for: fish in a pond or reservoir, trees in a forest.
FARMING_BY_CATEGORY = {"pond": "aquaculture", "reservoir": "aquaculture", "forest": "forestry"}


def conformance_use(use: str, category: str | None) -> str:
    """The use code of the permitted-use table that siting's ``use`` means for an asset of ``category``.

    Examples
    --------
    >>> conformance_use("farming", "pond"), conformance_use("farming", "land"), conformance_use("kindergarten", None)
    ('aquaculture', 'farming', 'kindergarten')
    """
    if use == "farming":
        return FARMING_BY_CATEGORY.get(category or "", use)
    return use


def planning_verdicts(assets: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, uses: Sequence[UseProfile],
                      footprints: gpd.GeoSeries | None = None,
                      table: conformance_uses.PermittedTable | None = None) -> dict[str, dict[str, PlanningVerdict]]:
    """Asset code → use code → verdict, for every use each asset can take (see the module's notes).

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
    table
        The permitted-use table (default: the built-in one).
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
    codes = assets["code"].astype(str).tolist()
    # Only the uses an asset can take (no kindergarten on a pond): the others are not scored anyway.
    wanted = [(i, use.code) for i, category in enumerate(categories) for use in uses
              if subject_of(category) in use.subjects]
    verdicts = check_requests(overlay, [(i, conformance_use(use, categories[i])) for i, use in wanted], table)
    found: dict[str, dict[str, PlanningVerdict]] = {code: {} for code in codes}
    for (i, use), verdict in zip(wanted, verdicts, strict=True):
        found[codes[i]][use] = as_planning_verdict(verdict)
    return found


def as_planning_verdict(verdict: Verdict) -> PlanningVerdict:
    """The siting's view of a conformance verdict: the deciding reason, or the conditions when conditional."""
    reasons = list(verdict.reasons)
    if verdict.verdict == "conditional":
        reasons = reasons[1:] or reasons  # the first says where it lies; the rest are the conditions
    zh, en = "；".join(r.zh for r in reasons[:2]), "; ".join(r.en for r in reasons[:2])
    permitted = {"conforming": True, "conditional": True, "not_conforming": False}.get(verdict.verdict)
    return PlanningVerdict(permitted, zh, en, conditional=verdict.verdict == "conditional")


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
