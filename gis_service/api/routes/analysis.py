"""Analyses over HTTP: coverage of settlements by a kind of facility, the "1+N" diagnosis of villages, and the
placement of new sites.

JSON by default; ``f=geojson`` gives the settlements with their coverage (or the chosen sites) as GeoJSON
(CRS84) for a map. Every request is stored as an analysis run (``/analysis/runs/{id}``, named in the body's
``run`` and the ``Link`` header), so it can be shown and re-run later.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gis_service.analysis.standards import FACILITY_THRESHOLDS
from gis_service.api.geojson import feature_collection
from gis_service.api.links import GEOJSON, JSON, base_url
from gis_service.api.security import ReaderDep
from gis_service.services.analysis_outputs import json_safe, standard_json
from gis_service.services.runs import Run, RunService

router = APIRouter(prefix="/analysis", tags=["Analyses"])
MethodParam = Annotated[Literal["auto", "straight", "network"], Query(
    description="auto: along roads where they exist (rivers crossed only at bridges), else straight lines")]
StandardKey = Literal["centre", "agency_station", "primary_school", "kindergarten", "village_clinic",
                      "elderly_day_care"]
OK_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}}}}
# The models of gis_service.services.placement.MODELS.
ModelParam = Annotated[Literal["mclp", "lscp", "pmedian", "pcenter", "capacitated"], Query(
    description="mclp: most people covered by new_sites; lscp: fewest sites covering everyone reachable; pmedian: "
                "least total distance; pcenter: least longest distance; capacitated: most people served within "
                "each site's capacity")]


@router.get("/standards", summary="Facility standards: kinds, demand, threshold and its source",
            response_class=Response, responses=OK_JSON)
async def standards(_reader: ReaderDep) -> Response:
    return _json({"standards": [standard_json(s) for s in FACILITY_THRESHOLDS.values()]})


@router.get("/coverage", summary="Who is served by a kind of facility, per village and for the town",
            response_class=Response, responses=OK_JSON | {200: {"content": {JSON: {}, GEOJSON: {}}}})
async def coverage(
    request: Request, reader: ReaderDep, standard: StandardKey = "centre", method: MethodParam = "auto",
    metres: Annotated[float | None, Query(gt=0, le=100_000, description="Another distance threshold")] = None,
    minutes: Annotated[float | None, Query(gt=0, le=600, description="Another travel-time threshold")] = None,
    f: Annotated[Literal["json", "geojson"], Query(description="json: summary; geojson: settlements")] = "json",
) -> Response:
    run = await _run(request, "coverage", {"standard": standard, "method": method, "metres": metres,
                                           "minutes": minutes}, reader.name)
    return run_response(request, run, f)


@router.get("/one-plus-n", summary='The "1+N" diagnosis of every merged village', response_class=Response,
            responses=OK_JSON)
async def one_plus_n(request: Request, reader: ReaderDep, method: MethodParam = "auto") -> Response:
    run = await _run(request, "one_plus_n", {"method": method}, reader.name)
    return run_response(request, run, "json")


@router.get("/placement", summary="Where new sites should go: idle assets that serve the most people",
            response_class=Response, responses=OK_JSON | {200: {"content": {JSON: {}, GEOJSON: {}}}})
async def placement(
    request: Request, reader: ReaderDep,
    new_sites: Annotated[int, Query(ge=1, le=100, description="How many new sites to place (not lscp)")] = 1,
    standard: Literal["centre", "agency_station", "primary_school", "kindergarten", "elderly_day_care"]
    = "agency_station",
    source: Annotated[Literal["idle", "all"], Query(description="Candidates: idle assets, or every asset")] = "idle",
    method: MethodParam = "auto",
    metres: Annotated[float | None, Query(gt=0, le=100_000, description="Another distance threshold")] = None,
    model: ModelParam = "mclp",
    capacity: Annotated[float | None, Query(gt=0, le=1_000_000, description="capacitated: people one new site "
                                            "serves (existing facilities keep their own capacity)")] = None,
    f: Annotated[Literal["json", "geojson"], Query(description="json: summary; geojson: the chosen sites")] = "json",
) -> Response:
    parameters = {"new_sites": new_sites, "standard": standard, "source": source, "method": method,
                  "metres": metres, "model": model, "capacity": capacity}
    run = await _run(request, "placement", parameters, reader.name)
    return run_response(request, run, f)


async def _run(request: Request, kind: str, parameters: dict[str, Any], actor: str) -> Run:
    # GET analyses: an identical request on unchanged data is answered from its stored run (provenance kept,
    # nothing recomputed or stored again); POST /analysis/runs/{id}/rerun always computes anew.
    service = RunService(request.app.state.engine)
    return await run_in_threadpool(lambda: service.run(kind, parameters, actor, reuse=True))


def run_url(request: Request, run: Run) -> str:
    return f"{base_url(request)}/analysis/runs/{run.id}"


def run_response(request: Request, run: Run, f: str) -> Response:
    """A run's result as its analysis answers it: the JSON summary (with ``run``: where it is stored), or its
    features as GeoJSON."""
    url = run_url(request, run)
    headers = {"Link": f'<{url}>; rel="describedby"; type="{JSON}"'}
    reference = {"id": run.id, "href": url, "seconds": run.seconds, "input_hash": run.input_hash,
                 "reused": run.reused}
    result = run.result or {}
    if f == "geojson":
        members: dict[str, Any] = {key: result[key] for key in ("standard", "method", "model") if key in result}
        chunks = [orjson.dumps(feature) for feature in run.features or []]
        return Response(feature_collection(chunks, {**members, "run": reference}), media_type=GEOJSON,
                        headers=headers)
    return Response(_dumps({**result, "run": reference}), media_type=JSON, headers=headers)


def _json(body: Any) -> Response:
    return Response(_dumps(body), media_type=JSON)


def _dumps(body: Any) -> bytes:
    return orjson.dumps(json_safe(body))
