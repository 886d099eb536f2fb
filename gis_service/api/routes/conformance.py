"""Planning conformance over HTTP (规划符合性).

``GET /analysis/conformance``: the features of a layer (``layer=assets|service_points|schools|facilities``)
for an intended ``use`` (default: what each feature is; assets as they stand, by the registration rule), or
(``placement=<run id>``) the stations a stored placement run proposed, for its standard's use.
``POST /analysis/conformance``: proposed sites, a GeoJSON FeatureCollection (CRS84, or ``crs``) whose features
carry a ``use`` property. JSON by default; ``f=geojson`` gives the points with their verdicts (CRS84).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gis_service.analysis.conformance_uses import PermittedTable
from gis_service.api.bodies import parse_json, read_body
from gis_service.api.geojson import feature_collection
from gis_service.api.links import GEOJSON, JSON
from gis_service.api.security import ReaderDep
from gis_service.layers.validation import INT32_MAX
from gis_service.services.conformance import (
    LAYERS,
    ConformanceService,
    Judged,
    judged_features,
    judged_json,
    table_from,
)

router = APIRouter(prefix="/analysis", tags=["Analyses"])
OK: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}, GEOJSON: {}}}}
MAX_BODY = 16 * 2**20  # as for edits: thousands of proposed sites fit in a few MB
FormatParam = Annotated[Literal["json", "geojson"], Query(description="json: verdicts; geojson: points")]
SITES_BODY = {"content": {JSON: {"schema": {"type": "object", "description": "GeoJSON FeatureCollection; each "
                                            "feature's properties: use (code or label), optional code, name"}}},
              "required": True}


def _service(request: Request) -> ConformanceService:
    """The service with this app's permitted-use table, read once (``GIS_PERMITTED_USES_FILE``)."""
    table: PermittedTable | None = getattr(request.app.state, "permitted_uses", None)
    if table is None:
        table = table_from(request.app.state.settings)
        request.app.state.permitted_uses = table
    return ConformanceService(request.app.state.engine, table)


@router.get("/conformance", summary="Whether features may take their (intended) use under the plan",
            response_class=Response, responses=OK)
async def conformance(
    request: Request, _reader: ReaderDep,
    layer: Annotated[Literal["assets", "service_points", "schools", "facilities"], Query(
        description="Layer whose features are judged")] = "assets",
    use: Annotated[str | None, Query(max_length=64, description="Intended use (code or label) for every feature; "
                                     "default: each feature's own (assets: as it stands)")] = None,
    code: Annotated[str | None, Query(max_length=64, description="Only the feature with this code")] = None,
    placement: Annotated[int | None, Query(ge=1, le=INT32_MAX, description="Instead: the stations proposed by "
                                           "this stored placement run")] = None,
    f: FormatParam = "json",
) -> Response:
    assert layer in LAYERS
    service = _service(request)
    if placement is not None:
        judged = await run_in_threadpool(service.placement, placement)
    else:
        judged = await run_in_threadpool(lambda: service.layer(layer, use=use, code=code))
    return _respond(request, judged, f)


@router.post("/conformance", summary="Whether proposed sites may take their intended use under the plan",
             response_class=Response, responses=OK, openapi_extra={"requestBody": SITES_BODY})
async def conformance_of_sites(
    request: Request, _reader: ReaderDep,
    crs: Annotated[str | None, Query(max_length=100, description="CRS of the sites (default CRS84), e.g. "
                                     "http://www.opengis.net/def/crs/EPSG/0/4544")] = None,
    f: FormatParam = "json",
) -> Response:
    body = await run_in_threadpool(parse_json, await read_body(request, MAX_BODY))
    service = _service(request)
    judged = await run_in_threadpool(service.sites, body, crs)
    return _respond(request, judged, f)


def _respond(request: Request, judged: Judged, f: str) -> Response:
    language = request.app.state.settings.language
    if f == "geojson":
        chunks = [orjson.dumps(feature) for feature in judged_features(judged, language)]
        return Response(feature_collection(chunks, {"numberReturned": len(chunks)}), media_type=GEOJSON)
    return Response(orjson.dumps(judged_json(judged, language)), media_type=JSON)
