"""Straight-line coverage of a county's or a province's settlements, partitioned by town.

One partition is one town: the town's settlements and every facility that can serve them, wherever it
stands. ``cover_town`` computes a partition with the same KD-tree as the town-level analysis
(``gis_service.analysis.coverage.straight_line_nearest``); ``batch_coverage`` runs the partitions one after
another in this process, ``gis_service.analysis.batch_dask.batch_coverage_dask`` on a Dask cluster. Both
return the same ``BatchReport``: per settlement, per town, per county (the first six digits of the
9-digit NBS town code) and in total.

Why the partitions are exact
----------------------------
A partition searches its settlements' nearest facility only up to ``search_m`` (at least the threshold;
larger to also report how far the near-misses are). A facility within ``search_m`` of a settlement lies,
coordinate by coordinate, within ``search_m`` of it, hence inside the bounding box of the town's
settlements grown by ``search_m``. The partition's facilities are exactly those in that grown box (found
with ``FacilityIndex``, facilities sorted by x: a binary search for the x strip, then a test on y), so a
facility across the town border still serves, and the partition's answer equals a search among all the
facilities of the province. The box is grown by one metre more than ``search_m`` so rounding at the edge
cannot drop a facility; extra facilities never change the result, since only those within ``search_m`` count.

Beyond ``search_m`` a settlement has no nearest facility (index -1, distance ``inf``): that is what makes
the partitions independent. Distances are exact; when two facilities are at exactly the same distance,
which one is named may differ between a partition and a search of everything.

Coordinates
-----------
One projected CRS in metres per batch (EPSG:4544, CGCS2000 3-degree zone at 105°E, for Daying county).
Sichuan spans 97.3-108.6°E, four 3-degree zones (EPSG:4542-4545): one zone for the whole province
stretches distances by up to about 0.7 % at its western edge (10 m on a 1.5 km threshold), so a province
runs one batch per zone, each town in the zone of its centroid, with the facilities of the neighbouring
zone within ``search_m`` reprojected into it (see docs/province.md).

Examples
--------
>>> import numpy as np
>>> homes = BatchSettlements.from_arrays([[9_900, 5_000], [5_000, 5_000], [15_000, 5_000]],
...                                      town_code=[510001001, 510001001, 510001002], demand=[100, 50, 30])
>>> centres = FacilityIndex.build([[10_200, 5_000], [5_000, 5_800]])
>>> report = batch_coverage(homes, centres, threshold_m=1_000)
>>> report.settlements["nearest"].tolist(), report.settlements["covered"].tolist()
([0, 1, -1], [True, True, False])
>>> report.towns["covered_demand"].tolist()
[150.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis_service.analysis.coverage import straight_line_nearest
from gis_service.analysis.network import FloatArray, IntArray, check_projected, point_coordinates

__all__ = ["BatchReport", "BatchSettlements", "FacilityIndex", "TownCoverage", "TownPartition", "aligned", "assemble",
           "search_radius",
           "SummaryRow", "batch_coverage", "cover_town", "cover_towns", "county_code", "partition_by_town",
           "summarise_towns", "summary_frame"]

BoolArray = npt.NDArray[np.bool_]
EDGE_MARGIN_M = 1.0
# code, settlements, uncovered settlements, demand, covered demand, facilities searched
SummaryRow = tuple[int, int, int, float, float, int]
TOWN_COLUMNS = ["town_code", "settlements", "uncovered_settlements", "demand", "covered_demand",
                "facilities_searched"]


def aligned(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """``array`` itself if aligned and C-contiguous, else an aligned C-contiguous copy of it.

    NumPy copies an unaligned array before a binary search (``np.searchsorted``) and buffers it in
    element-wise operations, which for an array searched many times costs far more than one copy.
    """
    if array.flags.aligned and array.flags.c_contiguous:
        return array
    return np.require(array, requirements=("A", "C"))


def county_code(town_code: npt.ArrayLike) -> IntArray:
    """The 6-digit county code of 9-digit NBS town codes (``510923100`` -> ``510923``)."""
    return np.asarray(town_code, dtype=np.int64) // 1000


@dataclass(frozen=True, eq=False)
class BatchSettlements:
    """Settlements of many towns as arrays (a few arrays hold ten million settlements).

    Attributes
    ----------
    xy
        (n, 2) coordinates in metres.
    town_code
        9-digit NBS town code of each settlement: the partition key.
    demand
        People (or other demand) of each settlement.
    """

    xy: FloatArray
    town_code: IntArray
    demand: FloatArray

    def __len__(self) -> int:
        return len(self.xy)

    @classmethod
    def from_arrays(cls, xy: npt.ArrayLike, town_code: npt.ArrayLike,
                    demand: npt.ArrayLike | None = None) -> BatchSettlements:
        """Check and wrap arrays; ``demand`` defaults to 1 per settlement.

        Raises
        ------
        ValueError
            On lengths that differ, non-finite coordinates, town codes that are not 9-digit numbers, or
            negative demand.
        """
        points = np.asarray(xy, dtype=float).reshape(-1, 2)
        towns = np.asarray(town_code, dtype=np.int64).reshape(-1)
        people = np.ones(len(points)) if demand is None else np.asarray(demand, dtype=float).reshape(-1)
        if not len(points) == len(towns) == len(people):
            raise ValueError(f"xy ({len(points)}), town_code ({len(towns)}) and demand ({len(people)}) "
                             "differ in length")
        if not np.isfinite(points).all():
            raise ValueError("settlement coordinates must be finite")
        if len(towns) and (towns.min() < 100_000_000 or towns.max() > 999_999_999):
            raise ValueError("town_code must be 9-digit NBS township codes (e.g. 510923100)")
        if (people < 0).any() or not np.isfinite(people).all():
            raise ValueError("demand must be finite and not negative")
        return cls(points, towns, people)

    @classmethod
    def from_geodataframe(cls, frame: gpd.GeoDataFrame, *, town_field: str = "town_code",
                          demand_field: str | None = "population") -> BatchSettlements:
        """Settlements from a POINT layer in a projected CRS in metres (``demand_field=None``: 1 each)."""
        check_projected(frame.crs, "settlements")
        missing = [f for f in (town_field, demand_field) if f is not None and f not in frame]
        if missing:
            raise ValueError(f"settlements lack field(s) {missing}")
        towns = pd.to_numeric(frame[town_field], errors="raise").to_numpy()
        demand = None if demand_field is None else frame[demand_field].to_numpy(dtype=float)
        return cls.from_arrays(point_coordinates(frame, "settlements"), towns, demand)


@dataclass(frozen=True, eq=False)
class FacilityIndex:
    """Facilities sorted by x, to find those in a box with two binary searches and a test on y.

    Small enough to send to every Dask worker once (100,000 facilities: 2.4 MB).

    Attributes
    ----------
    x, y
        Coordinates in metres, sorted by x.
    order
        Position in the input of each sorted facility: results name facilities by input position.
    """

    x: FloatArray
    y: FloatArray
    order: IntArray

    def __post_init__(self) -> None:
        for name in ("x", "y", "order"):
            object.__setattr__(self, name, aligned(getattr(self, name)))

    def __reduce__(self) -> tuple[type[FacilityIndex], tuple[FloatArray, FloatArray, IntArray]]:
        # Unpickled through __init__, so __post_init__ realigns arrays that arrive on odd addresses: Dask reads
        # the first array of a message into the same buffer as the message's header, at any byte offset, and a
        # binary search on an unaligned array copies the whole array first (1M facilities: 0.35 ms a search
        # instead of 2 µs, two searches a town).
        return (FacilityIndex, (self.x, self.y, self.order))

    def __len__(self) -> int:
        return len(self.x)

    @classmethod
    def build(cls, xy: npt.ArrayLike) -> FacilityIndex:
        """Index (m, 2) facility coordinates in metres."""
        points = np.asarray(xy, dtype=float).reshape(-1, 2)
        if not np.isfinite(points).all():
            raise ValueError("facility coordinates must be finite")
        order = np.argsort(points[:, 0], kind="stable").astype(np.int64)
        return cls(np.ascontiguousarray(points[order, 0]), np.ascontiguousarray(points[order, 1]), order)

    @classmethod
    def from_geodataframe(cls, frame: gpd.GeoDataFrame) -> FacilityIndex:
        """Index a POINT layer in a projected CRS in metres."""
        check_projected(frame.crs, "facilities")
        return cls.build(point_coordinates(frame, "facilities"))

    def within(self, lower: FloatArray, upper: FloatArray) -> IntArray:
        """Sorted positions of the facilities in the box ``lower`` <= (x, y) <= ``upper`` (edges included)."""
        start = int(np.searchsorted(self.x, lower[0], side="left"))
        stop = int(np.searchsorted(self.x, upper[0], side="right"))
        ys = self.y[start:stop]
        return start + np.flatnonzero((ys >= lower[1]) & (ys <= upper[1])).astype(np.int64)


@dataclass(frozen=True, eq=False)
class TownPartition:
    """One town's settlements.

    Attributes
    ----------
    town_code
        The town.
    rows
        Position of each settlement in the batch (results are put back in batch order).
    xy, demand
        The settlements' coordinates and demand.
    """

    town_code: int
    rows: IntArray
    xy: FloatArray
    demand: FloatArray


@dataclass(frozen=True, eq=False)
class TownCoverage:
    """Coverage of one town's settlements.

    Attributes
    ----------
    town_code, rows
        As in the partition.
    nearest
        Input position of the nearest facility within ``search_m``; -1 when there is none.
    distance_m
        Distance to it (``inf`` when none).
    covered
        Within the threshold.
    demand
        The settlements' demand.
    facilities_searched
        Facilities in the partition (its own and those across the border within reach).
    """

    town_code: int
    rows: IntArray
    nearest: IntArray
    distance_m: FloatArray
    covered: BoolArray
    demand: FloatArray
    facilities_searched: int

    def summary(self) -> SummaryRow:
        """A row of ``TOWN_COLUMNS``: code, settlements, uncovered, demand, covered demand, facilities searched."""
        covered_demand = float(self.demand[self.covered].sum())
        return (self.town_code, len(self.rows), int((~self.covered).sum()), float(self.demand.sum()),
                covered_demand, self.facilities_searched)


def partition_by_town(settlements: BatchSettlements) -> list[TownPartition]:
    """Split the settlements by town code, towns in code order, settlements in batch order within a town."""
    order = np.argsort(settlements.town_code, kind="stable").astype(np.int64)
    codes = settlements.town_code[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.empty(0, dtype=np.int64)
    bounds = np.r_[starts, len(codes)]
    return [TownPartition(int(codes[a]), order[a:b], settlements.xy[order[a:b]], settlements.demand[order[a:b]])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def cover_town(partition: TownPartition, facilities: FacilityIndex, threshold_m: float,
               search_m: float | None = None) -> TownCoverage:
    """Coverage of one town by every facility within ``search_m`` of its settlements.

    Parameters
    ----------
    partition
        The town's settlements.
    facilities
        All the facilities of the batch (the town's own and its neighbours').
    threshold_m
        A settlement is covered when its nearest facility is at most this far.
    search_m
        Look this far for the nearest facility (default and minimum: ``threshold_m``).

    Returns
    -------
    TownCoverage
    """
    search = search_radius(threshold_m, search_m)
    if not len(partition.xy):
        return _empty_town(partition.town_code)
    grow = search + EDGE_MARGIN_M
    candidates = facilities.within(partition.xy.min(axis=0) - grow, partition.xy.max(axis=0) + grow)
    cand_xy = np.column_stack([facilities.x[candidates], facilities.y[candidates]])
    # One thread: Dask already runs one task per worker thread; more would only contend for the same cores.
    index, distance = straight_line_nearest(partition.xy, cand_xy, max_distance=np.nextafter(search, np.inf),
                                            workers=1)
    found = (index >= 0) & (distance <= search)
    nearest = np.full(len(index), -1, dtype=np.int64)
    nearest[found] = facilities.order[candidates[index[found]]]
    distance = np.where(found, distance, np.inf)
    return TownCoverage(partition.town_code, partition.rows, nearest, distance,
                        distance <= threshold_m, partition.demand, len(candidates))


def cover_towns(partitions: Iterable[TownPartition], facilities: FacilityIndex, threshold_m: float,
                search_m: float | None = None) -> list[TownCoverage]:
    """``cover_town`` for several towns (one Dask task)."""
    return [cover_town(p, facilities, threshold_m, search_m) for p in partitions]


def summarise_towns(partitions: Iterable[TownPartition], facilities: FacilityIndex, threshold_m: float,
                    search_m: float | None = None) -> list[SummaryRow]:
    """``cover_town`` for several towns, keeping only each town's summary row (cheap to send back)."""
    return [cover_town(p, facilities, threshold_m, search_m).summary() for p in partitions]


def search_radius(threshold_m: float, search_m: float | None) -> float:
    """The search radius: ``search_m``, or ``threshold_m`` without it; ``ValueError`` if below the threshold."""
    if not np.isfinite(threshold_m) or threshold_m < 0:
        raise ValueError(f"threshold_m must be a finite distance >= 0, not {threshold_m}")
    search = threshold_m if search_m is None else search_m
    if not np.isfinite(search) or search < threshold_m:
        raise ValueError(f"search_m ({search}) must be finite and at least threshold_m ({threshold_m})")
    return float(search)


def _empty_town(town_code: int) -> TownCoverage:
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
    return TownCoverage(town_code, empty_i, empty_i, empty_f, np.empty(0, dtype=bool), empty_f, 0)


@dataclass(frozen=True, eq=False)
class BatchReport:
    """Coverage of a batch of towns.

    Attributes
    ----------
    threshold_m, search_m
        Covered within ``threshold_m``; nearest facility looked for up to ``search_m``.
    towns
        One row per town in code order: ``town_code``, ``county_code``, ``settlements``,
        ``uncovered_settlements``, ``demand``, ``covered_demand``, ``share``, ``facilities_searched``.
    settlements
        Per settlement in batch order: ``town_code``, ``nearest`` (input position of the facility, -1 beyond
        ``search_m``), ``distance_m`` (``inf`` beyond it), ``covered``. None when the batch kept summaries only.
    """

    threshold_m: float
    search_m: float
    towns: pd.DataFrame
    settlements: pd.DataFrame | None

    def counties(self) -> pd.DataFrame:
        """Sums per county (6-digit code), in code order."""
        return _sums(self.towns.drop(columns=["town_code"]).groupby("county_code", sort=True)).reset_index()

    def total(self) -> pd.Series:
        """Sums over the whole batch."""
        frame = self.towns.drop(columns=["town_code", "county_code"])
        sums = frame.sum()
        sums["share"] = sums["covered_demand"] / sums["demand"] if sums["demand"] > 0 else float("nan")
        return sums


def _sums(groups: pd.core.groupby.DataFrameGroupBy) -> pd.DataFrame:
    sums = groups.sum()
    sums["share"] = (sums["covered_demand"] / sums["demand"]).where(sums["demand"] > 0)
    return sums


def summary_frame(rows: Sequence[SummaryRow]) -> pd.DataFrame:
    """Town summary rows (``TownCoverage.summary``) as the ``BatchReport.towns`` table."""
    towns = pd.DataFrame(list(rows), columns=TOWN_COLUMNS).sort_values("town_code", kind="stable")
    towns.insert(1, "county_code", county_code(towns["town_code"].to_numpy()))
    towns["share"] = (towns["covered_demand"] / towns["demand"]).where(towns["demand"] > 0)
    return towns.reset_index(drop=True)


def assemble(results: Sequence[TownCoverage], threshold_m: float, search_m: float | None = None, *,
             size: int | None = None) -> BatchReport:
    """Put the towns' results together: town table, and the settlements in batch order when ``size`` is given."""
    search = search_radius(threshold_m, search_m)
    towns = summary_frame([r.summary() for r in results])
    if size is None:
        return BatchReport(threshold_m, search, towns, None)
    frame = {"town_code": np.zeros(size, dtype=np.int64), "nearest": np.full(size, -1, dtype=np.int64),
             "distance_m": np.full(size, np.inf), "covered": np.zeros(size, dtype=bool)}
    for r in results:
        frame["town_code"][r.rows] = r.town_code
        frame["nearest"][r.rows] = r.nearest
        frame["distance_m"][r.rows] = r.distance_m
        frame["covered"][r.rows] = r.covered
    return BatchReport(threshold_m, search, towns, pd.DataFrame(frame))


def batch_coverage(settlements: BatchSettlements, facilities: FacilityIndex, threshold_m: float, *,
                   search_m: float | None = None) -> BatchReport:
    """Coverage of many towns in this process, town by town (the single-process path).

    Parameters
    ----------
    settlements
        The batch's settlements with their town codes.
    facilities
        Every facility that may serve them (include those just outside the batch's towns).
    threshold_m, search_m
        As in ``cover_town``.

    Returns
    -------
    BatchReport
        With per-settlement results.
    """
    search = search_radius(threshold_m, search_m)
    results = cover_towns(partition_by_town(settlements), facilities, threshold_m, search)
    return assemble(results, threshold_m, search, size=len(settlements))
