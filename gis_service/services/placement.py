"""Where the next "1+N" stations (or schools, clinics, day-care centres) should go: a placement on the stored
layers, with the existing facilities kept and idle assets as the candidate sites (so that revitalising an asset
and placing a station are one decision).

Models (``model=``): ``mclp`` (default: ``new_sites`` sites covering the most demand within the standard's
distance, exact), ``lscp`` (the fewest new sites covering every settlement a candidate can reach), ``pmedian``
(least total people × distance), ``pcenter`` (least largest distance) and ``capacitated`` (sites serving the
most demand within the distance and within ``capacity`` people each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from sqlalchemy import Engine

from gis_service.analysis.network import RoadNetwork, point_coordinates
from gis_service.analysis.placement import (
    LSCP,
    MCLP,
    CandidateSites,
    CapacitatedCoverage,
    PCenter,
    PlacementResult,
    PMedian,
    candidate_sites,
)
from gis_service.analysis.standards import FacilityStandard
from gis_service.errors import InvalidInputError
from gis_service.services.coverage import NETWORK_LAYERS, CoverageService, Frames, Method, road_network, standard_with

Model = Literal["mclp", "lscp", "pmedian", "pcenter", "capacitated"]
MODELS: tuple[Model, ...] = ("mclp", "lscp", "pmedian", "pcenter", "capacitated")
Source = Literal["idle", "all"]


@dataclass(frozen=True)
class PlacementRequest:
    """What to place: ``new_sites`` (not used by ``lscp``, which finds how many) for ``standard``."""

    new_sites: int = 1
    standard: str = "agency_station"
    source: Source = "idle"
    method: Method = "auto"
    metres: float | None = None
    model: Model = "mclp"
    capacity: float | None = None  # people one site can serve (capacitated; existing ones keep their own)

    def checked(self) -> FacilityStandard:
        """The standard to place for, after checking the request (400 on a bad one)."""
        chosen = standard_with(self.standard, self.metres, None)
        if chosen.metres is None:
            raise InvalidInputError(f"placement needs a distance standard; {self.standard} is in minutes")
        if not 1 <= self.new_sites <= 100:
            raise InvalidInputError("new_sites must be between 1 and 100")
        if self.model not in MODELS:
            raise InvalidInputError(f"unknown model '{self.model}'; use one of {', '.join(MODELS)}")
        if self.source not in ("idle", "all"):
            raise InvalidInputError(f"unknown source '{self.source}'; use idle or all")
        if self.model == "capacitated" and (self.capacity is None or self.capacity <= 0):
            raise InvalidInputError("model=capacitated needs capacity: the people one new site can serve")
        return chosen

    def layers(self) -> tuple[str, ...]:
        """The layers the placement reads."""
        return ("settlements", self.checked().layer, "assets", *NETWORK_LAYERS)


@dataclass(frozen=True)
class PlacementOutcome:
    """A placement: the chosen new sites and the covered demand before and after."""

    standard: str
    method: Literal["straight", "network"]
    sites: gpd.GeoDataFrame  # the chosen new sites (rows of the candidates), EPSG:4544
    demand: float
    covered_before: float
    covered_after: float
    result: PlacementResult
    model: Model = "mclp"
    left_out: tuple[str, ...] = ()  # settlements no candidate reaches, left out of lscp/pmedian/pcenter

    @property
    def share_before(self) -> float:
        return self.covered_before / self.demand if self.demand else 1.0

    @property
    def share_after(self) -> float:
        return self.covered_after / self.demand if self.demand else 1.0


class PlacementService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def stations(self, new_sites: int, *, standard: str = "agency_station", source: Source = "idle",
                 method: Method = "auto", metres: float | None = None, model: Model = "mclp",
                 capacity: float | None = None) -> PlacementOutcome:
        """The candidate sites that, with every existing facility of ``standard`` kept, best serve the
        settlements under ``model`` (exact MCLP by default; along roads unless ``method="straight"``)."""
        request = PlacementRequest(new_sites, standard, source, method, metres, model, capacity)
        return place(CoverageService(self.engine).read_layers(*request.layers()), request)


def place(frames: Frames, request: PlacementRequest, network: RoadNetwork | None = None) -> PlacementOutcome:
    """The placement of ``request`` on layers already read (EPSG:4544); ``network`` saves building the road
    network again when it was built from the same frames."""
    chosen = request.checked()
    assert chosen.metres is not None  # checked() refuses standards in minutes
    existing = chosen.select(frames[chosen.layer])
    sites = candidate_sites(frames["assets"], existing=existing, source=request.source)
    settlements = frames["settlements"]
    network = network if network is not None else road_network(frames, request.method)
    bounded = request.model in ("mclp", "lscp", "capacitated")
    cost = _costs(settlements, sites.frame, network, chosen.metres if bounded else None)
    weights = settlements[chosen.demand].fillna(0).to_numpy(dtype=float)
    left_out = _left_out(request.model, cost, weights, chosen.metres)
    result = _solve(request, cost, np.where(left_out, 0.0, weights), sites, chosen.metres)
    kept = len(sites.required)
    before = (cost[:, sites.required] <= chosen.metres).any(axis=1) if kept else np.zeros(len(cost), bool)
    after = (cost[:, result.selected] <= chosen.metres).any(axis=1)
    new = [i for i in result.selected if i not in set(sites.required.tolist())]
    return PlacementOutcome(chosen.key, "network" if network is not None else "straight", sites.frame.iloc[new],
                            float(weights.sum()), float(weights[before].sum()), float(weights[after].sum()), result,
                            request.model, tuple(str(c) for c in settlements["code"][left_out]))


def _left_out(model: Model, cost: np.ndarray, weights: np.ndarray, radius: float) -> np.ndarray:
    """Settlements that must serve no one in the model because no candidate can reach them (within the radius
    for LSCP, at all for p-median and p-center): those models would otherwise have no solution. Covering
    models with ``p`` simply leave them uncovered."""
    if model in ("mclp", "capacitated"):
        return np.zeros(len(weights), dtype=bool)
    reachable = (cost <= radius).any(axis=1) if model == "lscp" else np.isfinite(cost).any(axis=1)
    return ~reachable & (weights > 0)


def _solve(request: PlacementRequest, cost: np.ndarray, weights: np.ndarray, sites: CandidateSites,
           radius: float) -> PlacementResult:
    """Build ``request.model`` on the cost matrix and solve it (MCLP exactly, as before; the others ``auto``)."""
    required = sites.required
    p = len(required) + request.new_sites
    if request.model == "mclp":
        return MCLP.from_cost_matrix(cost, radius=radius, p=p, weights=weights, required=required).solve("exact")
    if request.model == "lscp":
        return LSCP.from_cost_matrix(cost, radius=radius, weights=weights, required=required).solve()
    if request.model == "pmedian":
        return PMedian.from_cost_matrix(cost, p=p, weights=weights, required=required).solve()
    if request.model == "pcenter":
        return PCenter.from_cost_matrix(cost, p=p, weights=weights, required=required).solve()
    assert request.capacity is not None  # checked() insists
    capacity = _capacities(sites.frame, required, request.capacity)
    return CapacitatedCoverage.from_cost_matrix(cost, radius=radius, capacity=capacity, p=p, weights=weights,
                                                required=required).solve()


def _capacities(candidates: gpd.GeoDataFrame, required: np.ndarray, capacity: float) -> np.ndarray:
    """People each candidate can serve: an existing facility its own ``capacity`` where the layer has one,
    every other site ``capacity``."""
    values = np.full(len(candidates), float(capacity))
    if "capacity" in candidates:
        own = pd.to_numeric(candidates["capacity"], errors="coerce").to_numpy(dtype=float)
        is_existing = np.zeros(len(candidates), dtype=bool)
        is_existing[required] = True
        values = np.where(is_existing & np.isfinite(own) & (own > 0), own, values)
    return values


def _costs(settlements: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, network: RoadNetwork | None,
           limit: float | None) -> np.ndarray:
    """Settlement × candidate distances in metres: along roads when there is a network, else straight; a
    ``limit`` stops the road searches there (covering models need nothing farther)."""
    s_xy = point_coordinates(settlements, "settlements")
    c_xy = point_coordinates(candidates, "candidates")
    if network is None:
        return cdist(s_xy, c_xy)
    graph = network.attach(np.vstack([s_xy, c_xy]))
    n = len(s_xy)
    from_candidates = graph.cost_matrix(np.arange(n, n + len(c_xy)), np.arange(n), limit=limit)
    return np.asarray(from_candidates).T
