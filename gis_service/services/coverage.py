"""Coverage analyses on the stored layers: who is served by a kind of facility, and the "1+N" diagnosis.

Layers are read in one transaction, projected to EPSG:4544 and handed to the pure analysis code
(``gis_service.analysis``); the road network (rivers crossed only at bridges) is built from the same read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
from sqlalchemy import Connection, Engine

from gis_service.analysis.coverage import CoverageReport, coverage
from gis_service.analysis.network import RoadNetwork
from gis_service.analysis.one_plus_n import OnePlusN, diagnose_one_plus_n
from gis_service.analysis.standards import FACILITY_THRESHOLDS, FacilityStandard
from gis_service.crs import analysis_crs
from gis_service.errors import InvalidInputError
from gis_service.layers.registry import get_layer
from gis_service.repositories.layers import LayerRepository
from gis_service.repositories.versions import layer_versions

Method = Literal["auto", "straight", "network"]
NETWORK_LAYERS = ("roads", "rivers", "bridges")
ONE_PLUS_N_LAYERS = ("settlements", "service_points", "villages", *NETWORK_LAYERS)
Frames = dict[str, gpd.GeoDataFrame]


@dataclass(frozen=True)
class LayerSnapshot:
    """Layers read in one transaction (EPSG:4544) with the data versions they had then (the inputs of a run)."""

    frames: Frames
    versions: dict[str, int]


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
        return coverage_of(self.read_layers(*coverage_layers(chosen)), chosen, method)

    def one_plus_n(self, *, method: Method = "auto") -> tuple[OnePlusN, ...]:
        """The "1+N" diagnosis of every merged village."""
        return one_plus_n_of(self.read_layers(*ONE_PLUS_N_LAYERS), method)

    def read_layers(self, *names: str) -> Frames:
        """The layers, read in one transaction (one consistent state), in EPSG:4544."""
        return self.read_snapshot(*names).frames

    def read_snapshot(self, *names: str) -> LayerSnapshot:
        """The layers and their data versions, read in one transaction, in EPSG:4544."""
        with self.engine.connect() as conn, conn.begin():
            return read_snapshot(conn, names)


def read_snapshot(conn: Connection, names: Iterable[str]) -> LayerSnapshot:
    """The layers and their data versions on an open transaction (the caller may read more in it)."""
    wanted = list(dict.fromkeys(names))
    frames = {name: LayerRepository(conn, get_layer(name)).read_frame().to_crs(analysis_crs()) for name in wanted}
    versions = layer_versions(conn)
    return LayerSnapshot(frames, {name: versions.get(name, 0) for name in wanted})


def coverage_layers(chosen: FacilityStandard) -> tuple[str, ...]:
    """The layers a coverage analysis under ``chosen`` reads."""
    return ("settlements", chosen.layer, *NETWORK_LAYERS)


def coverage_of(frames: Frames, chosen: FacilityStandard, method: Method,
                network: RoadNetwork | None = None) -> CoverageResult:
    """Coverage under ``chosen`` on layers already read (base layers, or a scenario's in memory); ``network``
    saves building the road network again when it was built from the same frames."""
    facilities = chosen.select(frames[chosen.layer])
    network = network if network is not None else road_network(frames, method)
    report = coverage(frames["settlements"], facilities, chosen, network=network, method=method)
    return CoverageResult(report, frames["settlements"], facilities)


def one_plus_n_of(frames: Frames, method: Method, network: RoadNetwork | None = None) -> tuple[OnePlusN, ...]:
    """The "1+N" diagnosis on layers already read (see :data:`ONE_PLUS_N_LAYERS`)."""
    network = network if network is not None else road_network(frames, method)
    return diagnose_one_plus_n(frames["settlements"], frames["service_points"], frames["villages"],
                               rivers=frames["rivers"], network=network, method=method)


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


def road_network(frames: Frames, method: Method) -> RoadNetwork | None:
    """The road network of ``frames`` (rivers crossed only at bridges); None for straight lines or without roads."""
    if method == "straight" or frames["roads"].empty:
        return None
    return RoadNetwork.from_geodataframes(frames["roads"], frames["rivers"], frames["bridges"])
