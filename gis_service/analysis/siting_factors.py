"""The raw measurements behind the siting factors: people within reach, distances, road access, areas.

Everything is measured once for all assets and uses, with arrays: one road graph with the assets, the
settlements, the existing facilities and the town centre attached; one Dijkstra per asset (``cost_matrix``)
per measure (metres, minutes); one multi-source Dijkstra per kind of existing facility. Points that cannot
reach the network are measured in a straight line (as the coverage analysis does); without a network
everything is a straight line. Who is already covered comes from the coverage analysis itself
(``gis_service.analysis.coverage.coverage``), so "coverage gain" means the same thing in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial.distance import cdist

from gis_service.analysis.coverage import coverage
from gis_service.analysis.network import (
    WALK_SPEED_KMH,
    BoolArray,
    FloatArray,
    PointGraph,
    RoadNetwork,
    metres_per_minute,
    point_coordinates,
)
from gis_service.analysis.siting_uses import UseProfile
from gis_service.analysis.standards import FacilityStandard

# Planning zones that stand in for the layers the town lacks: scenic areas (forest, water, the ecological red
# line) and the industrial / town area (the town development boundary).
SCENIC_ZONES = ("forest", "water", "ecological_redline")
INDUSTRIAL_ZONES = ("development_boundary",)


@dataclass(frozen=True, eq=False)
class Reach:
    """Who one asset would serve for one use: settlements within reach and whether they are covered already.

    Attributes
    ----------
    within
        (assets, settlements) True where the settlement is within the standard's reach of the asset.
    demand
        (settlements,) the standard's demand of each settlement.
    covered
        (settlements,) already covered by an existing facility of the kind (the coverage analysis).
    cost
        (assets, settlements) the cost in the standard's unit (metres or minutes; ``inf`` beyond reach).
    """

    within: BoolArray
    demand: FloatArray
    covered: BoolArray
    cost: FloatArray


@dataclass(frozen=True, eq=False)
class Measurements:
    """Raw values per asset (and per use where they depend on it), in input order.

    Attributes
    ----------
    reach
        Use code → :class:`Reach` for the uses with a standard.
    nearest_same_kind
        Use code → (assets,) cost to the nearest existing facility of the kind (metres or minutes, ``inf``
        when there is none or it cannot be reached).
    road_class, road_m
        Class of the nearest road and the straight distance to it (``None`` / ``inf`` without roads).
    centre_m, scenic_m, industrial_m
        Distance to the town centre (along roads), to the nearest scenic zone and to the development
        boundary (straight line; 0 inside); ``nan`` when there is no centre or no such zone.
    floor_area, land_area
        From the assets (``nan`` when not recorded).
    condition, category
        ``building_condition`` and ``category`` codes (``None`` when not recorded).
    settlement_codes
        The settlements' codes (positions in ``Reach`` arrays).
    method
        ``"network"`` or ``"straight"``.
    """

    reach: Mapping[str, Reach]
    nearest_same_kind: Mapping[str, FloatArray]
    road_class: npt.NDArray[np.object_]
    road_m: FloatArray
    centre_m: FloatArray
    scenic_m: FloatArray
    industrial_m: FloatArray
    floor_area: FloatArray
    land_area: FloatArray
    condition: npt.NDArray[np.object_]
    category: npt.NDArray[np.object_]
    settlement_codes: npt.NDArray[np.object_]
    method: str


@dataclass(frozen=True)
class SitingInputs:
    """The layers a siting reads, all in one projected CRS in metres (EPSG:4544).

    ``facilities`` maps a layer name (``service_points``, ``schools``, ``facilities``) to its frame: the
    existing facilities of each use are ``standard.select(facilities[standard.layer])``.
    """

    assets: gpd.GeoDataFrame
    settlements: gpd.GeoDataFrame
    facilities: Mapping[str, gpd.GeoDataFrame]
    roads: gpd.GeoDataFrame | None = None
    zones: gpd.GeoDataFrame | None = None
    centre: shapely.Point | None = None


def measure(inputs: SitingInputs, uses: Sequence[UseProfile], network: RoadNetwork | None) -> Measurements:
    """Measure every raw factor for ``uses`` (see the module's notes for how distances are taken)."""
    assets, settlements = inputs.assets, inputs.settlements
    asset_xy = point_coordinates(assets, "assets")
    settle_xy = point_coordinates(settlements, "settlements")
    served = [u for u in uses if u.standard is not None]
    existing = {u.code: _existing(inputs.facilities, u.standard) for u in served if u.standard is not None}
    geo = _Geometry.build(network, asset_xy, settle_xy, existing, inputs.centre)
    reach: dict[str, Reach] = {}
    nearest: dict[str, FloatArray] = {}
    for use in served:
        assert use.standard is not None
        reach[use.code] = _reach(geo, use.standard, settlements, existing[use.code], network)
        nearest[use.code] = geo.nearest_existing(use.code, use.standard)
    road_class, road_m = _nearest_road(asset_xy, inputs.roads)
    return Measurements(
        reach=reach, nearest_same_kind=nearest, road_class=road_class, road_m=road_m, centre_m=geo.centre_m(),
        scenic_m=_zone_distance(asset_xy, inputs.zones, SCENIC_ZONES),
        industrial_m=_zone_distance(asset_xy, inputs.zones, INDUSTRIAL_ZONES),
        floor_area=_numbers(assets, "floor_area"), land_area=_numbers(assets, "land_area"),
        condition=_codes(assets, "building_condition"), category=_codes(assets, "category"),
        settlement_codes=_settlement_codes(settlements), method="network" if geo.graph is not None else "straight")


def _existing(layers: Mapping[str, gpd.GeoDataFrame], standard: FacilityStandard) -> gpd.GeoDataFrame:
    """The existing facilities of a standard (none when its layer is missing or it names no kinds)."""
    layer = layers.get(standard.layer)
    if layer is None or not standard.kinds or layer.empty:
        return gpd.GeoDataFrame({"code": []}, geometry=gpd.GeoSeries([], crs=None))
    return standard.select(layer)


@dataclass(frozen=True, eq=False)
class _Geometry:
    """The one graph every network measure is read from, and the straight-line fallbacks."""

    graph: PointGraph | None
    asset_xy: FloatArray
    settle_xy: FloatArray
    facility_xy: Mapping[str, FloatArray]
    facility_at: Mapping[str, npt.NDArray[np.int64]]
    centre_xy: FloatArray | None
    centre_at: int

    @classmethod
    def build(cls, network: RoadNetwork | None, asset_xy: FloatArray, settle_xy: FloatArray,
              existing: Mapping[str, gpd.GeoDataFrame], centre: shapely.Point | None) -> _Geometry:
        facility_xy = {code: point_coordinates(frame, f"existing facilities of {code}") if len(frame)
                       else np.empty((0, 2)) for code, frame in existing.items()}
        centre_xy = None if centre is None else np.array([[centre.x, centre.y]])
        blocks = [asset_xy, settle_xy, *facility_xy.values(), *([centre_xy] if centre_xy is not None else [])]
        starts = np.cumsum([0, *(len(b) for b in blocks)])
        facility_at = {code: np.arange(starts[2 + i], starts[3 + i]) for i, code in enumerate(facility_xy)}
        has_roads = network is not None and network.n_edges > 0
        graph = network.attach(np.vstack(blocks)) if has_roads and network is not None else None
        return cls(graph, asset_xy, settle_xy, facility_xy, facility_at, centre_xy, int(starts[-1]) - 1)

    @property
    def n_assets(self) -> int:
        return len(self.asset_xy)

    def access(self, positions: npt.NDArray[np.int64]) -> BoolArray:
        if self.graph is None:
            return np.zeros(len(positions), dtype=bool)
        return np.asarray(self.graph.has_access[positions])

    def asset_to_settlements(self, standard: FacilityStandard) -> FloatArray:
        """Cost from every asset to every settlement in the standard's unit, up to its limit."""
        straight = cdist(self.asset_xy, self.settle_xy)
        straight = straight if standard.metres is not None else straight / metres_per_minute(WALK_SPEED_KMH)
        if self.graph is None:
            return np.where(straight <= standard.limit, straight, np.inf)
        n_a, n_s = len(self.asset_xy), len(self.settle_xy)
        settle_at = np.arange(n_a, n_a + n_s)
        cost = self.graph.cost_matrix(np.arange(n_a), settle_at, weight=standard.weight, limit=standard.limit)
        both = self.access(np.arange(n_a))[:, None] & self.access(settle_at)[None, :]
        cost = np.where(both, cost, straight)
        return np.where(cost <= standard.limit, cost, np.inf)

    def nearest_existing(self, code: str, standard: FacilityStandard) -> FloatArray:
        """Cost from every asset to the nearest existing facility of the use (``inf`` when none)."""
        xy = self.facility_xy[code]
        if not len(xy):
            return np.full(self.n_assets, np.inf)
        straight = cdist(self.asset_xy, xy).min(axis=1)
        straight = straight if standard.metres is not None else straight / metres_per_minute(WALK_SPEED_KMH)
        if self.graph is None:
            return straight
        found = self.graph.nearest(self.facility_at[code], weight=standard.weight)
        along = found.metres if standard.metres is not None else found.minutes
        return np.where(self.access(np.arange(self.n_assets)), along[: self.n_assets], straight)

    def centre_m(self) -> FloatArray:
        """Distance from every asset to the centre along roads (straight without access); ``nan`` without
        a centre."""
        if self.centre_xy is None:
            return np.full(self.n_assets, np.nan)
        straight = cdist(self.asset_xy, self.centre_xy)[:, 0]
        if self.graph is None:
            return straight
        along = self.graph.cost_matrix([self.centre_at], np.arange(self.n_assets))[0]
        ok = self.access(np.arange(self.n_assets)) & bool(self.graph.has_access[self.centre_at])
        return np.where(ok, along, straight)


def _reach(geo: _Geometry, standard: FacilityStandard, settlements: gpd.GeoDataFrame,
           existing: gpd.GeoDataFrame, network: RoadNetwork | None) -> Reach:
    if standard.demand not in settlements:
        raise ValueError(f"settlements lack the field {standard.demand!r} that {standard.key} counts as demand")
    demand = pd.to_numeric(settlements[standard.demand], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    covered = np.zeros(len(settlements), dtype=bool)
    if len(existing):
        frame = settlements.assign(code=settlements.get("code", pd.Series(range(len(settlements)))),
                                   village_code=settlements.get("village_code", ""))
        report = coverage(frame, existing.set_crs(settlements.crs, allow_override=True), standard,
                          network=network if geo.graph is not None else None)
        covered = np.asarray(report.settlements.covered, dtype=bool)
    cost = geo.asset_to_settlements(standard)
    return Reach(within=np.isfinite(cost), demand=demand, covered=covered, cost=cost)


def _nearest_road(asset_xy: FloatArray, roads: gpd.GeoDataFrame | None) -> tuple[npt.NDArray[np.object_], FloatArray]:
    """Class of each asset's nearest road and the straight distance to it."""
    n = len(asset_xy)
    if roads is None or roads.empty:
        return np.full(n, None, dtype=object), np.full(n, np.inf)
    geoms = np.asarray(roads.geometry.values, dtype=object)
    (which, road), dist = shapely.STRtree(geoms).query_nearest(shapely.points(asset_xy), return_distance=True,
                                                                all_matches=False)
    classes = roads["road_class"].to_numpy(dtype=object) if "road_class" in roads else np.full(len(roads), None)
    road_class = np.full(n, None, dtype=object)
    road_m = np.full(n, np.inf)
    road_class[which] = classes[road]
    road_m[which] = dist
    return road_class, road_m


def _zone_distance(asset_xy: FloatArray, zones: gpd.GeoDataFrame | None, types: tuple[str, ...]) -> FloatArray:
    """Straight distance to the nearest zone of ``types`` (0 inside); ``nan`` when there is none."""
    if zones is None or zones.empty or "zone_type" not in zones:
        return np.full(len(asset_xy), np.nan)
    chosen = np.asarray(zones.geometry.values[zones["zone_type"].isin(types).to_numpy()], dtype=object)
    if not len(chosen):
        return np.full(len(asset_xy), np.nan)
    (which, _), dist = shapely.STRtree(chosen).query_nearest(shapely.points(asset_xy), return_distance=True,
                                                             all_matches=False)
    out = np.full(len(asset_xy), np.nan)
    out[which] = dist
    return out


def _settlement_codes(settlements: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    if "code" in settlements:
        return settlements["code"].astype(str).to_numpy(dtype=object)
    return np.array([str(i) for i in range(len(settlements))], dtype=object)


def _numbers(frame: gpd.GeoDataFrame, column: str) -> FloatArray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _codes(frame: gpd.GeoDataFrame, column: str) -> npt.NDArray[np.object_]:
    if column not in frame:
        return np.full(len(frame), None, dtype=object)
    return np.array([v if isinstance(v, str) and v else None for v in frame[column]], dtype=object)
