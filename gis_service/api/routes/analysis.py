"""Analyses over HTTP: coverage of settlements by a kind of facility, and the "1+N" diagnosis of villages.

JSON by default; ``f=geojson`` gives the settlements with their coverage as GeoJSON (CRS84) for a map.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gis_service.analysis.standards import FACILITY_THRESHOLDS, FacilityStandard
from gis_service.api.geojson import feature_collection
from gis_service.api.links import GEOJSON, JSON
from gis_service.api.security import ReaderDep
from gis_service.crs import CRS84_URI, output_geometries, parse_crs
from gis_service.services.coverage import CoverageResult, CoverageService
from gis_service.services.placement import PlacementService

router = APIRouter(prefix="/analysis", tags=["Analyses"])
MethodParam = Annotated[Literal["auto", "straight", "network"], Query(
    description="auto: along roads where they exist (rivers crossed only at bridges), else straight lines")]
StandardKey = Literal["centre", "agency_station", "primary_school", "kindergarten", "village_clinic",
                      "elderly_day_care"]
OK_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}}}}


def _service(request: Request) -> CoverageService:
    return CoverageService(request.app.state.engine)


@router.get("/standards", summary="Facility standards: kinds, demand, threshold and its source",
            response_class=Response, responses=OK_JSON)
async def standards(_reader: ReaderDep) -> Response:
    return _json({"standards": [_standard(s) for s in FACILITY_THRESHOLDS.values()]})


@router.get("/coverage", summary="Who is served by a kind of facility, per village and for the town",
            response_class=Response, responses=OK_JSON | {200: {"content": {JSON: {}, GEOJSON: {}}}})
async def coverage(
    request: Request, _reader: ReaderDep, standard: StandardKey = "centre", method: MethodParam = "auto",
    metres: Annotated[float | None, Query(gt=0, le=100_000, description="Another distance threshold")] = None,
    minutes: Annotated[float | None, Query(gt=0, le=600, description="Another travel-time threshold")] = None,
    f: Annotated[Literal["json", "geojson"], Query(description="json: summary; geojson: settlements")] = "json",
) -> Response:
    result = await run_in_threadpool(_service(request).coverage, standard, method=method, metres=metres,
                                     minutes=minutes)
    if f == "geojson":
        return Response(await run_in_threadpool(_settlements_geojson, result), media_type=GEOJSON)
    return _json(_coverage_json(result))


@router.get("/one-plus-n", summary='The "1+N" diagnosis of every merged village', response_class=Response,
            responses=OK_JSON)
async def one_plus_n(request: Request, _reader: ReaderDep, method: MethodParam = "auto") -> Response:
    diagnoses = await run_in_threadpool(_service(request).one_plus_n, method=method)
    return _json({"method": method, "villages": [dataclasses.asdict(d) for d in diagnoses]})


def _coverage_json(result: CoverageResult) -> dict[str, Any]:
    report = result.report
    uncovered = report.settlements.uncovered()
    names = result.settlements["name"]
    return {
        "standard": _standard(report.standard), "method": report.method, "facilities": report.facilities,
        "town": dataclasses.asdict(report.town),
        "villages": [dataclasses.asdict(v) for v in report.villages],
        "uncovered": [{"code": row.code, "name": names[index], "village_code": row.village_code,
                       "demand": row.demand, "nearest": row.nearest_code, "distance_m": _finite(row.distance_m),
                       "minutes": _finite(row.minutes)} for index, row in uncovered.iterrows()],
    }


def _settlements_geojson(result: CoverageResult) -> bytes:
    frame = result.report.settlements.to_frame()
    geometries = output_geometries(result.settlements.to_crs(4490).geometry.to_numpy(), parse_crs(CRS84_URI))
    chunks = []
    for (_, row), name, geometry in zip(frame.iterrows(), result.settlements["name"], geometries, strict=True):
        properties = {"code": row.code, "name": name, "village_code": row.village_code, "demand": row.demand,
                      "covered": bool(row.covered), "nearest": row.nearest_code,
                      "distance_m": _finite(row.distance_m), "minutes": _finite(row.minutes),
                      "via_network": bool(row.via_network)}
        chunks.append(orjson.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
            geometry.x, geometry.y]}, "properties": properties}, option=orjson.OPT_SERIALIZE_NUMPY))
    return feature_collection(chunks, {"standard": _standard(result.report.standard),
                                       "method": result.report.method})


def _standard(standard: FacilityStandard) -> dict[str, Any]:
    return {"key": standard.key, "label": standard.label, "layer": standard.layer, "kinds": list(standard.kinds),
            "demand": standard.demand, "metres": standard.metres, "minutes": standard.minutes,
            "source": standard.source}


def _finite(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), 1)


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                                 default=_default), media_type=JSON)


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


@router.get("/placement", summary="Where new agency stations should go: idle assets that cover the most people",
            response_class=Response, responses=OK_JSON | {200: {"content": {JSON: {}, GEOJSON: {}}}})
async def placement(
    request: Request, _reader: ReaderDep,
    new_sites: Annotated[int, Query(ge=1, le=100, description="How many new sites to place")] = 1,
    standard: Literal["centre", "agency_station", "primary_school", "kindergarten", "elderly_day_care"]
    = "agency_station",
    source: Annotated[Literal["idle", "all"], Query(description="Candidates: idle assets, or every asset")] = "idle",
    method: MethodParam = "auto",
    metres: Annotated[float | None, Query(gt=0, le=100_000, description="Another distance threshold")] = None,
    f: Annotated[Literal["json", "geojson"], Query(description="json: summary; geojson: the chosen sites")] = "json",
) -> Response:
    service = PlacementService(request.app.state.engine)
    outcome = await run_in_threadpool(service.stations, new_sites, standard=standard, source=source,
                                      method=method, metres=metres)
    sites = outcome.sites.to_crs(4326)
    chosen = [{"code": row["code"], "name": row["name"], "village_code": row["village_code"],
               "category": row.get("category"), "use_status": row.get("use_status"),
               "lon": row.geometry.x, "lat": row.geometry.y} for _, row in sites.iterrows()]
    if f == "geojson":
        return Response(sites[["code", "name", "village_code", "geometry"]].to_json(drop_id=True), media_type=GEOJSON)
    return _json({"standard": outcome.standard, "method": outcome.method, "new_sites": chosen,
                  "demand": outcome.demand, "covered_before": outcome.covered_before,
                  "covered_after": outcome.covered_after, "share_before": outcome.share_before,
                  "share_after": outcome.share_after, "solver": {"status": outcome.result.status,
                                                                 "seconds": outcome.result.seconds}})
