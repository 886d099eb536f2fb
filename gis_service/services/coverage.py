"""Coverage analyses on the stored layers: who is served by a kind of facility, and the "1+N" diagnosis.

Layers are read in one transaction, projected to EPSG:4544 and handed to the pure analysis code
(``gis_service.analysis``); the road network (rivers crossed only at bridges) is built from the same read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
from sqlalchemy import Engine

from gis_service.analysis.coverage import CoverageReport, coverage
from gis_service.analysis.network import RoadNetwork
from gis_service.analysis.one_plus_n import OnePlusN, diagnose_one_plus_n
from gis_service.analysis.standards import FACILITY_THRESHOLDS, FacilityStandard
from gis_service.crs import analysis_crs
from gis_service.errors import InvalidInputError
from gis_service.layers.registry import get_layer
from gis_service.repositories.layers import LayerRepository

Method = Literal["auto", "straight", "network"]
NETWORK_LAYERS = ("roads", "rivers", "bridges")


@dataclass(frozen=True)
class CoverageResult:
    """A coverage report with the settlements it speaks of (EPSG:4544) for maps and GeoJSON."""

    report: CoverageReport
    settlements: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame


class CoverageService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def coverage(self, standard: str, *, method: Method = "auto", metres: float | None = None,
                 minutes: float | None = None) -> CoverageResult:
        """Coverage of the settlements under ``standard`` (a key of ``FACILITY_THRESHOLDS``), optionally with
        another threshold in metres or minutes."""
        chosen = standard_with(standard, metres, minutes)
        frames = self.read_layers("settlements", chosen.layer, *NETWORK_LAYERS)
        facilities = chosen.select(frames[chosen.layer])
        report = coverage(frames["settlements"], facilities, chosen, network=road_network(frames, method),
                          method=method)
        return CoverageResult(report, frames["settlements"], facilities)

    def one_plus_n(self, *, method: Method = "auto") -> tuple[OnePlusN, ...]:
        """The "1+N" diagnosis of every merged village."""
        frames = self.read_layers("settlements", "service_points", "villages", *NETWORK_LAYERS)
        return diagnose_one_plus_n(frames["settlements"], frames["service_points"], frames["villages"],
                                   rivers=frames["rivers"], network=road_network(frames, method), method=method)

    def read_layers(self, *names: str) -> dict[str, gpd.GeoDataFrame]:
        """The layers, read in one transaction (one consistent state), in EPSG:4544."""
        with self.engine.connect() as conn, conn.begin():
            return {name: LayerRepository(conn, get_layer(name)).read_frame().to_crs(analysis_crs())
                    for name in dict.fromkeys(names)}


def standard_with(key: str, metres: float | None, minutes: float | None) -> FacilityStandard:
    """The named standard, with its threshold replaced when ``metres`` or ``minutes`` is given."""
    try:
        standard = FACILITY_THRESHOLDS[key]
    except KeyError:
        raise InvalidInputError(f"unknown standard '{key}'; use one of {', '.join(FACILITY_THRESHOLDS)}") from None
    if metres is not None and minutes is not None:
        raise InvalidInputError("give a distance in metres or a time in minutes, not both")
    if metres is not None or minutes is not None:
        return dataclasses.replace(standard, metres=metres, minutes=minutes)
    return standard


def road_network(frames: dict[str, gpd.GeoDataFrame], method: Method) -> RoadNetwork | None:
    if method == "straight" or frames["roads"].empty:
        return None
    return RoadNetwork.from_geodataframes(frames["roads"], frames["rivers"], frames["bridges"])
