"""Revitalisation siting: what each idle asset is best suited to become, with the factors that made it.

``GET /analysis/siting``: JSON by default (per asset its uses ranked, each with score, factors and reasons in
Chinese and English; with ``assign=true`` also the town-level assignment); ``f=geojson`` gives the idle assets
with their top recommendation (CRS84) for a map.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gis_service.api.deps import permitted_uses
from gis_service.api.geojson import feature_collection
from gis_service.api.links import GEOJSON, JSON
from gis_service.api.security import ReaderDep
from gis_service.services.siting import SitingRequest, SitingService, only_asset, parse_weights
from gis_service.services.siting_outputs import siting_features, siting_json

router = APIRouter(prefix="/analysis", tags=["Analyses"])
OK: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}, GEOJSON: {}}}}


@router.get("/siting", summary="What each idle asset is best suited to become, with its reasons",
            response_class=Response, responses=OK)
async def siting(
    request: Request, _reader: ReaderDep,
    uses: Annotated[list[str] | None, Query(description="Uses to score (target_use codes or labels; repeat or "
                                                        "comma-separate); default all")] = None,
    weights: Annotated[str | None, Query(description="Factor weights to change, e.g. coverage_gain=4,scenic=0",
                                         max_length=500)] = None,
    asset_code: Annotated[str | None, Query(description="Only this idle asset", max_length=64)] = None,
    assign: Annotated[bool, Query(description="Also assign the town: at most one use per asset, greedily, "
                                              "never the same people to two assets")] = False,
    method: Annotated[Literal["auto", "straight", "network"], Query(
        description="auto: along roads where they exist (rivers crossed only at bridges), else straight")] = "auto",
    f: Annotated[Literal["json", "geojson"], Query(description="json: rankings; geojson: top use per asset")]
    = "json",
) -> Response:
    names = [part.strip() for item in uses or [] for part in item.split(",") if part.strip()]
    parsed = SitingRequest(tuple(names) or None, parse_weights(weights), assign, method)
    language = request.app.state.settings.language
    service = SitingService(request.app.state.engine, permitted_uses(request))
    outcome = await run_in_threadpool(service.siting, parsed)
    rows = only_asset(outcome, asset_code)
    if f == "geojson":
        chunks = [orjson.dumps(feature) for feature in siting_features(outcome, rows, language)]
        return Response(feature_collection(chunks, {"numberReturned": len(chunks)}), media_type=GEOJSON)
    return Response(orjson.dumps(siting_json(outcome, rows, language)), media_type=JSON)
