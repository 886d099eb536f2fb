"""Where the next "1+N" stations should go: a maximal-coverage placement on the stored layers, with the
existing service points kept and idle assets as the candidate sites (so that revitalising an asset and placing
a station are one decision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
from scipy.spatial.distance import cdist
from sqlalchemy import Engine

from gis_service.analysis.network import RoadNetwork, point_coordinates
from gis_service.analysis.placement import MCLP, PlacementResult, candidate_sites
from gis_service.errors import InvalidInputError
from gis_service.services.coverage import NETWORK_LAYERS, CoverageService, Method, road_network, standard_with


@dataclass(frozen=True)
class PlacementOutcome:
    """A placement of ``new_sites`` stations: the chosen sites and the covered demand before and after."""

    standard: str
    method: Literal["straight", "network"]
    sites: gpd.GeoDataFrame  # the chosen new sites (rows of the candidates), EPSG:4544
    demand: float
    covered_before: float
    covered_after: float
    result: PlacementResult

    @property
    def share_before(self) -> float:
        return self.covered_before / self.demand if self.demand else 1.0

    @property
    def share_after(self) -> float:
        return self.covered_after / self.demand if self.demand else 1.0


class PlacementService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def stations(self, new_sites: int, *, standard: str = "agency_station", source: Literal["idle", "all"] = "idle",
                 method: Method = "auto", metres: float | None = None) -> PlacementOutcome:
        """The ``new_sites`` candidate sites that, with every existing facility of ``standard`` kept, cover the
        most demand within the standard's distance (exact MCLP; along roads unless ``method="straight"``)."""
        chosen = standard_with(standard, metres, None)
        if chosen.metres is None:
            raise InvalidInputError(f"placement needs a distance standard; {standard} is in minutes")
        if not 1 <= new_sites <= 100:
            raise InvalidInputError("new_sites must be between 1 and 100")
        frames = CoverageService(self.engine).read_layers("settlements", chosen.layer, "assets", *NETWORK_LAYERS)
        existing = chosen.select(frames[chosen.layer])
        sites = candidate_sites(frames["assets"], existing=existing, source=source)
        settlements = frames["settlements"]
        network = road_network(frames, method)
        cost = _costs(settlements, sites.frame, network, chosen.metres)
        weights = settlements[chosen.demand].fillna(0).to_numpy(dtype=float)
        kept = len(sites.required)
        model = MCLP.from_cost_matrix(cost, radius=chosen.metres, p=kept + new_sites, weights=weights,
                                      required=sites.required)
        result = model.solve(method="exact")
        before = (cost[:, sites.required] <= chosen.metres).any(axis=1) if kept else np.zeros(len(cost), bool)
        after = (cost[:, result.selected] <= chosen.metres).any(axis=1)
        new = [i for i in result.selected if i not in set(sites.required.tolist())]
        return PlacementOutcome(chosen.key, "network" if network is not None else "straight",
                                sites.frame.iloc[new], float(weights.sum()), float(weights[before].sum()),
                                float(weights[after].sum()), result)


def _costs(settlements: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, network: RoadNetwork | None,
           limit: float) -> np.ndarray:
    """Settlement × candidate distances in metres: along roads when there is a network, else straight."""
    s_xy = point_coordinates(settlements, "settlements")
    c_xy = point_coordinates(candidates, "candidates")
    if network is None:
        return cdist(s_xy, c_xy)
    graph = network.attach(np.vstack([s_xy, c_xy]))
    n = len(s_xy)
    from_candidates = graph.cost_matrix(np.arange(n, n + len(c_xy)), np.arange(n), limit=limit)
    return np.asarray(from_candidates).T
