"""From GeoDataFrames to the arrays of the models: CRS and geometry checks, costs, candidate sites."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pyproj import CRS
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from gis_service.analysis.placement.errors import PlacementInputError
from gis_service.analysis.placement.inputs import Reach, as_cost

Metric = Literal["euclidean", "manhattan"]
_MINKOWSKI = {"euclidean": 2.0, "manhattan": 1.0}


@dataclass(frozen=True, eq=False)
class Frames:
    """What the models take from a demand and a candidate frame."""

    demand_xy: np.ndarray
    candidate_xy: np.ndarray
    weights: np.ndarray | None
    required: np.ndarray | None
    labels: list[object]


def read_frames(demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, weights_column: str | None,
                required: str | ArrayLike | None) -> Frames:
    """Check both frames (same projected CRS in metres, points only) and take coordinates and columns.

    ``required`` is the name of a boolean column of ``candidates``, or indices / a mask as in
    ``from_cost_matrix``.
    """
    crs = _metric_crs(demand, "demand")
    if _metric_crs(candidates, "candidates") != crs:
        raise PlacementInputError(f"demand ({crs.to_string()}) and candidates "
                                  f"({CRS.from_user_input(candidates.crs).to_string()}) must share one CRS")
    weights = None
    if weights_column is not None:
        if weights_column not in demand.columns:
            raise PlacementInputError(f"demand has no column '{weights_column}'")
        values = pd.to_numeric(demand[weights_column], errors="coerce")
        if values.isna().any():
            raise PlacementInputError(f"demand column '{weights_column}' has missing or non-numeric values")
        weights = values.to_numpy(dtype=np.float64)
    if isinstance(required, str):
        if required not in candidates.columns:
            raise PlacementInputError(f"candidates have no column '{required}'")
        required = candidates[required].fillna(False).to_numpy(dtype=bool)
    return Frames(_points(demand, "demand"), _points(candidates, "candidates"), weights,
                  None if required is None else np.asarray(required), list(demand.index))


def _metric_crs(frame: gpd.GeoDataFrame, what: str) -> CRS:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise PlacementInputError(f"{what} must be a GeoDataFrame")
    if frame.crs is None:
        raise PlacementInputError(f"{what} has no CRS; set it, then project to metres (e.g. to_crs(4544))")
    crs = CRS.from_user_input(frame.crs)
    units = {axis.unit_name.lower() for axis in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter"}:
        raise PlacementInputError(f"{what} is in {crs.to_string()}, which is not a projected CRS in metres: "
                                  "distances would be wrong; project first (the project analyses in EPSG:4544)")
    return crs


def _points(frame: gpd.GeoDataFrame, what: str) -> np.ndarray:
    if len(frame) == 0:
        raise PlacementInputError(f"{what} is empty")
    geoms = frame.geometry
    bad = geoms.isna() | geoms.is_empty | (geoms.geom_type != "Point")
    if bad.any():
        shown = ", ".join(str(label) for label in frame.index[bad.to_numpy()][:10])
        raise PlacementInputError(f"{what} must be non-empty points; not so at {shown}")
    return np.column_stack([geoms.x.to_numpy(), geoms.y.to_numpy()])


def distance_matrix(frames: Frames, metric: Metric, cost: ArrayLike | None) -> np.ndarray:
    """The dense demand × candidate cost matrix: ``cost`` when given (e.g. road distances), else ``metric``."""
    if cost is not None:
        return _aligned(as_cost(cost), frames)
    return cdist(frames.demand_xy, frames.candidate_xy, metric=_scipy_metric(metric))


def reach_within(frames: Frames, radius: float, metric: Metric, cost: ArrayLike | None) -> Reach:
    """Pairs within ``radius``, from a KD-tree so that large problems never build the dense matrix."""
    if cost is not None:
        return Reach.from_cost(_aligned(as_cost(cost), frames), radius)
    _scipy_metric(metric)
    found = cKDTree(frames.demand_xy).sparse_distance_matrix(
        cKDTree(frames.candidate_xy), radius, p=_MINKOWSKI[metric], output_type="ndarray")
    shape = (len(frames.demand_xy), len(frames.candidate_xy))
    return Reach.from_pairs(found["i"], found["j"], found["v"], shape)


def _scipy_metric(metric: str) -> str:
    if metric not in _MINKOWSKI:
        raise PlacementInputError(f"metric must be one of {sorted(_MINKOWSKI)}, got {metric!r}")
    return "cityblock" if metric == "manhattan" else "euclidean"


def _aligned(cost: np.ndarray, frames: Frames) -> np.ndarray:
    expected = (len(frames.demand_xy), len(frames.candidate_xy))
    if cost.shape != expected:
        raise PlacementInputError(f"cost has shape {cost.shape}; the frames need {expected}")
    return cost


@dataclass(frozen=True, eq=False)
class CandidateSites:
    """Existing facilities followed by candidate sites, and which rows are required (the existing ones)."""

    frame: gpd.GeoDataFrame
    required: np.ndarray


def candidate_sites(pool: gpd.GeoDataFrame, *, existing: gpd.GeoDataFrame | None = None,
                    source: Literal["idle", "all"] = "idle", status_column: str = "use_status",
                    idle_statuses: Collection[str] = ("idle", "partly_idle"), code_column: str = "code",
                    host_column: str = "host_asset_code") -> CandidateSites:
    """The candidate layer of a "1+N" placement: kept facilities plus the sites that could take a new one.

    With ``source="idle"`` the candidates are the idle assets of ``pool``, so that revitalising an asset and
    placing a station are one decision; ``"all"`` takes every row of ``pool`` (all assets, or any point
    layer). Assets that already host an existing facility (their ``code_column`` appears in the facilities'
    ``host_column``) are left out: the facility is there already.

    Parameters
    ----------
    pool : geopandas.GeoDataFrame
        Assets (``use_status`` codes) or any point layer.
    existing : geopandas.GeoDataFrame, optional
        Facilities to keep; they come first and are the ``required`` rows.
    source : {"idle", "all"}
        Which rows of ``pool`` are candidates.
    status_column, idle_statuses, code_column, host_column : str
        Column names and the status codes that count as idle.

    Returns
    -------
    CandidateSites
        ``frame`` (index reset; a ``placement_role`` column says ``"existing"`` or ``"candidate"``) and
        ``required`` (positions of the existing facilities), ready for ``from_geodataframe``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> assets = gpd.GeoDataFrame({"code": ["A1", "A2", "A3"], "use_status": ["idle", "in_use", "idle"]},
    ...                           geometry=[Point(0, 0), Point(1, 0), Point(2, 0)], crs=4544)
    >>> stations = gpd.GeoDataFrame({"code": ["S1"], "host_asset_code": ["A3"]},
    ...                             geometry=[Point(2, 0)], crs=4544)
    >>> sites = candidate_sites(assets, existing=stations)
    >>> sites.frame["code"].tolist(), sites.required.tolist()
    (['S1', 'A1'], [0])
    """
    if source not in ("idle", "all"):
        raise PlacementInputError(f"source must be 'idle' or 'all', got {source!r}")
    chosen = pool
    if source == "idle":
        if status_column not in pool.columns:
            raise PlacementInputError(f"the candidate pool has no column '{status_column}'")
        chosen = pool[pool[status_column].isin(list(idle_statuses)).to_numpy()]
    parts = [chosen.assign(placement_role="candidate")]
    if existing is not None:
        if existing.crs != pool.crs:
            raise PlacementInputError("existing facilities and the candidate pool must share one CRS")
        if host_column in existing.columns and code_column in chosen.columns:
            hosts = set(existing[host_column].dropna())
            parts[0] = parts[0][~chosen[code_column].isin(hosts).to_numpy()]
        parts.insert(0, existing.assign(placement_role="existing"))
    frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry=pool.geometry.name, crs=pool.crs)
    n_existing = 0 if existing is None else len(existing)
    return CandidateSites(frame, np.arange(n_existing, dtype=np.int64))
