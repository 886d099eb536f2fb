"""``GET /towns``: the towns this service serves, each with the root of its own API (``/towns/{code}/``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from gis_service.access import Principal
from gis_service.api.links import JSON, base_url, link
from gis_service.api.security import require_read_any_town
from gis_service.services.towns import TownService

router = APIRouter(tags=["Towns"])


@router.get("/towns", summary="The towns served here (those of the caller's key), with the API root of each")
async def list_towns(request: Request,
                     principal: Annotated[Principal, Depends(require_read_any_town)]) -> dict[str, Any]:
    service: TownService = request.app.state.towns
    towns = [t for t in await run_in_threadpool(service.list) if principal.serves(t.code)]
    root = base_url(request)
    return {"towns": [{"code": t.code, "name": t.name, "county_code": t.county_code, "default": t.default,
                       "links": [link(f"{root}/towns/{t.code}/", "root", JSON, t.name)]} for t in towns]}
