"""Facility standards: which facilities provide a service, whose demand they serve, and within what distance
or walking time a settlement counts as covered.

Thresholds and their sources
----------------------------
The defaults are the project's ("coverage" issue); the ``source`` of each standard says where the figure
comes from and whether it is a rule, a policy goal or a planning convention. The town's notice of 19 August
2021 on the 28 follow-up work plans (plan 2, 盘活用好镇村公有资产, §二(五)) sets the "1+N" model — one
central position plus N convenience agency stations for villages enlarged by the merger or split by rivers
and hills — but names no distance. Change a
threshold with ``dataclasses.replace(FACILITY_THRESHOLDS["centre"], metres=2500.0)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import geopandas as gpd

from gis_service.analysis.network import Weight


@dataclass(frozen=True)
class FacilityStandard:
    """Which facilities provide a service, whom they serve and how far they reach.

    Attributes
    ----------
    key
        Name in ``FACILITY_THRESHOLDS``.
    label
        Chinese name shown to users.
    layer
        Layer holding the facilities.
    field
        Field of that layer that tells the facility's kind.
    kinds
        Values of ``field`` that provide the service.
    demand
        Field of ``settlements`` counted as demand: ``population``, ``elderly`` or ``children``.
    metres
        Covered within this distance (exactly one of ``metres`` and ``minutes`` is set).
    minutes
        Covered within this travel time.
    open_only
        Only facilities whose ``status`` is ``"open"`` (schools).
    source
        Where the threshold comes from, and what kind of figure it is.
    """

    key: str
    label: str
    layer: str
    field: str
    kinds: tuple[str, ...]
    demand: str
    metres: float | None = None
    minutes: float | None = None
    open_only: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        given = [x for x in (self.metres, self.minutes) if x is not None]
        if len(given) != 1 or given[0] <= 0:
            raise ValueError(f"standard {self.key!r} needs exactly one positive threshold: metres or minutes")

    @property
    def weight(self) -> Weight:
        """The measure the threshold is in: ``"length"`` or ``"time"``."""
        return "length" if self.metres is not None else "time"

    @property
    def limit(self) -> float:
        """The threshold in its own unit (metres or minutes)."""
        value = self.metres if self.metres is not None else self.minutes
        assert value is not None  # __post_init__ guarantees one of them
        return float(value)

    def select(self, layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The rows of ``layer`` that provide this service (by ``field`` and, for schools, ``status``).

        Raises
        ------
        ValueError
            If ``layer`` lacks ``field`` (or ``status`` when ``open_only``).
        """
        needed = [self.field, *(["status"] if self.open_only else [])]
        missing = [name for name in needed if name not in layer]
        if missing:
            raise ValueError(f"{self.layer} layer lacks field(s) {missing} needed by standard {self.key!r}")
        keep = layer[self.field].isin(self.kinds)
        if self.open_only:
            keep &= layer["status"] == "open"
        return layer[keep]


_ONE_PLUS_N = ("town notice (2021-08-19), plan 2 §二(五), sets the 1+N model for villages enlarged by the merger "
               "or split by rivers and hills, without a distance")
FACILITY_THRESHOLDS: Mapping[str, FacilityStandard] = MappingProxyType({
    "centre": FacilityStandard(
        "centre", "中心阵地", "service_points", "kind", ("centre",), "population", metres=3000.0,
        source=f"Project default (coverage issue), a planning convention, not a rule: the {_ONE_PLUS_N}."),
    "agency_station": FacilityStandard(
        "agency_station", "便民服务代办站", "service_points", "kind", ("centre", "agency_station"), "population",
        metres=1500.0,
        source=f"Project default (coverage issue), a planning convention, not a rule: the {_ONE_PLUS_N}. "
               "A central position also does what a station does, so centres count here."),
    "primary_school": FacilityStandard(
        "primary_school", "小学", "schools", "level", ("primary", "nine_year"), "children", metres=2500.0,
        open_only=True,
        source="国务院办公厅《关于全面加强乡村小规模学校和乡镇寄宿制学校建设的指导意见》(国办发〔2018〕27号): "
               "pupils of grades 1-3 should in principle walk to school, the journey generally under half an "
               "hour; 30 min at 5 km/h is 2.5 km. A guideline, not a hard limit. GB 50180-2018's urban "
               "radius (500 m) is for towns and cities. Demand is children aged 0-14 (no finer age data)."),
    "kindergarten": FacilityStandard(
        "kindergarten", "幼儿园", "schools", "level", ("kindergarten",), "children", metres=1000.0, open_only=True,
        source="Planning convention for villages: 1 km, the outer edge of the 15-minute walking life circle of "
               "GB 50180-2018《城市居住区规划设计标准》(800-1,000 m). That standard puts urban kindergartens "
               "in the 5-minute circle (300 m); no national figure exists for villages. Demand is children "
               "aged 0-14 (no finer age data)."),
    "village_clinic": FacilityStandard(
        "village_clinic", "村卫生室", "facilities", "kind", ("village_clinic", "health_centre"), "population",
        minutes=15.0,
        source="Policy goal of a '15分钟医疗卫生服务圈' (15-minute health-service circle) restated by "
               "国家卫生健康委 (e.g. its 2022 press conference on county health services); a goal, not a "
               "legal limit, and it names no travel mode: 15 minutes on foot is this project's reading. The "
               "township health centre also serves as the clinic nearby, so it counts."),
    "elderly_day_care": FacilityStandard(
        "elderly_day_care", "日间照料中心", "facilities", "kind", ("elderly_day_care",), "elderly", metres=1000.0,
        source="Planning convention: 1 km, the outer edge of the 15-minute walking life circle of GB 50180-2018 "
               "(800-1,000 m); no national figure exists for villages. Demand is people aged 60 and over."),
})


def get_standard(standard: FacilityStandard | str) -> FacilityStandard:
    """A standard, looked up by key in ``FACILITY_THRESHOLDS`` when given as a string."""
    if isinstance(standard, FacilityStandard):
        return standard
    try:
        return FACILITY_THRESHOLDS[standard]
    except KeyError:
        raise ValueError(f"unknown facility standard {standard!r}; known: {sorted(FACILITY_THRESHOLDS)}") from None
