"""Revitalisation siting: how well each idle asset suits each target use, and a town-level assignment.

Shaped like spopt: :class:`SitingModel` is built ``from_measurements`` (arrays) or ``from_geodataframes``
(layers in EPSG:4544, checked, measured, delegated) and ``solve()`` returns a typed :class:`SitingResult`
with the score, the rank and every factor's value and weighted contribution per (asset, use).
:func:`assign_town` gives each asset at most one use, greedily by marginal gain, so that two neighbouring assets
are not given the same people to serve.

Factors (each 0–1, 1 the better)
--------------------------------
``demand``
    Demand within reach (people, elderly or children of the use's standard, along roads): ``d / (d + h)``
    with ``h`` the use's ``demand_half``. More people → higher.
``coverage_gain``
    The same for the demand within reach that no existing facility of the kind covers yet (the coverage
    analysis): what revitalising the asset would add. More → higher.
``nearest_same_kind``
    Distance to the nearest existing facility of the kind: ``min(c / (2·reach), 1)``; 1 when there is none.
    Nearer → lower (two facilities side by side serve the same people).
``road_access``
    Class of the nearest road (county 1, township 0.85, village 0.6, track 0.25) times how close it is
    (1 within ``access_full_m``, falling linearly to 0 at ``access_zero_m``).
``area``
    Floor area (buildings) or land area (land) over the use's minimum, capped at 1. Too small → lower.
``condition``
    Building condition: good 1, fair 0.75, poor 0.4, unsafe 0 (buildings only).
``centre``, ``scenic``, ``industrial``
    Nearness to the town centre (along roads), to scenic areas and to the town development boundary
    (straight line): ``max(0, 1 - d / zero_m)``. Nearer → higher.
``priority``
    The notice's order of uses (public welfare 1, industry 0.7, market 0.5).
``former_use``
    1 when the asset's category is one the notice names for the use, else 0.

A use's score is ``Σ w·r·x / Σ w·r`` over the factors it considers (weights ``w`` of :class:`SitingWeights`,
relevance ``r`` of its :class:`UseProfile`) whose value is known; a factor that cannot be measured (no
centre, no planning zones, condition not recorded) is left out rather than guessed. A use the plan forbids at
the asset (``permitted`` False) scores 0; one it permits on a condition scores as permitted (the condition is
among its reasons); unknown (None) is not penalised. An unsafe building (危房) scores 0
for every use that hosts people. Uses an asset cannot take (farming
for a building, a kindergarten on a pond) are not scored (``nan``, no rank).

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> assets = gpd.GeoDataFrame({"code": ["A", "B"], "category": ["village_office"] * 2,
...     "floor_area": [300.0, 300.0], "building_condition": ["good", "good"]},
...     geometry=[Point(0, 0), Point(5000, 0)], crs=4544)
>>> homes = gpd.GeoDataFrame({"code": ["s"], "population": [800], "elderly": [200], "children": [50]},
...     geometry=[Point(100, 0)], crs=4544)
>>> result = SitingModel.from_geodataframes(assets, homes, uses=["elderly_day_care"]).solve()
>>> result.score("A", "elderly_day_care") > result.score("B", "elderly_day_care")
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis_service.analysis.network import FloatArray, RoadNetwork, check_projected
from gis_service.analysis.siting_assign import Assignment, TownAssignment, assign_town
from gis_service.analysis.siting_factors import Measurements, SitingInputs, measure
from gis_service.analysis.siting_result import (
    PermittedTable,
    PlanningVerdict,
    SitingParameters,
    SitingResult,
    as_verdict,
)
from gis_service.analysis.siting_uses import FACTORS, SitingWeights, UseProfile, profiles_for, saturate, subject_of

__all__ = ["Assignment", "PermittedTable", "PlanningVerdict", "SitingModel", "SitingParameters", "SitingResult",
           "SitingWeights", "TownAssignment", "assign_town", "factor_values"]

ROAD_CLASS_SCORES: Mapping[str, float] = {"county": 1.0, "township": 0.85, "village": 0.6, "track": 0.25}
CONDITION_SCORES: Mapping[str, float] = {"good": 1.0, "fair": 0.75, "poor": 0.4, "dangerous": 0.0}


class SitingModel:
    """Score every idle asset for every use from measured factors (see the module's notes)."""

    def __init__(self, assets: pd.DataFrame, uses: tuple[UseProfile, ...], measurements: Measurements,
                 permitted: PermittedTable | None = None, parameters: SitingParameters | None = None) -> None:
        self.assets = assets
        self.uses = uses
        self.measurements = measurements
        self.permitted = permitted or {}
        self.parameters = parameters or SitingParameters()

    @classmethod
    def from_measurements(cls, assets: pd.DataFrame, uses: Sequence[str] | None, measurements: Measurements, *,
                          permitted: PermittedTable | None = None,
                          parameters: SitingParameters | None = None) -> SitingModel:
        """From measurements already taken (arrays): ``assets`` needs ``code`` and ``category``."""
        return cls(_asset_table(assets), profiles_for(list(uses) if uses is not None else None), measurements,
                   permitted, parameters)

    @classmethod
    def from_geodataframes(
        cls, assets: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame, *,
        facilities: Mapping[str, gpd.GeoDataFrame] | None = None, network: RoadNetwork | None = None,
        roads: gpd.GeoDataFrame | None = None, zones: gpd.GeoDataFrame | None = None,
        centre: shapely.Point | None = None, uses: Sequence[str] | None = None,
        permitted: PermittedTable | None = None, parameters: SitingParameters | None = None,
    ) -> SitingModel:
        """Check the layers (one projected CRS in metres, points), measure the factors and build the model.

        Parameters
        ----------
        assets
            The assets to score (usually the idle ones): points with ``code``, ``category``, ``floor_area``,
            ``land_area``, ``building_condition`` (missing columns count as not recorded).
        settlements
            Points with ``population``, ``elderly`` and ``children`` (those the uses count).
        facilities
            Layer name → existing facilities (``service_points``, ``schools``, ``facilities``).
        network
            Road network for distances along roads; None for straight lines.
        roads
            Road layer (``road_class``) for road access; None: access unknown.
        zones
            Planning zones (``zone_type``) for the scenic and industrial proxies.
        centre
            The town centre (see ``gis_service.analysis.siting_planning.town_centre``).
        uses
            ``target_use`` codes to score (default: every use of ``USE_PROFILES``).
        permitted
            Planning verdicts by asset code and use.
        parameters
            Weights and scales.

        Raises
        ------
        ValueError
            On a CRS that is not projected in metres, differing CRSs, non-point assets or settlements, an
            unknown use or a missing demand field.
        """
        crs = check_projected(assets.crs, "assets")
        others = {"settlements": settlements, "roads": roads, "zones": zones, **(facilities or {})}
        for what, frame in others.items():
            if frame is not None and (frame.crs is None or not crs.equals(frame.crs)):
                raise ValueError(f"{what} must be in the assets' CRS ({crs.to_string()}), not {frame.crs}")
        if network is not None and not crs.equals(network.crs):
            raise ValueError(f"the network must be in the assets' CRS ({crs.to_string()})")
        profiles = profiles_for(list(uses) if uses is not None else None)
        inputs = SitingInputs(assets.reset_index(drop=True), settlements.reset_index(drop=True), facilities or {},
                              roads, zones, centre)
        return cls(_asset_table(assets), profiles, measure(inputs, profiles, network), permitted, parameters)

    def solve(self) -> SitingResult:
        """Score, rank and explain every (asset, use)."""
        n, k = len(self.assets), len(self.uses)
        values = {name: np.full((n, k), np.nan) for name in FACTORS}
        raw = {name: np.full((n, k), np.nan) for name in FACTORS}
        for j, use in enumerate(self.uses):
            for name, (value, measured) in factor_values(self.measurements, use, self.parameters).items():
                values[name][:, j], raw[name][:, j] = value, measured
        applicable = self._applicable()
        weight = self._weight_matrix()
        known = {name: np.isfinite(values[name]) & (weight[name] > 0) for name in FACTORS}
        total = sum(np.where(known[name], weight[name], 0.0) for name in FACTORS)
        safe_total = np.where(total > 0, total, 1.0)
        shares = {name: np.where(known[name], weight[name], 0.0) / safe_total for name in FACTORS}
        contributions = {name: shares[name] * np.nan_to_num(values[name]) for name in FACTORS}
        permitted = self._permitted_matrix()
        unsafe = self._unsafe()
        allowed = np.array([[p.permitted is not False for p in row] for row in permitted], dtype=bool).reshape(n, k)
        allowed &= ~unsafe
        scores = np.where(applicable, sum(contributions.values()) * allowed, np.nan)
        for name in FACTORS:
            values[name] = np.where(applicable & known[name], values[name], np.nan)
            contributions[name] = np.where(applicable, contributions[name], np.nan)
        return SitingResult(self.assets, self.uses, scores, _rank(scores), values, contributions, shares, raw,
                            permitted, unsafe, self.measurements, self.parameters)

    def _unsafe(self) -> npt.NDArray[np.bool_]:
        dangerous = np.array([c == "dangerous" for c in self.measurements.condition], dtype=bool)
        hosts = np.array([u.hosts_people for u in self.uses], dtype=bool)
        building = (self.assets["subject"] == "building").to_numpy()
        return (dangerous & building)[:, None] & hosts[None, :]

    def _applicable(self) -> npt.NDArray[np.bool_]:
        subjects = self.assets["subject"].to_numpy(dtype=object)
        return np.array([[s in use.subjects for use in self.uses] for s in subjects], dtype=bool).reshape(
            len(self.assets), len(self.uses))

    def _weight_matrix(self) -> dict[str, FloatArray]:
        weights = self.parameters.weights.as_dict()
        return {name: np.broadcast_to(np.array([weights[name] * u.relevance.get(name, 0.0) for u in self.uses]),
                                      (len(self.assets), len(self.uses))) for name in FACTORS}

    def _permitted_matrix(self) -> npt.NDArray[np.object_]:
        out = np.empty((len(self.assets), len(self.uses)), dtype=object)
        for i, code in enumerate(self.assets["code"]):
            row = self.permitted.get(code, {})
            for j, use in enumerate(self.uses):
                out[i, j] = as_verdict(row.get(use.code))
        return out


def factor_values(m: Measurements, use: UseProfile, p: SitingParameters) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Factor → (normalised value, raw measure) for every asset under ``use`` (see the module's notes)."""
    n = len(m.category)
    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    if use.standard is not None:
        reach = m.reach[use.code]
        people = reach.within.astype(float) @ reach.demand
        uncovered = reach.within.astype(float) @ np.where(reach.covered, 0.0, reach.demand)
        out["demand"] = (saturate(people, use.demand_half), people)
        out["coverage_gain"] = (saturate(uncovered, use.demand_half), uncovered)
        if use.has_existing_kind:
            cost = m.nearest_same_kind[use.code]
            out["nearest_same_kind"] = (np.minimum(cost / (2 * use.standard.limit), 1.0), cost)
    leg = np.clip((p.access_zero_m - m.road_m) / (p.access_zero_m - p.access_full_m), 0.0, 1.0)
    road = np.array([ROAD_CLASS_SCORES.get(c, np.nan) if c is not None else np.nan for c in m.road_class])
    out["road_access"] = (road * leg, m.road_m)
    is_land = np.array([subject_of(c) == "land" for c in m.category], dtype=bool)
    area = np.where(is_land, m.land_area, m.floor_area)
    out["area"] = (np.minimum(area / use.min_area_m2, 1.0), area)
    condition = np.array([CONDITION_SCORES.get(c, np.nan) if c is not None else np.nan for c in m.condition])
    out["condition"] = (np.where(is_land, np.nan, condition), np.full(n, np.nan))
    for name, distance, zero in (("centre", m.centre_m, p.centre_zero_m), ("scenic", m.scenic_m, p.scenic_zero_m),
                                 ("industrial", m.industrial_m, p.industrial_zero_m)):
        out[name] = (np.clip(1.0 - distance / zero, 0.0, 1.0), distance)
    out["priority"] = (np.full(n, use.priority), np.full(n, np.nan))
    out["former_use"] = (np.array([1.0 if c in use.suits else 0.0 for c in m.category]), np.full(n, np.nan))
    return out


def _rank(scores: FloatArray) -> npt.NDArray[np.int64]:
    """1 for each asset's best use, 2 for the next…; 0 where not scored. Ties keep the uses' order."""
    order = np.argsort(np.where(np.isnan(scores), np.inf, -scores), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(1, scores.shape[1] + 1)[None, :].repeat(len(scores), 0), axis=1)
    return np.where(np.isnan(scores), 0, rank).astype(np.int64)


def _asset_table(assets: pd.DataFrame) -> pd.DataFrame:
    if "code" not in assets:
        raise ValueError("assets need a 'code' column")
    frame = pd.DataFrame({"code": assets["code"].astype(str).to_numpy()})
    for column in ("name", "village_code", "category"):
        frame[column] = assets[column].to_numpy(dtype=object) if column in assets else None
    frame["subject"] = [subject_of(c) for c in frame["category"]]
    return frame
