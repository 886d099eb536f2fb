"""Planning scenarios: facilities added, moved or removed without touching the base layers; before/after.

Reading needs read access; creating, changing, evaluating and deleting need a planner, editor or admin key;
promoting (writing the changes into the base layers, with history) needs an editor or admin key.

``POST /scenarios/{id}/changes`` takes one change as JSON: ``{"action": "add", "layer": "service_points",
"feature": <GeoJSON Feature>}``, ``{"action": "move", "layer": ..., "code": ..., "geometry": <GeoJSON Point>}``
or ``{"action": "remove", "layer": ..., "code": ...}``; coordinates are in CRS84 unless ``crs`` (in the body) or
the ``Content-Crs`` header names another CRS, as in the edit API.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gis_service.api.links import GEOJSON, JSON, base_url, link, with_params
from gis_service.api.params import parse_crs_parameter
from gis_service.api.routes.analysis import MethodParam, StandardKey, run_response
from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.errors import InvalidInputError, PayloadTooLargeError
from gis_service.layers.validation import INT32_MAX
from gis_service.services.runs import RunService
from gis_service.services.scenarios import Change, ScenarioInfo, ScenarioService, require_planning

router = APIRouter(prefix="/scenarios", tags=["Scenarios"])
MAX_BODY_BYTES = 1024 * 1024  # one facility and its point
ScenarioRef = Annotated[str, Path(max_length=200, description="Scenario id or name")]
ChangeId = Annotated[int, Path(ge=1, le=INT32_MAX, description="Change id")]
ContentCrs = Annotated[str | None, Header(alias="Content-Crs", description="CRS of the body's coordinates, e.g. "
                                          "<http://www.opengis.net/def/crs/EPSG/0/4544> (default CRS84)")]
OK_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}}}}


class ScenarioIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="Unique name, e.g. 2022年代办站布局")
    description: str | None = Field(default=None, max_length=4000)


def _service(request: Request) -> ScenarioService:
    return ScenarioService(request.app.state.engine)


@router.get("", summary="Scenarios, newest first", response_class=Response, responses=OK_JSON)
async def list_scenarios(
    request: Request, _reader: ReaderDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> Response:
    scenarios, total = await run_in_threadpool(_service(request).page, limit, offset)
    url = str(request.url)
    links = [link(url, "self", JSON)]
    if offset + len(scenarios) < total:
        links.append(link(with_params(url, offset=offset + limit, limit=limit), "next", JSON))
    body = {"numberMatched": total, "numberReturned": len(scenarios),
            "scenarios": [_scenario_json(request, s) for s in scenarios], "links": links}
    return _json(body)


@router.post("", summary="Create a scenario", status_code=201, response_class=Response,
             responses={201: {"description": "Created; Location names it"}})
async def create_scenario(request: Request, principal: PrincipalDep, body: ScenarioIn) -> Response:
    created = await run_in_threadpool(_service(request).create, body.name, body.description, principal)
    url = _url(request, created)
    return _json(_scenario_json(request, created), 201, {"Location": url})


@router.get("/{ref}", summary="A scenario with its changes (stale: the base changed under a change)",
            response_class=Response, responses=OK_JSON)
async def get_scenario(request: Request, _reader: ReaderDep, ref: ScenarioRef) -> Response:
    return _json(_scenario_json(request, await run_in_threadpool(_service(request).get, ref)))


@router.delete("/{ref}", summary="Delete a draft scenario", status_code=204, response_class=Response)
async def delete_scenario(request: Request, principal: PrincipalDep, ref: ScenarioRef) -> Response:
    await run_in_threadpool(_service(request).delete, ref, principal)
    return Response(status_code=204)


@router.post("/{ref}/changes", summary="Add, move or remove a facility in the scenario", status_code=201,
             response_class=Response,
             openapi_extra={"requestBody": {"content": {JSON: {"schema": {"type": "object"}}}, "required": True}})
async def add_change(request: Request, principal: PrincipalDep, ref: ScenarioRef,
                     content_crs: ContentCrs = None) -> Response:
    require_planning(principal)  # before reading a body from someone who may not send one
    body = await _body(request)
    service = _service(request)
    action, layer = body.get("action"), body.get("layer")
    crs = _crs(body.get("crs") or content_crs)
    change: Change | None
    if action == "add":
        change = await run_in_threadpool(service.add, ref, str(layer), body.get("feature"), crs, principal)
    elif action == "move":
        change = await run_in_threadpool(service.move, ref, str(layer), _code(body), body.get("geometry"), crs,
                                         principal)
    elif action == "remove":
        change = await run_in_threadpool(service.remove, ref, str(layer), _code(body), principal)
    else:
        raise InvalidInputError(f"action must be add, move or remove, not {action!r}")
    if change is None:  # removing a facility the scenario had added drops the addition
        return _json({"change": None, "detail": f"the facility '{_code(body)}' added in this scenario was "
                                                "dropped from it"}, 200)
    return _json({"change": _change_json(change)}, 201)


@router.delete("/{ref}/changes/{change_id}", summary="Undo one change", status_code=204, response_class=Response)
async def drop_change(request: Request, principal: PrincipalDep, ref: ScenarioRef, change_id: ChangeId) -> Response:
    await run_in_threadpool(_service(request).drop_change, ref, change_id, principal)
    return Response(status_code=204)


@router.post("/{ref}/evaluate", summary="Coverage and 1+N before and after the scenario (stored as a run)",
             response_class=Response, responses=OK_JSON | {200: {"content": {JSON: {}, GEOJSON: {}}}})
async def evaluate(
    request: Request, principal: PrincipalDep, ref: ScenarioRef,
    standard: Annotated[list[StandardKey] | None, Query(description="Standards to evaluate (repeat); default: "
                                                        "those of the layers the scenario changes")] = None,
    method: MethodParam = "auto",
    metres: Annotated[float | None, Query(gt=0, le=100_000, description="Another distance threshold")] = None,
    minutes: Annotated[float | None, Query(gt=0, le=600, description="Another travel-time threshold")] = None,
    f: Annotated[Literal["json", "geojson"], Query(description="json: before/after; geojson: changed facilities "
                                                   "and settlements")] = "json",
) -> Response:
    require_planning(principal)
    scenario = await run_in_threadpool(_service(request).get, ref)
    parameters = {"scenario_id": scenario.id, "standards": standard, "method": method, "metres": metres,
                  "minutes": minutes}
    run = await run_in_threadpool(RunService(request.app.state.engine).run, "scenario", parameters, principal.name)
    return run_response(request, run, f)


@router.post("/{ref}/promote", summary="Write the scenario's changes into the base layers (editors, admins)",
             response_class=Response, responses=OK_JSON)
async def promote(request: Request, principal: PrincipalDep, ref: ScenarioRef) -> Response:
    promotion = await run_in_threadpool(_service(request).promote, ref, principal)
    return _json({"scenario": _scenario_json(request, promotion.scenario), "edits": list(promotion.edits)})


# ---------------------------------------------------------------------- helpers


async def _body(request: Request) -> dict[str, Any]:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLargeError(f"a change is at most {MAX_BODY_BYTES // 1024} kB")
    try:
        body = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidInputError('the body must be a JSON object: {"action": ..., "layer": ..., ...}')
    return body


def _code(body: dict[str, Any]) -> str:
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise InvalidInputError("'code' must name the facility (its code)")
    return code.strip()


def _crs(value: str | None) -> Any:
    text = value.strip().strip("<>").strip() if value else None
    return parse_crs_parameter(text, "crs")[0]


def _url(request: Request, scenario: ScenarioInfo) -> str:
    return f"{base_url(request)}/scenarios/{scenario.id}"


def _scenario_json(request: Request, scenario: ScenarioInfo) -> dict[str, Any]:
    url = _url(request, scenario)
    body = {key: value for key, value in asdict(scenario).items() if key != "changes"}
    if scenario.changes is not None:
        body["changes"] = [_change_json(c) for c in scenario.changes]
    body["links"] = [link(url, "self", JSON),
                     {"href": f"{url}/evaluate", "rel": "evaluate", "method": "POST"},
                     {"href": f"{url}/promote", "rel": "promote", "method": "POST"},
                     link(with_params(f"{base_url(request)}/analysis/runs", kind="scenario"), "runs", JSON)]
    return body


def _change_json(change: Change) -> dict[str, Any]:
    return asdict(change)


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type=JSON, headers=headers)
