"""Revitalisation siting on the stored layers: what each idle asset is best suited to become.

The layers are read in one transaction (one consistent state), projected to EPSG:4544; the road network is built
once from the same read; planning verdicts come from the planning conformance with the permitted-use table the
service is given (the app's, with ``GIS_PERMITTED_USES_FILE``: see ``gis_service.services.conformance.table_from``);
the town centre is the township government's office. The pure scoring is ``gis_service.analysis.siting``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy import Engine

from gis_service.analysis.conformance_uses import PermittedTable
from gis_service.analysis.siting import SitingModel, SitingParameters, SitingResult, TownAssignment, assign_town
from gis_service.analysis.siting_planning import planning_verdicts, town_centre
from gis_service.analysis.siting_uses import FACTORS, USE_PROFILES, SitingWeights, profiles_for
from gis_service.crs import analysis_crs, storage_crs, transform_geometries
from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.layers.codelists import code_lookup
from gis_service.services.coverage import NETWORK_LAYERS, CoverageService, Frames, Method, road_network

SITING_LAYERS = ("assets", "settlements", "service_points", "schools", "facilities", "planning_zones",
                 *NETWORK_LAYERS)
FACILITY_LAYERS = ("service_points", "schools", "facilities")
IDLE_STATUSES = ("idle", "partly_idle")


@dataclass(frozen=True)
class SitingRequest:
    """What to score: ``uses`` (codes or labels; None = all), the weights, and whether to assign the town."""

    uses: tuple[str, ...] | None = None
    weights: SitingWeights = dataclasses.field(default_factory=SitingWeights)
    assign: bool = False
    method: Method = "auto"


@dataclass(frozen=True)
class SitingOutcome:
    """A siting of the idle assets, the town assignment when asked, and where the centre was taken from."""

    result: SitingResult
    assets: gpd.GeoDataFrame  # the idle assets scored, EPSG:4544, aligned with result.assets
    assignment: TownAssignment | None
    centre: str  # the office asset's code, "development_boundary", or "" (none)
    versions: dict[str, int]


class SitingService:
    """Siting on one database, judging planning with one permitted-use table (None: the built-in one)."""

    def __init__(self, engine: Engine, table: PermittedTable | None = None) -> None:
        self.engine = engine
        self.table = table

    def siting(self, request: SitingRequest | None = None) -> SitingOutcome:
        """Score every idle asset for every use of ``request`` (and assign the town when asked)."""
        request = request or SitingRequest()
        snapshot = CoverageService(self.engine).read_snapshot(*SITING_LAYERS)
        return site(snapshot.frames, request, snapshot.versions, self.table)


def site(frames: Frames, request: SitingRequest, versions: dict[str, int] | None = None,
         table: PermittedTable | None = None) -> SitingOutcome:
    """The siting of ``request`` on layers already read (EPSG:4544), with the permitted-use ``table`` (None: the
    built-in one)."""
    uses = [u.code for u in profiles_for(parse_uses(request.uses))]
    if request.method not in ("auto", "network", "straight"):
        raise InvalidInputError(f"method: unknown method '{request.method}'; use auto, network or straight")
    assets = frames["assets"]
    idle = assets[assets["use_status"].isin(IDLE_STATUSES)].reset_index(drop=True)
    zones = frames["planning_zones"]
    centre, centre_code = town_centre(assets, zones)
    permitted = planning_verdicts(idle, zones, profiles_for(uses), _footprints(idle), table)
    try:
        model = SitingModel.from_geodataframes(
            idle, frames["settlements"], facilities={name: frames[name] for name in FACILITY_LAYERS},
            network=road_network(frames, request.method), roads=frames["roads"], zones=zones, centre=centre,
            uses=uses, permitted=permitted, parameters=SitingParameters(weights=request.weights))
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    result = model.solve()
    assignment = assign_town(result) if request.assign else None
    return SitingOutcome(result, idle, assignment, centre_code, versions or {})


def only_asset(outcome: SitingOutcome, code: str | None) -> list[int]:
    """Row positions of the assets to show: all, or the one named (404 when it is not an idle asset)."""
    codes = outcome.result.assets["code"].tolist()
    if code is None:
        return list(range(len(codes)))
    if code not in codes:
        raise NotFoundError(f"asset_code: '{code}' is not an idle or partly idle asset")
    return [codes.index(code)]


def parse_uses(uses: Sequence[str] | None) -> list[str] | None:
    """Use codes from codes or labels (Chinese or English); 400 naming ``uses`` for an unknown one."""
    if not uses:
        return None
    lookup = code_lookup("target_use")
    found = []
    for text in uses:
        code = lookup.get(text.strip().casefold())
        if code is None or code not in USE_PROFILES:
            raise InvalidInputError(f"uses: '{text}' is not a use the siting scores; use one of "
                                    f"{', '.join(USE_PROFILES)}")
        found.append(code)
    return found


def parse_weights(text: str | Sequence[str] | None) -> SitingWeights:
    """Weights from ``"factor=value,factor=value"`` (or a list of such items); 400 naming ``weights``."""
    items = [text] if isinstance(text, str) else list(text or [])
    given: dict[str, float] = {}
    for part in (p.strip() for item in items for p in item.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in FACTORS:
            raise InvalidInputError(f"weights: '{part}' is not factor=value; factors are {', '.join(FACTORS)}")
        try:
            given[name] = float(value)
        except ValueError:
            raise InvalidInputError(f"weights: '{value.strip()}' for {name} is not a number") from None
    try:
        return SitingWeights(**given)
    except ValueError as exc:
        raise InvalidInputError(f"weights: {exc}") from None


def _footprints(assets: gpd.GeoDataFrame) -> gpd.GeoSeries | None:
    """The surveyed outlines in EPSG:4544 (``read_snapshot`` projects only the location points)."""
    if "footprint" not in assets:
        return None
    outlines = assets["footprint"].to_numpy(dtype=object)
    return gpd.GeoSeries(transform_geometries(outlines, storage_crs(), analysis_crs()), crs=analysis_crs())
