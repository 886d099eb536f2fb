"""The "1+N" diagnosis of merged villages: is there a central position (1), how many convenience agency stations
(N), how much of the village each covers, whether a river splits the village, and how many stations it still needs.

The town's notice of 19 August 2021 (plan 2, §二(五)) sets the model: one central position per merged village
plus N agency stations "for villages enlarged by the merger or where rivers and hills make it hard for people
to get services".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial.distance import cdist
from shapely.ops import split

from gis_service.analysis.coverage import BoolArray, Method, _check_inputs, _demand, _resolve_method
from gis_service.analysis.network import (
    WALK_SPEED_KMH,
    FloatArray,
    IntArray,
    PointGraph,
    RoadNetwork,
    metres_per_minute,
    point_coordinates,
)
from gis_service.analysis.standards import FacilityStandard, get_standard


@dataclass(frozen=True)
class OnePlusN:
    """The "1+N" diagnosis of one merged village.

    Attributes
    ----------
    village_code, name, kind
        The merged village (``kind``: village or community).
    settlements, population
        Its settlements and their people.
    has_centre
        A central position (中心阵地) stands in the village.
    stations
        Number of its agency stations (便民服务代办站).
    share_centre
        Share of its people within the centre threshold of its own central position.
    share_all
        Share within the centre threshold of the centre or the station threshold of one of its stations.
    river_split
        A river cuts the village's area into pieces that each hold at least ``min_side_population`` people.
    river_sides
        Number of such populated pieces (1 when not split).
    sides_without_service
        Populated pieces holding none of the village's service points.
    stations_needed
        Further stations: one for each populated river side left unserved and uncovered, then enough to reach
        the target share (sited at settlements; see ``diagnose_one_plus_n``).
    suggested_centre
        Without a centre: code of the settlement suggested for it (None otherwise).
    suggested_sites
        Codes of the settlements suggested for the stations, in order.
    share_with_suggested
        Share covered once they are added.
    verdict
        ``"adequate"``, ``"needs N station(s)"``, ``"needs a centre"`` or ``"needs a centre and N station(s)"``.
    """

    village_code: str
    name: str
    kind: str
    settlements: int
    population: int
    has_centre: bool
    stations: int
    share_centre: float
    share_all: float
    river_split: bool
    river_sides: int
    sides_without_service: int
    stations_needed: int
    suggested_centre: str | None = None
    suggested_sites: tuple[str, ...] = field(default=())
    share_with_suggested: float = float("nan")
    verdict: str = ""



def diagnose_one_plus_n(
    settlements: gpd.GeoDataFrame,
    service_points: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    *,
    rivers: gpd.GeoDataFrame | None = None,
    network: RoadNetwork | None = None,
    method: Method = "auto",
    centre: FacilityStandard | str = "centre",
    station: FacilityStandard | str = "agency_station",
    target_share: float = 0.9,
    min_side_population: int = 100,
    walk_speed_kmh: float = WALK_SPEED_KMH,
) -> tuple[OnePlusN, ...]:
    """Diagnose the "1+N" service points of every merged village.

    For each village, against its **own** service points (village affairs are done in one's own village):
    whether a central position stands there, how many agency stations, the share of its people within the
    centre threshold of the centre, and within that or the station threshold of a station. Rivers: the
    village's area is cut by the river lines; the pieces holding at least ``min_side_population`` people
    are its sides, and it is river-split with two or more (whether a bridge joins them or not: the notice
    names such villages; the distances show whether the bridges suffice). Verdict, with stations sited at
    settlements: a village without a centre needs one (sited where it reaches most people); a populated
    river side without a service point whose people are not all covered needs a station; then, while the
    share covered is below ``target_share``, stations are added greedily, each where it brings the most
    uncovered people within the station threshold, until the target is met or no site helps.

    Parameters
    ----------
    settlements
        POINT layer with ``code``, ``village_code``, ``population``; projected in metres.
    service_points
        POINT layer with ``kind`` (``centre`` / ``agency_station``) and ``village_code``.
    villages
        Merged villages (``code``, ``name``, optional ``kind``; MULTIPOLYGON); each gets a diagnosis.
    rivers
        River lines, for the river split (None: no village is split).
    network, method
        Distances as in ``coverage``.
    centre, station
        Standards (or keys) giving the two thresholds.
    target_share
        Share of the village's people that must be covered for "adequate" (0.9: a planning choice).
    min_side_population
        People a river side must hold to count (100: about one villagers' group, 村民小组; a few houses
        across a stream are not a side).
    walk_speed_kmh
        Speed for straight-line minutes.

    Returns
    -------
    tuple of OnePlusN
        One per village, in code order.
    """
    _check_inputs(settlements, service_points, network, ["code", "village_code", "population"], villages=villages,
                  rivers=rivers)
    for name in ("kind", "village_code"):
        if name not in service_points:
            raise ValueError(f"service_points lack field {name!r}")
    context = _Diagnosis(
        costs=_PairCosts.build(settlements, service_points, network, _resolve_method(method, network),
                               fallback=method == "auto", walk_speed_kmh=walk_speed_kmh),
        pops=_demand(settlements, "population"), codes=settlements["code"].to_numpy(dtype=object),
        kinds=service_points["kind"].to_numpy(dtype=object),
        rivers=None if rivers is None or not len(rivers) else shapely.union_all(np.asarray(rivers.geometry.values)),
        centre=get_standard(centre), station=get_standard(station), target_share=target_share,
        min_side_population=min_side_population)
    home_codes = settlements["village_code"].to_numpy()
    point_codes = service_points["village_code"].to_numpy()
    geometry = villages.geometry.name
    return tuple(context.diagnose(village, village[geometry], np.flatnonzero(home_codes == village["code"]),
                                  np.flatnonzero(point_codes == village["code"]))
                 for _, village in villages.sort_values("code").iterrows())


@dataclass(frozen=True, eq=False)
class _PairCosts:
    """Costs between settlements and service points (and between settlements), by network or straight line."""

    settlement_xy: FloatArray
    point_xy: FloatArray
    graph: PointGraph | None
    fallback: bool
    per_metre_min: float

    @classmethod
    def build(cls, settlements: gpd.GeoDataFrame, points: gpd.GeoDataFrame, network: RoadNetwork | None,
              method: Literal["straight", "network"], *, fallback: bool, walk_speed_kmh: float) -> _PairCosts:
        s_xy, p_xy = point_coordinates(settlements, "settlements"), point_coordinates(points, "service_points")
        graph = network.attach(np.vstack([s_xy, p_xy])) if method == "network" and network is not None else None
        return cls(s_xy, p_xy, graph, fallback, 1.0 / metres_per_minute(walk_speed_kmh))

    def from_points(self, points: IntArray, settlements: IntArray, std: FacilityStandard) -> FloatArray:
        """(points, settlements) cost in the standard's unit."""
        n = len(self.settlement_xy)
        return self._costs(n + points, settlements, self.point_xy[points], self.settlement_xy[settlements], std)

    def between(self, sites: IntArray, settlements: IntArray, std: FacilityStandard) -> FloatArray:
        """(sites, settlements) cost between settlements, searched only up to the threshold."""
        return self._costs(sites, settlements, self.settlement_xy[sites], self.settlement_xy[settlements], std,
                           limit=std.limit)

    def _costs(self, src: IntArray, dst: IntArray, src_xy: FloatArray, dst_xy: FloatArray, std: FacilityStandard,
               limit: float | None = None) -> FloatArray:
        straight = cdist(src_xy, dst_xy) if len(src_xy) and len(dst_xy) else np.empty((len(src_xy), len(dst_xy)))
        straight = straight if std.weight == "length" else straight * self.per_metre_min
        if self.graph is None:
            return straight
        cost = self.graph.cost_matrix(src, dst, weight=std.weight, limit=limit)
        if self.fallback:
            off = ~self.graph.has_access[src][:, None] | ~self.graph.has_access[dst][None, :]
            cost = np.where(off, straight, cost)
        return cost


@dataclass(frozen=True, eq=False)
class _Diagnosis:
    """What the diagnosis of every village shares: costs, people, codes, rivers and the rules."""

    costs: _PairCosts
    pops: FloatArray
    codes: npt.NDArray[np.object_]
    kinds: npt.NDArray[np.object_]
    rivers: shapely.Geometry | None
    centre: FacilityStandard
    station: FacilityStandard
    target_share: float
    min_side_population: int

    def diagnose(self, village: pd.Series, area: shapely.Geometry | None, home: IntArray,
                 points: IntArray) -> OnePlusN:
        """The diagnosis of one village from its settlements (``home``) and service points (``points``)."""
        centres = points[self.kinds[points] == "centre"]
        stations = points[self.kinds[points] == "agency_station"]
        pop = self.pops[home]
        by_centre = _within(self.costs.from_points(centres, home, self.centre), self.centre.limit)
        by_all = by_centre | _within(self.costs.from_points(stations, home, self.station), self.station.limit)
        sides = _river_sides(area, self.rivers, self.costs.settlement_xy[home], pop, self.costs.point_xy[points],
                             self.min_side_population)
        centre_site, sites, after = self._suggest(home, by_all, pop, sides.unserved, has_centre=len(centres) > 0)
        return OnePlusN(
            village_code=str(village["code"]), name=str(village.get("name", "")), kind=str(village.get("kind", "")),
            settlements=len(home), population=round(pop.sum()), has_centre=len(centres) > 0,
            stations=len(stations), share_centre=_share(pop, by_centre), share_all=_share(pop, by_all),
            river_split=sides.split, river_sides=sides.count, sides_without_service=len(sides.unserved),
            stations_needed=len(sites),
            suggested_centre=None if centre_site is None else str(self.codes[centre_site]),
            suggested_sites=tuple(str(self.codes[i]) for i in sites), share_with_suggested=_share(pop, after),
            verdict=_verdict(len(centres) > 0, len(sites)),
        )

    def _suggest(self, home: IntArray, covered: BoolArray, pop: FloatArray, unserved_sides: Sequence[IntArray],
                 *, has_centre: bool) -> tuple[int | None, list[int], BoolArray]:
        """Sites for a missing centre and for new stations (positions in the settlements).

        A missing centre goes where it reaches most people. Then each populated river side without a service
        point whose people are not all covered gets a station, at the settlement of that side reaching most
        uncovered people (the notice's reason for 1+N: the river). Then stations are added greedily, each
        where it brings the most uncovered people within the station threshold, until ``target_share`` is
        met or no settlement helps (the rest is out of reach).
        """
        covered = covered.copy()
        centre_site = None
        if not has_centre and len(home):
            reach = self.costs.between(home, home, self.centre) <= self.centre.limit
            best = int(np.argmax(reach @ pop))
            centre_site = int(home[best])
            covered |= reach[best]
        target = self.target_share * pop.sum()
        sides = [side for side in unserved_sides if not covered[side].all()]
        sites: list[int] = []
        if pop[covered].sum() >= target and not sides:
            return centre_site, sites, covered
        reach = self.costs.between(home, home, self.station) <= self.station.limit
        for side in sides:
            best = int(side[np.argmax(reach[side][:, ~covered] @ pop[~covered])])
            sites.append(int(home[best]))
            covered |= reach[best]
        while pop[covered].sum() < target:
            gain = reach[:, ~covered] @ pop[~covered]
            best = int(np.argmax(gain))
            if gain[best] <= 0:
                break
            sites.append(int(home[best]))
            covered |= reach[best]
        return centre_site, sites, covered


def _within(cost: FloatArray, limit: float) -> BoolArray:
    """Settlements (columns) within ``limit`` of any row."""
    return np.asarray((cost <= limit).any(axis=0)) if cost.shape[0] else np.zeros(cost.shape[1], dtype=bool)


def _share(pop: FloatArray, covered: BoolArray) -> float:
    total = pop.sum()
    return float(pop[covered].sum() / total) if total > 0 else float("nan")


def _verdict(has_centre: bool, needed: int) -> str:
    stations = f"{needed} station{'s' if needed > 1 else ''}"
    if has_centre:
        return f"needs {stations}" if needed else "adequate"
    return f"needs a centre and {stations}" if needed else "needs a centre"


@dataclass(frozen=True)
class _Sides:
    """How rivers cut a village: split or not, populated sides, and the settlements of the unserved ones."""

    split: bool
    count: int
    unserved: tuple[IntArray, ...]


def _river_sides(area: shapely.Geometry | None, rivers: shapely.Geometry | None, home_xy: FloatArray,
                 pop: FloatArray, points_xy: FloatArray, min_population: int) -> _Sides:
    """Cut the village's area by the river lines, part by part, and place its settlements and points.

    Each settlement and service point belongs to the nearest piece (points exactly on a river line go to
    either bank). ``unserved`` holds, per populated piece without a service point, the positions (in
    ``home_xy``) of its settlements.
    """
    if area is None or area.is_empty:
        return _Sides(False, 1, ())
    pieces: list[shapely.Geometry] = []
    part_of: list[int] = []
    for k, part in enumerate(shapely.get_parts(area)):
        cut = list(split(part, rivers).geoms) if rivers is not None and part.intersects(rivers) else [part]
        pieces += cut
        part_of += [k] * len(cut)
    tree = shapely.STRtree(np.asarray(pieces, dtype=object))
    side_of = _nearest_piece(tree, home_xy)
    populated = np.bincount(side_of, weights=pop, minlength=len(pieces)) >= max(min_population, 1e-9)
    served = np.zeros(len(pieces), dtype=bool)
    served[_nearest_piece(tree, points_xy)] = True
    per_part = np.bincount(np.asarray(part_of)[populated], minlength=len(pieces))
    unserved = tuple(np.flatnonzero(side_of == side) for side in np.flatnonzero(populated & ~served))
    return _Sides(bool(np.any(per_part >= 2)), max(int(populated.sum()), 1), unserved)


def _nearest_piece(tree: shapely.STRtree, xy: FloatArray) -> IntArray:
    if not len(xy):
        return np.empty(0, dtype=np.int64)
    (which, piece) = tree.query_nearest(shapely.points(xy), all_matches=False)
    out = np.empty(len(xy), dtype=np.int64)
    out[which] = piece
    return out
