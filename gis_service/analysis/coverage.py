"""Coverage of settlements by facilities.

A facility standard (``FACILITY_THRESHOLDS``) names the facilities that provide a service, the demand they
serve (people, elderly or children of each settlement) and the distance or walking time within which a
settlement counts as covered. ``coverage`` answers, for one standard: the nearest facility of every
settlement and its distance, the covered demand and share per merged village and for the town, and the
settlements left uncovered. The standards are in ``gis_service.analysis.standards``; the "1+N" diagnosis of
merged villages in ``gis_service.analysis.one_plus_n``.

Distances
---------
``method="straight"``
    Straight line in the projected CRS (EPSG:4544 metres), with ``scipy.spatial.cKDTree``. Minutes are the
    distance walked at ``WALK_SPEED_KMH``.
``method="network"``
    Along a ``RoadNetwork`` (walking by default), rivers crossed only at bridges: see
    ``gis_service.analysis.network`` for the rules. Metres and minutes are those of the same path; the path
    minimises the standard's own measure (metres for a distance threshold, minutes for a time threshold).
``method="auto"`` (default)
    The network when one is given and has roads, else straight lines; and, with a network, straight lines
    for the settlements that cannot reach it (no road within its ``max_access_m`` except across a river).
    ``SettlementCoverage.via_network`` says which was used. A settlement that reaches the network but no
    facility through it (a bridge is missing) stays unreachable: falling back to a straight line there
    would cross the river the network refused. Facilities that cannot reach the network are left out of
    network searches.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> homes = gpd.GeoDataFrame({"code": ["a", "b"], "village_code": ["v", "v"], "population": [100, 50]},
...                          geometry=[Point(0, 0), Point(4500, 0)], crs="EPSG:4544")
>>> centres = gpd.GeoDataFrame({"code": ["c"], "kind": ["centre"]}, geometry=[Point(1000, 0)], crs="EPSG:4544")
>>> report = coverage(homes, centres, "centre", method="straight")
>>> report.town.covered_demand, report.town.demand, report.town.share
(100, 150, 0.6666666666666666)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from pyproj import CRS
from scipy.spatial import cKDTree

from gis_service.analysis.network import (
    WALK_SPEED_KMH,
    FloatArray,
    IntArray,
    Nearest,
    RoadNetwork,
    check_projected,
    metres_per_minute,
    point_coordinates,
)
from gis_service.analysis.standards import FACILITY_THRESHOLDS, FacilityStandard, get_standard

__all__ = ["FACILITY_THRESHOLDS", "CoverageReport", "CoverageSummary", "FacilityStandard", "SettlementCoverage",
           "coverage", "get_standard", "straight_line_nearest"]

Method = Literal["auto", "straight", "network"]
BoolArray = npt.NDArray[np.bool_]



@dataclass(frozen=True, eq=False)
class SettlementCoverage:
    """Per-settlement results, one array entry per settlement in input order.

    Arrays rather than one object per settlement: a million settlements fit in a few arrays.

    Attributes
    ----------
    code, village_code
        The settlements' codes and merged-village codes (the input columns).
    demand
        Demand counted for each settlement.
    nearest
        Row position in the facilities of the nearest facility; -1 when none is reachable.
    distance_m, minutes
        Distance and travel time to it (``inf`` when unreachable).
    straight_m
        Straight-line distance to the nearest facility in a straight line (always computed).
    covered
        Within the standard's threshold.
    via_network
        Distance measured along the road network (False: straight line).
    facility_codes
        Codes of the facilities, by row position (``nearest_code`` looks them up).
    """

    code: pd.Series
    village_code: pd.Series
    demand: FloatArray
    nearest: IntArray
    distance_m: FloatArray
    minutes: FloatArray
    straight_m: FloatArray
    covered: BoolArray
    via_network: BoolArray
    facility_codes: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.nearest)

    @property
    def nearest_code(self) -> npt.NDArray[np.object_]:
        """Code of each settlement's nearest facility (None when unreachable)."""
        codes = np.concatenate([self.facility_codes, np.array([None], dtype=object)])
        return codes[np.where(self.nearest >= 0, self.nearest, len(self.facility_codes))]

    def to_frame(self) -> pd.DataFrame:
        """One row per settlement, indexed like the input."""
        return pd.DataFrame({
            "code": self.code.to_numpy(), "village_code": self.village_code.to_numpy(), "demand": self.demand,
            "nearest": self.nearest, "nearest_code": self.nearest_code, "distance_m": self.distance_m,
            "minutes": self.minutes, "straight_m": self.straight_m, "covered": self.covered,
            "via_network": self.via_network,
        }, index=self.code.index)

    def uncovered(self) -> pd.DataFrame:
        """The uncovered settlements, farthest first, with their distance to the nearest facility."""
        frame = self.to_frame()
        return frame[~frame["covered"]].sort_values("distance_m", ascending=False, kind="stable")


@dataclass(frozen=True)
class CoverageSummary:
    """Covered demand of a merged village (or of the town when ``village_code`` is None).

    Attributes
    ----------
    village_code
        Merged village; None for the town.
    settlements, uncovered_settlements
        Number of settlements, and of those not covered.
    demand, covered_demand
        Demand in total and within the threshold.
    share
        ``covered_demand / demand`` (``nan`` without demand).
    """

    village_code: str | None
    settlements: int
    uncovered_settlements: int
    demand: int
    covered_demand: int
    share: float


@dataclass(frozen=True, eq=False)
class CoverageReport:
    """Coverage of the settlements by one kind of facility.

    Attributes
    ----------
    standard
        The standard applied (facility kinds, demand, threshold, source).
    method
        ``"straight"`` or ``"network"`` (``"auto"`` resolved).
    settlements
        Per-settlement results.
    villages
        Per merged village, in code order.
    town
        Town totals.
    facilities
        Number of facilities searched.
    """

    standard: FacilityStandard
    method: Literal["straight", "network"]
    settlements: SettlementCoverage
    villages: tuple[CoverageSummary, ...]
    town: CoverageSummary
    facilities: int

    def village(self, code: str) -> CoverageSummary:
        """The summary of one merged village."""
        for summary in self.villages:
            if summary.village_code == code:
                return summary
        raise KeyError(code)

    def villages_frame(self) -> pd.DataFrame:
        """The per-village summaries and the town's as one table (town last)."""
        rows = [*self.villages, self.town]
        return pd.DataFrame([vars(r) for r in rows]).assign(village_code=lambda f: f["village_code"].fillna("town"))



def straight_line_nearest(demand_xy: npt.ArrayLike, facility_xy: npt.ArrayLike, *,
                          max_distance: float | None = None, workers: int = -1) -> tuple[IntArray, FloatArray]:
    """Nearest facility of every demand point in a straight line, with a KD-tree.

    Parameters
    ----------
    demand_xy, facility_xy
        (n, 2) and (m, 2) coordinates in metres.
    max_distance
        Do not look farther (faster when most points are covered): beyond it the index is -1 and the
        distance ``inf``.
    workers
        Threads for the query (-1: all cores).

    Returns
    -------
    index, distance
        Row position of the nearest facility (-1 if none) and the distance in metres.
    """
    demand = np.asarray(demand_xy, dtype=float).reshape(-1, 2)
    facilities = np.asarray(facility_xy, dtype=float).reshape(-1, 2)
    if not len(facilities):
        return np.full(len(demand), -1, dtype=np.int64), np.full(len(demand), np.inf)
    bound = np.inf if max_distance is None else max_distance
    distance, index = cKDTree(facilities).query(demand, k=1, distance_upper_bound=bound, workers=workers)
    index = np.where(np.isfinite(distance), index, -1).astype(np.int64)
    return index, np.asarray(distance, dtype=float)


def coverage(
    settlements: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    standard: FacilityStandard | str,
    *,
    network: RoadNetwork | None = None,
    method: Method = "auto",
    villages: Sequence[str] | None = None,
    code_field: str = "code",
    village_field: str = "village_code",
    walk_speed_kmh: float = WALK_SPEED_KMH,
) -> CoverageReport:
    """Coverage of ``settlements`` by ``facilities`` under one standard.

    Parameters
    ----------
    settlements
        POINT layer with ``code``, ``village_code`` and the standard's demand field, projected in metres.
    facilities
        POINT layer of the facilities to use (``standard.select(layer)`` picks them), same CRS; optional
        ``code`` field.
    standard
        A ``FacilityStandard`` or a key of ``FACILITY_THRESHOLDS``.
    network
        Road network for network distances (same CRS).
    method
        ``"auto"`` (default), ``"straight"`` or ``"network"``: see the module's notes.
    villages
        Merged-village codes to report even without settlements (default: those of the settlements).
    code_field, village_field
        Settlement fields with the settlement and merged-village codes.
    walk_speed_kmh
        Speed that turns straight-line metres into minutes.

    Returns
    -------
    CoverageReport

    Raises
    ------
    ValueError
        On a geographic CRS, differing CRSs, non-point geometries, a missing field, or
        ``method="network"`` without a network.
    """
    std = get_standard(standard)
    _check_inputs(settlements, facilities, network, [code_field, village_field, std.demand])
    demand_xy = point_coordinates(settlements, "settlements")
    facility_xy = point_coordinates(facilities, "facilities")
    resolved = _resolve_method(method, network)
    straight_index, straight_m = straight_line_nearest(demand_xy, facility_xy)
    minutes_per_metre = 1.0 / metres_per_minute(walk_speed_kmh)
    nearest, distance, minutes = straight_index, straight_m, straight_m * minutes_per_metre
    via = np.zeros(len(demand_xy), dtype=bool)
    if resolved == "network" and network is not None:
        found, via = _network_nearest(network, demand_xy, facility_xy, std, fallback=method == "auto")
        nearest = np.where(via, found.source, nearest)
        distance = np.where(via, found.metres, distance)
        minutes = np.where(via, found.minutes, minutes)
    cost = distance if std.metres is not None else minutes
    result = SettlementCoverage(
        code=settlements[code_field], village_code=settlements[village_field],
        demand=_demand(settlements, std.demand), nearest=nearest, distance_m=distance, minutes=minutes,
        straight_m=straight_m, covered=cost <= std.limit, via_network=via,
        facility_codes=_codes(facilities),
    )
    summaries, town = _summarise(result, villages)
    return CoverageReport(standard=std, method=resolved, settlements=result, villages=summaries, town=town,
                          facilities=len(facility_xy))


def _check_inputs(settlements: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, network: RoadNetwork | None,
                  fields: Sequence[str], **others: gpd.GeoDataFrame | None) -> None:
    """Projected CRS in metres, the same for every input; the settlements' fields present."""
    crs = check_projected(settlements.crs, "settlements")
    layers = {"facilities": facilities.crs, "network": network.crs if network else crs,
              **{name: frame.crs for name, frame in others.items() if frame is not None}}
    for what, other in layers.items():
        if other is None or not crs.equals(CRS.from_user_input(other)):
            raise ValueError(f"{what} must be in the settlements' CRS ({crs.to_string()}), not {other}")
    missing = [name for name in fields if name not in settlements]
    if missing:
        raise ValueError(f"settlements lack field(s) {missing}")


def _resolve_method(method: Method, network: RoadNetwork | None) -> Literal["straight", "network"]:
    if method not in ("auto", "straight", "network"):
        raise ValueError(f"method must be 'auto', 'straight' or 'network', not {method!r}")
    has_roads = network is not None and network.n_edges > 0
    if method == "network" and not has_roads:
        raise ValueError("method='network' needs a RoadNetwork with roads")
    return "network" if method == "network" or (method == "auto" and has_roads) else "straight"


def _network_nearest(network: RoadNetwork, demand_xy: FloatArray, facility_xy: FloatArray,
                     std: FacilityStandard, *, fallback: bool) -> tuple[Nearest, BoolArray]:
    """Nearest facility of each settlement along the network, and which settlements to measure so.

    With ``fallback`` the settlements that cannot reach the network are left to the straight line; without
    it every settlement is measured on the network (those off it are unreachable, ``inf``).
    """
    graph = network.attach(np.vstack([demand_xy, facility_xy]))
    n = len(demand_xy)
    found = graph.nearest(n + np.arange(len(facility_xy)), weight=std.weight)
    via = graph.has_access[:n] if fallback else np.ones(n, dtype=bool)
    return Nearest(found.source[:n], found.metres[:n], found.minutes[:n]), via


def _demand(settlements: gpd.GeoDataFrame, name: str) -> FloatArray:
    values = pd.to_numeric(settlements[name], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if np.any(values < 0):
        raise ValueError(f"settlements.{name} has negative values")
    return values


def _codes(facilities: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    if "code" in facilities:
        return facilities["code"].to_numpy(dtype=object)
    return np.asarray([str(i) for i in facilities.index], dtype=object)


def _summarise(result: SettlementCoverage, villages: Sequence[str] | None
               ) -> tuple[tuple[CoverageSummary, ...], CoverageSummary]:
    """Per-village and town sums, with bincount over factorised village codes (fast for millions)."""
    # Unsorted (the k summaries are sorted below, cheaper than relabelling a million rows); NaN is a code too.
    labels, uniques = pd.factorize(result.village_code, use_na_sentinel=False)
    k = len(uniques)
    count = np.bincount(labels, minlength=k)
    uncovered = np.bincount(labels, weights=~result.covered, minlength=k)
    demand = np.bincount(labels, weights=result.demand, minlength=k)
    covered = np.bincount(labels, weights=np.where(result.covered, result.demand, 0.0), minlength=k)
    rows = {str(code): _summary(str(code), int(count[i]), int(uncovered[i]), demand[i], covered[i])
            for i, code in enumerate(uniques)}
    for code in villages or ():
        rows.setdefault(str(code), _summary(str(code), 0, 0, 0.0, 0.0))
    town = _summary(None, len(result), int(uncovered.sum()), float(demand.sum()), float(covered.sum()))
    return tuple(rows[code] for code in sorted(rows)), town


def _summary(code: str | None, settlements: int, uncovered: int, demand: float, covered: float) -> CoverageSummary:
    return CoverageSummary(village_code=code, settlements=settlements, uncovered_settlements=uncovered,
                           demand=round(demand), covered_demand=round(covered),
                           share=covered / demand if demand > 0 else float("nan"))
