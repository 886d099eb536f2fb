"""Overlay of features (assets) with planning zones: which zones each feature touches, by how much.

Pure and vectorised (shapely 2 STRtree and array operations; no database): footprints get the area and
share of each zone they overlap, points the zones that contain them. Both inputs must be in a projected
CRS in metres (EPSG:4544 in this service), so areas are square metres. Registration (issue 4) and the
conformance analysis (issue 6) read the same :class:`PlanningOverlay`.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point, box
>>> zones = gpd.GeoDataFrame({"zone_type": ["village_construction", "permanent_farmland"]},
...                          geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=4544)
>>> features = gpd.GeoSeries([box(5, 0, 15, 10), Point(2, 2)], crs=4544)
>>> result = overlay_zones(features, zones)
>>> result.pairs.to_dict("list")
{'feature': [0, 0, 1], 'zone': [0, 1, 0], 'area_m2': [50.0, 50.0, 0.0], 'share': [0.5, 0.5, 1.0]}
>>> result.touches("permanent_farmland").tolist()
[True, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis_service.errors import InvalidInputError

# Overlaps smaller than this are digitising slivers between a surveyed outline and a planning parcel drawn
# on another base map; they do not make a footprint "touch" a zone.
MIN_OVERLAP_M2 = 1.0

# The control lines (三区三线) whose touching every caller asks about.
CONTROL_ZONES = ("permanent_farmland", "ecological_redline", "development_boundary")


@dataclass(frozen=True)
class PlanningOverlay:
    """The result of :func:`overlay_zones`.

    Attributes
    ----------
    pairs
        One row per (feature, zone) that meet, ordered by feature then zone: ``feature`` and ``zone``
        (positions in the inputs), ``area_m2`` (overlap area; 0 for points) and ``share`` (the overlap's
        share of the footprint; 1 for a point inside the zone). Slivers under ``min_overlap_m2`` are left out.
    pieces
        The overlap geometry of each pair (``None`` for points), aligned with ``pairs``.
    zones
        The zones' attributes (no geometry), positions as in the input.
    areas
        Each feature's area in m² (0 for points).
    """

    pairs: pd.DataFrame
    pieces: np.ndarray
    zones: pd.DataFrame
    areas: np.ndarray

    @property
    def n_features(self) -> int:
        return len(self.areas)

    def zone_mask(self, zone_types: frozenset[str] | set[str] | tuple[str, ...]) -> np.ndarray:
        """Which zones (positions) have one of ``zone_types``."""
        return self.zones["zone_type"].isin(list(zone_types)).to_numpy()

    def touches(self, zone_type: str) -> np.ndarray:
        """Per feature: whether it meets a zone of ``zone_type`` (beyond a sliver)."""
        return self.touches_any(self.zone_mask((zone_type,)))

    def touches_any(self, zone_mask: np.ndarray) -> np.ndarray:
        """Per feature: whether it meets any zone selected by the boolean ``zone_mask``."""
        hits = np.zeros(self.n_features, dtype=bool)
        selected = zone_mask[self.pairs["zone"].to_numpy()]
        hits[self.pairs["feature"].to_numpy()[selected]] = True
        return hits

    def covered_share(self, zone_mask: np.ndarray) -> np.ndarray:
        """Per feature: the share (0–1) of its footprint lying in the union of the selected zones; for a
        point 1 when a selected zone contains it. Overlapping zones (a control line over land-use parcels)
        are counted once."""
        share = np.zeros(self.n_features, dtype=float)
        selected = zone_mask[self.pairs["zone"].to_numpy()]
        features = self.pairs["feature"].to_numpy()[selected]
        pieces = self.pieces[selected]
        points = self.areas[features] == 0
        share[features[points]] = 1.0
        polygons = ~points
        if not polygons.any():
            return share
        features, pieces = features[polygons], pieces[polygons]
        order = np.argsort(features, kind="stable")
        features, pieces = features[order], pieces[order]
        starts = np.flatnonzero(np.r_[True, features[1:] != features[:-1]])
        counts = np.diff(np.r_[starts, len(features)])
        # One piece: its area. Several: the area of their union (only these need a per-feature union).
        area = shapely.area(pieces[starts])
        for k in np.flatnonzero(counts > 1):
            area[k] = shapely.area(shapely.union_all(pieces[starts[k]:starts[k] + counts[k]]))
        owners = features[starts]
        share[owners] = np.minimum(area / self.areas[owners], 1.0)
        return share


def overlay_zones(features: gpd.GeoSeries, zones: gpd.GeoDataFrame, *,
                  min_overlap_m2: float = MIN_OVERLAP_M2) -> PlanningOverlay:
    """Overlay ``features`` (points or polygons) with planning ``zones`` (polygons with ``zone_type``).

    Parameters
    ----------
    features
        Points (asset locations) or polygons (footprints), in a projected CRS in metres; ``None`` entries
        meet nothing.
    zones
        Planning zones with at least ``zone_type``; other columns (``code``, ``land_use_code``…) are kept.
    min_overlap_m2
        Footprint overlaps smaller than this are ignored as slivers.

    Returns
    -------
    PlanningOverlay

    Raises
    ------
    InvalidInputError
        When a CRS is missing, geographic, or differs between the inputs, or ``zone_type`` is missing.
    """
    _check_inputs(features, zones)
    geoms = np.asarray(features.values, dtype=object)
    zone_geoms = np.asarray(zones.geometry.values, dtype=object)
    areas = np.nan_to_num(shapely.area(geoms), nan=0.0)
    tree = shapely.STRtree(zone_geoms)
    feature_index, zone_index = tree.query(geoms, predicate="intersects")
    is_point = areas[feature_index] == 0
    pieces = np.full(len(feature_index), None, dtype=object)
    overlap = np.zeros(len(feature_index), dtype=float)
    polygon_pairs = ~is_point
    if polygon_pairs.any():
        pieces[polygon_pairs] = shapely.intersection(geoms[feature_index[polygon_pairs]],
                                                     zone_geoms[zone_index[polygon_pairs]])
        overlap[polygon_pairs] = shapely.area(pieces[polygon_pairs])
    keep = is_point | (overlap >= min_overlap_m2)
    feature_index, zone_index = feature_index[keep], zone_index[keep]
    overlap, pieces, is_point = overlap[keep], pieces[keep], is_point[keep]
    share = np.where(is_point, 1.0, overlap / np.where(areas[feature_index] > 0, areas[feature_index], 1.0))
    order = np.lexsort((zone_index, feature_index))
    pairs = pd.DataFrame({"feature": feature_index[order], "zone": zone_index[order],
                          "area_m2": overlap[order], "share": np.minimum(share[order], 1.0)})
    attributes = pd.DataFrame(zones.drop(columns=zones.geometry.name)).reset_index(drop=True)
    return PlanningOverlay(pairs, pieces[order], attributes, areas)


def _check_inputs(features: gpd.GeoSeries, zones: gpd.GeoDataFrame) -> None:
    if "zone_type" not in zones.columns:
        raise InvalidInputError("planning zones need a 'zone_type' column")
    for what, crs in (("features", features.crs), ("zones", zones.crs)):
        if crs is None or not crs.is_projected:
            raise InvalidInputError(f"the {what} must be in a projected CRS in metres (e.g. EPSG:4544), "
                                    f"not {crs}")
    if features.crs != zones.crs:
        raise InvalidInputError(f"features ({features.crs}) and zones ({zones.crs}) are in different CRSs")
