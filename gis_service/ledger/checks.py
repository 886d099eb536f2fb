"""Do the books match reality (账实相符, 不重不漏)? The inventory check of the asset ledger, as pure code.

Input frames are in EPSG:4544 (metres); nothing here reads a database. Every spatial step is one
vectorised STRtree query, so 20,000 assets against hundreds of villages take milliseconds.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis_service.crs import ANALYSIS_EPSG

# Categories whose location is an area: a point alone does not say where a field or pond ends.
AREA_CATEGORIES = frozenset({"land", "pond", "forest", "reservoir"})
DEFAULT_WITHIN_M = 20.0
# Same-name assets farther apart than this are different assets (two ponds called 堰塘 in different groups), not
# one asset counted twice; the cap also bounds how many same-name neighbours a common name can have.
MAX_WITHIN_M = 500.0


@dataclass(frozen=True)
class MissingLocation:
    """An asset whose location the ledger does not pin down; ``reasons`` are ``no_location_text``
    (empty 坐落), ``no_point`` (no usable coordinates) and ``no_footprint`` (an area asset without outline)."""

    code: str
    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CodeCollision:
    """Codes that differ only in case, width or spaces, and so name one asset twice."""

    normalised: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class NameDuplicate:
    """Two assets of the same name within ``distance_m`` of each other: probably one asset counted twice."""

    name: str
    codes: tuple[str, str]
    distance_m: float


@dataclass(frozen=True)
class OutsideBoundary:
    """An asset whose point is not in the village it states (``kind`` ``village`` or ``former_village``).

    ``containing`` is the village that does contain it (``None``: none does); ``distance_m`` is how far the
    point lies from the stated village (``None`` when the stated code is not a known village).
    """

    kind: str
    code: str
    name: str
    stated: str
    containing: str | None
    distance_m: float | None


@dataclass(frozen=True)
class InventoryCheck:
    """Everything the inventory check found; empty lists mean the books match the map."""

    within_m: float
    assets: int
    missing_location: tuple[MissingLocation, ...]
    duplicate_codes: tuple[CodeCollision, ...]
    duplicate_names: tuple[NameDuplicate, ...]
    outside_village: tuple[OutsideBoundary, ...]
    outside_former_village: tuple[OutsideBoundary, ...]

    def flagged(self) -> dict[str, list[str]]:
        """Each flagged asset code with the kinds of problem found for it."""
        found: dict[str, list[str]] = {}
        for item in self.missing_location:
            found.setdefault(item.code, []).extend(item.reasons)
        for collision in self.duplicate_codes:
            for code in collision.codes:
                found.setdefault(code, []).append("duplicate_code")
        for pair in self.duplicate_names:
            for code in pair.codes:
                found.setdefault(code, []).append("duplicate_name")
        for outside in (*self.outside_village, *self.outside_former_village):
            found.setdefault(outside.code, []).append(f"outside_{outside.kind}")
        return {code: list(dict.fromkeys(kinds)) for code, kinds in found.items()}


def inventory_check(assets: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, former_villages: gpd.GeoDataFrame,
                    *, within_m: float = DEFAULT_WITHIN_M) -> InventoryCheck:
    """Check the asset ledger against the map.

    Parameters
    ----------
    assets
        Columns ``code``, ``name``, ``category``, ``location``, ``village_code``, ``former_village_code``,
        ``has_footprint`` (bool) and point geometries, in EPSG:4544.
    villages, former_villages
        Columns ``code`` and polygon geometries, in EPSG:4544.
    within_m
        Two assets of the same name closer than this are reported as a likely duplicate; 0 to
        :data:`MAX_WITHIN_M` metres.

    Returns
    -------
    InventoryCheck
        Assets without a location, colliding codes, same-name neighbours, and assets outside the merged or
        former village they state.
    """
    for frame, what in ((assets, "assets"), (villages, "villages"), (former_villages, "former_villages")):
        require_metres(frame, what)
    if not 0 <= within_m <= MAX_WITHIN_M:
        raise ValueError(f"within_m must be between 0 and {MAX_WITHIN_M:g} metres (got {within_m:g})")
    return InventoryCheck(
        within_m=within_m, assets=len(assets),
        missing_location=missing_location(assets), duplicate_codes=duplicate_codes(assets["code"]),
        duplicate_names=duplicate_names(assets, within_m),
        outside_village=outside_boundary(assets, "village_code", villages, "village"),
        outside_former_village=outside_boundary(assets, "former_village_code", former_villages, "former_village"),
    )


def require_metres(frame: gpd.GeoDataFrame, what: str) -> None:
    """Raise unless ``frame`` is in EPSG:4544, where distances are metres."""
    if frame.crs is None or frame.crs.to_epsg() != ANALYSIS_EPSG:
        raise ValueError(f"{what} must be in EPSG:{ANALYSIS_EPSG} (got {frame.crs})")


def usable_points(geometries: gpd.GeoSeries) -> np.ndarray:
    """Whether each geometry is a non-empty point with finite coordinates."""
    values = geometries.to_numpy(dtype=object)
    present = ~(shapely.is_missing(values) | shapely.is_empty(values))
    if not present.any():
        return present
    coordinates = np.full((len(values), 2), np.nan)
    coordinates[present] = shapely.get_coordinates(values[present])[:, :2]
    return present & np.isfinite(coordinates).all(axis=1)


def missing_location(assets: gpd.GeoDataFrame) -> tuple[MissingLocation, ...]:
    """Assets with an empty 坐落 text, without a usable point, or area assets without a surveyed footprint."""
    no_text = assets["location"].fillna("").astype(str).str.strip().eq("").to_numpy()
    no_point = ~usable_points(assets.geometry)
    no_footprint = (assets["category"].isin(AREA_CATEGORIES) & ~assets["has_footprint"].astype(bool)).to_numpy()
    reasons = np.array(["no_location_text", "no_point", "no_footprint"])
    flags = np.column_stack([no_text, no_point, no_footprint])
    rows = np.flatnonzero(flags.any(axis=1))
    codes, names = assets["code"].to_numpy(), assets["name"].to_numpy()
    return tuple(MissingLocation(str(codes[i]), str(names[i]), tuple(reasons[flags[i]].tolist())) for i in rows)


def normalise_text(value: object) -> str:
    """A code or name as people mean it: full-width folded to half-width (NFKC), no spaces, case folded."""
    return "".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()


def duplicate_codes(codes: pd.Series) -> tuple[CodeCollision, ...]:
    """Groups of distinct codes that are equal once normalised (e.g. ``JT-001`` and ``jt-001 ``)."""
    frame = pd.DataFrame({"code": codes.astype(str), "key": codes.map(normalise_text)}).drop_duplicates()
    colliding = frame[frame.duplicated("key", keep=False)]  # grouping only these keeps 20,000 codes fast
    groups = colliding.groupby("key")["code"].agg(lambda s: tuple(sorted(s)))
    return tuple(CodeCollision(str(key), group) for key, group in groups.items())


def duplicate_names(assets: gpd.GeoDataFrame, within_m: float) -> tuple[NameDuplicate, ...]:
    """Pairs of assets with the same (normalised) name whose points lie within ``within_m`` metres.

    Only assets that share a name are ever paired, so the work and memory follow the number of same-name
    neighbours, however many other assets lie around.
    """
    usable = np.flatnonzero(usable_points(assets.geometry))
    names = assets["name"].map(normalise_text).to_numpy()[usable]
    shared = pd.Series(names).duplicated(keep=False).to_numpy()  # a name held once cannot be a duplicate
    rows = usable[shared]
    if len(rows) < 2:
        return ()
    points = assets.geometry.to_numpy(dtype=object)[rows]
    left, right = same_group_within(points, pd.factorize(names[shared])[0], within_m)
    distances = shapely.distance(points[left], points[right])
    codes, shown = assets["code"].to_numpy()[rows], assets["name"].to_numpy()[rows]
    pairs = [NameDuplicate(str(shown[a]), (str(codes[a]), str(codes[b])), round(float(d), 2))
             for a, b, d in zip(left, right, distances, strict=True)]
    return tuple(sorted(pairs, key=lambda p: p.codes))


def same_group_within(points: np.ndarray, groups: np.ndarray, within_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i < j``, of points in the same group no more than ``within_m`` apart.

    Each group is moved east by its own multiple of a spacing wider than all points plus ``within_m``, so points
    of different groups end up farther apart than ``within_m`` and one STRtree query finds only same-group pairs
    (one vectorised query instead of a loop over thousands of small groups). Distances are then re-measured on
    the original points, so the shift cannot change a result.
    """
    xy = shapely.get_coordinates(points)
    x_min, x_max = float(xy[:, 0].min()), float(xy[:, 0].max())
    spacing = (x_max - x_min) + 2 * within_m + 1.0
    shifted = shapely.points(xy[:, 0] - x_min + groups * spacing, xy[:, 1])
    # a millimetre of slack: large shifted coordinates round, and the exact test below decides
    left, right = shapely.STRtree(shifted).query(shifted, predicate="dwithin", distance=within_m + 1e-3)
    keep = (left < right) & (groups[left] == groups[right])
    left, right = left[keep], right[keep]
    near = shapely.distance(points[left], points[right]) <= within_m
    return left[near], right[near]


def containing_index(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """For each point, the index of the first polygon that covers it (boundary included), or -1.

    One STRtree query for all points; where polygons overlap, the lowest index wins (deterministic).
    """
    found = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polygons) == 0:
        return found
    present = ~(shapely.is_missing(points) | shapely.is_empty(points))
    which = np.flatnonzero(present)
    point_i, polygon_i = shapely.STRtree(polygons).query(points[which], predicate="intersects")
    best = np.full(len(which), np.iinfo(np.int64).max)
    np.minimum.at(best, point_i, polygon_i)
    hit = best != np.iinfo(np.int64).max
    found[which[hit]] = best[hit]
    return found


def containing_codes(points: np.ndarray, polygons: gpd.GeoDataFrame) -> np.ndarray:
    """The ``code`` of the polygon covering each point (``None`` where none does)."""
    index = containing_index(points, polygons.geometry.to_numpy(dtype=object))
    codes = np.array([*polygons["code"].tolist(), None], dtype=object)
    return codes[index]  # index -1 picks the appended None


def outside_boundary(assets: gpd.GeoDataFrame, column: str, polygons: gpd.GeoDataFrame,
                     kind: str) -> tuple[OutsideBoundary, ...]:
    """Assets whose point is not covered by the polygon whose code ``column`` states (null codes are skipped;
    assets without a usable point are reported by :func:`missing_location` instead)."""
    stated = assets[column].to_numpy(dtype=object)
    points = assets.geometry.to_numpy(dtype=object)
    containing = containing_codes(points, polygons)
    suspect = np.flatnonzero(pd.notna(stated) & usable_points(assets.geometry))
    covered = _covered_by_stated(points[suspect], stated[suspect], polygons)
    suspect = suspect[~covered]
    distances = _distance_to_stated(points[suspect], stated[suspect], polygons)
    codes, names = assets["code"].to_numpy(), assets["name"].to_numpy()
    return tuple(
        OutsideBoundary(kind, str(codes[i]), str(names[i]), str(stated[i]),
                        None if containing[i] is None else str(containing[i]), distance)
        for i, distance in zip(suspect, distances, strict=True))


def _stated_polygons(stated: np.ndarray, polygons: gpd.GeoDataFrame) -> np.ndarray:
    lookup = pd.Series(polygons.geometry.to_numpy(dtype=object), index=polygons["code"].to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    shapes = lookup.reindex(stated).to_numpy(dtype=object, copy=True)
    shapes[pd.isna(shapes)] = None  # unknown codes come back as NaN
    return shapes


def _covered_by_stated(points: np.ndarray, stated: np.ndarray, polygons: gpd.GeoDataFrame) -> np.ndarray:
    shapes = _stated_polygons(stated, polygons)
    known = ~shapely.is_missing(shapes)
    covered = np.zeros(len(points), dtype=bool)
    covered[known] = shapely.covers(shapes[known], points[known])
    return covered


def _distance_to_stated(points: np.ndarray, stated: np.ndarray, polygons: gpd.GeoDataFrame) -> list[float | None]:
    shapes = _stated_polygons(stated, polygons)
    known = ~shapely.is_missing(shapes)
    distances = np.full(len(points), np.nan)
    distances[known] = shapely.distance(points[known], shapes[known])
    return [None if np.isnan(d) else round(float(d), 1) for d in distances]
