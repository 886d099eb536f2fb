"""What each target use of a revitalised asset needs, and the default weights of the siting factors.

The uses are codes of the ``target_use`` code list. Each :class:`UseProfile` says which assets can take the use
(buildings, or land and water), whom it serves (a :class:`FacilityStandard`: demand field, reach and the existing
facilities of that kind), how much floor or land area it needs, and how much each factor matters for it
(``relevance``: 0 = not considered, 1 = normal, 2 = decisive). The weights of :class:`SitingWeights` apply to
every use; a use's score is ``Σ w·r·x / Σ w·r`` over its relevant factors (see ``gis_service.analysis.siting``).

Sources and assumptions
-----------------------
- Reach and demand: the coverage standards of ``gis_service.analysis.standards`` (agency station 1.5 km,
  kindergarten 1 km, elderly day care 1 km, village clinic 15 min on foot). A culture room reaches 1 km and a
  left-behind children's home 1.5 km: project assumptions (the 15-minute walking circle of GB 50180-2018 and
  the agency-station reach), not standards.
- Floor areas: a village clinic needs at least 60 m² (《村卫生室管理办法(试行)》, 国卫基层发〔2014〕33号: 业务用房
  面积不少于60平方米); the others are planning conventions of this project (a three-class kindergarten about
  400 m², a small day-care centre 200 m², a workshop or study base 300 m²), meant to be changed per town.
- Policy priority: the notice (plan 2 §二(四)二, §二(五)二) puts public-welfare uses first (优先), industry
  next and market uses last; ``priority`` turns that order into a factor (1.0 / 0.7 / 0.5).
- Former use: the notice names what some buildings suit best (学校闲置资产可改建为研学实践教育基地…幼儿园;
  敬老院…互助养老; 卫生院…卫生服务); ``suits`` lists those categories.
- Unsafe buildings (危房): every use in which people stay or work (all but warehousing and farming) scores 0
  until the building is repaired or rebuilt (《危险房屋鉴定标准》JGJ 125: a C/D-grade building must not be used
  as it is).
- Land uses: idle land, ponds, forest and reservoirs (资源性资产) can only be farmed or leased (§二(五)三:
  集体闲置的土地、林场、堰塘、水库等进行租赁, 四荒四边…种养殖业); they are scored on road access, land area and
  (for lease) nearness to the town centre. Buildings are never scored for farming.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from gis_service.analysis.standards import FACILITY_THRESHOLDS, FacilityStandard

Subject = Literal["building", "land"]

# The factors, in the order they are reported. Each is normalised to 0–1, 1 the better (see siting.py).
FACTORS: tuple[str, ...] = (
    "demand", "coverage_gain", "nearest_same_kind", "road_access", "area", "condition", "centre", "scenic",
    "industrial", "priority", "former_use",
)

# Categories of resource assets (资源性资产): land and water, no building to revitalise.
LAND_CATEGORIES = frozenset({"land", "pond", "forest", "reservoir"})


@dataclass(frozen=True)
class SitingWeights:
    """Weight of each factor, the same for every use (a use's ``relevance`` scales them).

    Defaults: who is served counts most (uncovered demand 3, all demand 1), then the building (condition 1.5,
    area 1) and its access (1); distance to the nearest facility of the kind (1), location (centre, scenic,
    industrial 1 each where relevant), the notice's priority of public welfare (1) and the former use (0.5).
    """

    demand: float = 1.0
    coverage_gain: float = 3.0
    nearest_same_kind: float = 1.0
    road_access: float = 1.0
    area: float = 1.0
    condition: float = 1.5
    centre: float = 1.0
    scenic: float = 1.0
    industrial: float = 1.0
    priority: float = 1.0
    former_use: float = 0.5

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int | float) or not value >= 0 or value == float("inf"):
                raise ValueError(f"weight {item.name} must be a finite number ≥ 0, not {value!r}")

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in FACTORS}


@dataclass(frozen=True)
class UseProfile:
    """What a target use needs and what matters for it.

    Attributes
    ----------
    code
        ``target_use`` code.
    subjects
        Assets that can take the use: buildings, land (resource assets) or both.
    standard
        Whom it serves and within what reach, and which existing facilities are of the same kind; None for
        uses that serve no local demand (workshop, homestay, warehouse, lease, farming).
    demand_half
        Demand within reach at which the demand factors reach 0.5 (they saturate: ``d / (d + demand_half)``).
    min_area_m2
        Floor area (buildings) or land area (land) the use needs; less scores ``area / min_area_m2``.
    priority
        The notice's order: 1.0 public welfare, 0.7 industry, 0.5 market.
    suits
        Asset categories the notice (or common sense) names for this use.
    relevance
        Factor → how much it matters (missing: 0, not considered).
    hosts_people
        People stay or work in it: an unsafe building (危房) cannot take it until repaired (score 0).
    """

    code: str
    subjects: frozenset[Subject]
    standard: FacilityStandard | None
    demand_half: float
    min_area_m2: float
    priority: float
    suits: frozenset[str] = frozenset()
    relevance: Mapping[str, float] = field(default_factory=dict)
    hosts_people: bool = True

    @property
    def needs_building(self) -> bool:
        return self.subjects == frozenset({"building"})

    @property
    def has_existing_kind(self) -> bool:
        """Whether facilities of this kind are recorded somewhere (a layer and kinds)."""
        return self.standard is not None and bool(self.standard.kinds)


_SERVICE = {"demand": 1.0, "coverage_gain": 1.0, "nearest_same_kind": 1.0, "road_access": 1.0, "area": 1.0,
            "condition": 1.0, "priority": 1.0, "former_use": 1.0}
_BUILDING: frozenset[Subject] = frozenset({"building"})
_LAND: frozenset[Subject] = frozenset({"land"})

CULTURE_ROOM = FacilityStandard(
    "culture_room", "文化室", "facilities", "kind", ("culture_room",), "population", metres=1000.0,
    source="Project assumption: the 15-minute walking circle of GB 50180-2018 (800-1,000 m).")
CHILDREN_HOME = FacilityStandard(
    "children_home", "留守儿童之家", "facilities", "kind", (), "children", metres=1500.0,
    source="Project assumption: the agency station's reach. No layer records children's homes yet (no kinds), "
           "so every child counts as not yet served.")


def _profile(code: str, standard: FacilityStandard | None, half: float, min_area: float, priority: float,
             suits: set[str], relevance: Mapping[str, float], subjects: frozenset[Subject] = _BUILDING, *,
             hosts_people: bool = True) -> UseProfile:
    return UseProfile(code, subjects, standard, half, min_area, priority, frozenset(suits),
                      MappingProxyType({k: v for k, v in relevance.items() if v > 0}), hosts_people)


def _local(**relevance: float) -> dict[str, float]:
    """Relevance of a use that serves no local demand (the factors named, nothing else)."""
    return relevance


USE_PROFILES: Mapping[str, UseProfile] = MappingProxyType({p.code: p for p in (
    _profile("agency_station", FACILITY_THRESHOLDS["agency_station"], 1000, 50, 1.0,
             {"village_office", "shop", "culture_room"}, _SERVICE),
    _profile("elderly_day_care", FACILITY_THRESHOLDS["elderly_day_care"], 150, 200, 1.0,
             {"nursing_home", "village_office", "clinic"}, _SERVICE),
    # No children's homes are recorded, so every child is "not yet covered": demand would only repeat the gain.
    _profile("children_home", CHILDREN_HOME, 150, 60, 1.0, {"school", "village_office", "culture_room"},
             {**_SERVICE, "nearest_same_kind": 0.0, "demand": 0.0}),
    _profile("kindergarten", FACILITY_THRESHOLDS["kindergarten"], 90, 400, 1.0, {"school"},
             {**_SERVICE, "condition": 2.0}),
    _profile("clinic", FACILITY_THRESHOLDS["village_clinic"], 1000, 60, 1.0, {"clinic"}, _SERVICE),
    _profile("culture_room", CULTURE_ROOM, 500, 100, 1.0, {"culture_room", "village_office", "school"}, _SERVICE),
    _profile("study_base", None, 0, 300, 1.0, {"school"}, _local(
        scenic=1.0, road_access=1.0, area=1.0, condition=1.0, priority=1.0, former_use=1.0)),
    _profile("workshop", None, 0, 300, 0.7, {"factory", "warehouse", "school"}, _local(
        industrial=2.0, road_access=2.0, area=1.0, condition=1.0, priority=1.0, former_use=1.0)),
    _profile("homestay", None, 0, 150, 0.5, {"village_office", "school"}, _local(
        scenic=2.0, road_access=1.0, area=1.0, condition=1.0, priority=1.0, former_use=1.0)),
    _profile("warehouse", None, 0, 200, 0.7, {"warehouse", "factory"}, _local(
        road_access=2.0, industrial=1.0, area=1.0, condition=0.5, priority=1.0, former_use=1.0), hosts_people=False),
    _profile("lease", None, 0, 50, 0.5, {"shop", "land", "pond", "forest", "reservoir"}, _local(
        centre=2.0, road_access=1.0, area=0.5, condition=1.0, priority=1.0, former_use=1.0), _BUILDING | _LAND),
    _profile("farming", None, 0, 1000, 0.7, {"land", "pond", "forest"}, _local(
        road_access=1.0, area=1.0, priority=1.0, former_use=1.0), _LAND, hosts_people=False),
)})


def subject_of(category: str | None) -> Subject:
    """Whether an asset of ``category`` is land (resource asset) or a building (everything else)."""
    return "land" if category in LAND_CATEGORIES else "building"


def profiles_for(uses: list[str] | tuple[str, ...] | None) -> tuple[UseProfile, ...]:
    """The profiles of ``uses`` (codes), all of them for None; ``ValueError`` names an unknown code."""
    if uses is None:
        return tuple(USE_PROFILES.values())
    unknown = [u for u in uses if u not in USE_PROFILES]
    if unknown:
        raise ValueError(f"unknown use(s) {unknown}; siting scores {', '.join(USE_PROFILES)}")
    return tuple(USE_PROFILES[u] for u in dict.fromkeys(uses))


def saturate(amount: npt.NDArray[np.float64], half: float) -> npt.NDArray[np.float64]:
    """``amount / (amount + half)``: 0 for nothing, 0.5 at ``half``, towards 1 for much more (never above)."""
    return amount / (amount + half) if half > 0 else (amount > 0).astype(float)

