"""A synthetic province for the batch coverage: towns as grid cells, each town generated on its own.

Town ``i`` (0-based) is the square cell in column ``i % columns`` and row ``i // columns`` of a grid of
``town_side_m`` cells (12.5 km: Sichuan's 486,000 km² over about 3,100 towns is 157 km² a town). Its
settlements cluster around ``villages_per_town`` village centres (normal spread of an eighth of the side,
kept inside the cell) with 20-300 people each; its facilities are uniform in the cell. Every town draws
from its own seeded generator (``numpy.random.default_rng([seed, kind, i])``), so a Dask worker makes the
towns of its task itself, in any order, and gets the same points as the client would: ten million
settlements never pass through the client.

Town codes are 9-digit NBS codes in province 51: ``51`` + a 4-digit county number (``towns_per_county``
towns each) + a 3-digit town number, e.g. ``510001001``.

Examples
--------
>>> spec = ProvinceSpec(towns=4, settlements=10, facilities=4, seed=1)
>>> town_codes(spec).tolist()
[510001001, 510001002, 510001003, 510001004]
>>> [len(town_settlements(spec, i).xy) for i in range(4)]
[3, 3, 2, 2]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from gis_service.analysis.batch import (
    BatchReport,
    BatchSettlements,
    FacilityIndex,
    SummaryRow,
    TownPartition,
    cover_town,
    search_radius,
    summary_frame,
)
from gis_service.analysis.network import FloatArray, IntArray

__all__ = ["ProvinceSpec", "province_facilities", "province_settlements", "summarise_synthetic_towns",
           "synthetic_coverage", "town_code", "town_codes", "town_facilities", "town_settlements"]

SETTLEMENT_STREAM, FACILITY_STREAM = 0, 1


@dataclass(frozen=True)
class ProvinceSpec:
    """What to generate.

    Attributes
    ----------
    towns, settlements, facilities
        Counts for the whole province (settlements and facilities are shared out evenly over the towns).
    seed
        Seed of every town's generator.
    town_side_m
        Side of a town's square cell in metres.
    villages_per_town
        Village centres the settlements cluster around (Sichuan: about 26,000 villages / 3,100 towns).
    towns_per_county
        Towns per county, for the county codes.
    origin
        South-west corner of town 0 in EPSG:4544 metres.
    """

    towns: int
    settlements: int
    facilities: int
    seed: int = 20_260_526
    town_side_m: float = 12_500.0
    villages_per_town: int = 8
    towns_per_county: int = 20
    origin: tuple[float, float] = (200_000.0, 2_900_000.0)

    def __post_init__(self) -> None:
        if self.towns < 1 or self.settlements < 0 or self.facilities < 0:
            raise ValueError("a province needs at least one town and no negative counts")
        if self.towns_per_county < 1 or self.towns_per_county > 999 or self.villages_per_town < 1:
            raise ValueError("towns_per_county must be 1-999 and villages_per_town at least 1")
        if math.ceil(self.towns / self.towns_per_county) > 9_999:
            raise ValueError("more counties than 4-digit county numbers allow")

    @property
    def columns(self) -> int:
        """Towns per row of the grid (a near-square province)."""
        return math.ceil(math.sqrt(self.towns))

    def cell(self, town: int) -> FloatArray:
        """South-west corner of town ``town``'s cell."""
        column, row = town % self.columns, town // self.columns
        return np.asarray(self.origin) + self.town_side_m * np.array([column, row], dtype=float)


def _count(total: int, towns: int, town: int) -> int:
    """Town ``town``'s share of ``total``: even, the remainder going to the first towns."""
    base, extra = divmod(total, towns)
    return base + (1 if town < extra else 0)


def _offset(total: int, towns: int, town: int) -> int:
    """Position of town ``town``'s first item when the towns' items are laid end to end."""
    base, extra = divmod(total, towns)
    return town * base + min(town, extra)


def town_codes(spec: ProvinceSpec) -> IntArray:
    """The 9-digit codes of all towns, in town order."""
    towns = np.arange(spec.towns, dtype=np.int64)
    county = towns // spec.towns_per_county + 1
    return 510_000_000 + county * 1_000 + towns % spec.towns_per_county + 1


def town_code(spec: ProvinceSpec, town: int) -> int:
    """The 9-digit code of town ``town`` (as ``town_codes(spec)[town]``)."""
    county = town // spec.towns_per_county + 1
    return 510_000_000 + county * 1_000 + town % spec.towns_per_county + 1


def town_settlements(spec: ProvinceSpec, town: int) -> TownPartition:
    """Town ``town``'s settlements, with their positions in the province (towns laid end to end)."""
    n = _count(spec.settlements, spec.towns, town)
    rng = np.random.default_rng([spec.seed, SETTLEMENT_STREAM, town])
    corner, side = spec.cell(town), spec.town_side_m
    centres = corner + rng.uniform(0.0, side, (spec.villages_per_town, 2))
    xy = centres[rng.integers(0, spec.villages_per_town, n)] + rng.normal(0.0, side / 8.0, (n, 2))
    # Inside the cell, so a town's settlements never mingle with its neighbours' (its facilities may serve them).
    xy = np.clip(xy, corner, corner + side)
    demand = rng.integers(20, 301, n).astype(float)
    rows = _offset(spec.settlements, spec.towns, town) + np.arange(n, dtype=np.int64)
    return TownPartition(town_code(spec, town), rows, xy, demand)


def town_facilities(spec: ProvinceSpec, town: int) -> FloatArray:
    """Town ``town``'s facilities, uniform in its cell."""
    m = _count(spec.facilities, spec.towns, town)
    rng = np.random.default_rng([spec.seed, FACILITY_STREAM, town])
    return spec.cell(town) + rng.uniform(0.0, spec.town_side_m, (m, 2))


def province_facilities(spec: ProvinceSpec) -> FloatArray:
    """All facilities, town after town (100,000 are 1.6 MB: the client makes them and sends them once)."""
    return np.concatenate([town_facilities(spec, t) for t in range(spec.towns)]).reshape(-1, 2)


def province_settlements(spec: ProvinceSpec) -> BatchSettlements:
    """All settlements in one batch (materialised: for tests and in-memory runs, not for ten million)."""
    parts = [town_settlements(spec, t) for t in range(spec.towns)]
    return BatchSettlements(np.concatenate([p.xy for p in parts]).reshape(-1, 2),
                            np.concatenate([np.full(len(p.rows), p.town_code, dtype=np.int64) for p in parts]),
                            np.concatenate([p.demand for p in parts]))


def summarise_synthetic_towns(towns: Iterable[int], spec: ProvinceSpec, facilities: FacilityIndex,
                              threshold_m: float, search_m: float | None = None) -> list[SummaryRow]:
    """Generate the given towns and summarise their coverage (one Dask task, or the single-process loop)."""
    return [cover_town(town_settlements(spec, t), facilities, threshold_m, search_m).summary() for t in towns]


def synthetic_coverage(spec: ProvinceSpec, threshold_m: float, *, search_m: float | None = None,
                       facilities: FacilityIndex | None = None) -> BatchReport:
    """Town and county summaries of the synthetic province in this process, one town at a time.

    Parameters
    ----------
    spec
        The province.
    threshold_m, search_m
        As in ``gis_service.analysis.batch.cover_town``.
    facilities
        The province's facilities, indexed (default: built from ``spec``).

    Returns
    -------
    BatchReport
        Without per-settlement results (only one town's settlements are in memory at a time).
    """
    search = search_radius(threshold_m, search_m)
    index = facilities or FacilityIndex.build(province_facilities(spec))
    rows = summarise_synthetic_towns(range(spec.towns), spec, index, threshold_m, search)
    return BatchReport(threshold_m, search, summary_frame(rows), None)
