"""Revitalisation plans (盘活方案) and stored documents: list, create, edit, strike off with evidence."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import orjson
import shapely
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import Response
from shapely.geometry import mapping
from starlette.concurrency import run_in_threadpool

from gis_service.access import Principal, require_edit
from gis_service.api.bodies import parse_json, read_body, require_media_type
from gis_service.api.conditional import if_match_tags
from gis_service.api.links import GEOJSON, JSON, base_url, link
from gis_service.api.routes import ledger_documents
from gis_service.api.routes.ledger_documents import (
    ERRORS,
    form_files,
    form_text,
    ledger_services,
    read_form,
    stage_files,
)
from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.errors import (
    InvalidInputError,
    LedgerInputRejectedError,
    RowProblem,
    UnsupportedMediaTypeError,
)
from gis_service.layers.validation import INT32_MAX
from gis_service.services.edits import VersionInfo
from gis_service.services.ledger_documents import StagedUpload
from gis_service.services.ledger_plans import LAYER, Plan, PlanQuery, PlanService
from gis_service.services.ledger_plans_fields import parse_date

router = APIRouter(tags=["Ledger: plans"])
router.include_router(ledger_documents.router)

MAX_JSON_BYTES = 64 * 1024  # a plan is a few hundred bytes
JSON_TYPES = ("application/json", "application/merge-patch+json")
PlanId = Annotated[int, FastAPIPath(ge=1, le=INT32_MAX, description="Plan id")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag of the plan version being changed")]
JSON_BODY = {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}
STRIKE_OFF_BODY = {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "evidence": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "documents": {"type": "string", "description": "ids of evidence uploaded before, comma-separated"},
        "note": {"type": "string"}, "date": {"type": "string", "format": "date"}}}},
    "application/json": {"schema": {"type": "object", "properties": {
        "documents": {"type": "array", "items": {"type": "integer"}}, "note": {"type": "string"},
        "date": {"type": "string", "format": "date"}}}}}, "required": True}
JSON_OK: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}}}}


async def get_plans(request: Request) -> PlanService:
    return ledger_services(request)[0]


PlansDep = Annotated[PlanService, Depends(get_plans)]


# ---------------------------------------------------------------------- reads


@router.get("/ledger/plans", summary="Revitalisation plans (盘活方案清单)", response_class=Response,
            responses={200: {"content": {JSON: {"schema": {"type": "object"}}, GEOJSON: {"schema": {
                "type": "object"}}}}, **ERRORS})
def list_plans(
    request: Request, plans: PlansDep, _reader: ReaderDep,
    status: Annotated[str | None, Query(description="pending, in_progress, struck_off (or 待实施…)")] = None,
    village_code: Annotated[str | None, Query(description="Village of the plans' assets")] = None,
    lead_unit: Annotated[str | None, Query(description="Part of the lead unit's name")] = None,
    mode: Annotated[str | None, Query(description="Revitalisation mode, code or label")] = None,
    asset_code: Annotated[str | None, Query(description="One asset's plan")] = None,
    overdue: Annotated[bool, Query(description="Only plans past their deadline and not struck off")] = False,
    as_of: Annotated[date | None, Query(description="Day overdue is judged on (default today)")] = None,
    f: Annotated[Literal["json", "geojson"], Query(description="geojson: the assets' points with the plans")] = "json",
) -> Response:
    day = as_of or date.today()
    query = PlanQuery(status=status, village_code=village_code, lead_unit=lead_unit, mode=mode,
                      asset_code=asset_code, overdue_as_of=day if overdue else None)
    found = plans.find(query)
    language = request.app.state.settings.language
    if f == "geojson":
        return _geojson(request, plans, found, day)
    body = {"numberReturned": len(found), "asOf": day.isoformat(),
            "plans": [_plan_json(request, p, language, day) for p in found],
            "links": [link(str(request.url), "self", JSON)]}
    return Response(orjson.dumps(body), media_type=JSON)


@router.get("/ledger/plans/{plan_id}", summary="One revitalisation plan", response_class=Response,
            responses={**JSON_OK, **ERRORS})
def get_plan(request: Request, plan_id: PlanId, plans: PlansDep, _reader: ReaderDep) -> Response:
    return _plan_response(request, plans.get(plan_id), 200)


@router.get("/ledger/plans/{plan_id}/history", summary="Changes of a plan, oldest first", response_class=Response,
            responses={**JSON_OK, **ERRORS})
def plan_history(request: Request, plan_id: PlanId, plans: PlansDep, _reader: ReaderDep) -> Response:
    versions = plans.history(plan_id)
    url = f"{base_url(request)}/ledger/plans/{plan_id}"
    body = {"layer": LAYER, "planId": plan_id, "versions": [_version_json(v) for v in versions],
            "links": [link(f"{url}/history", "self", JSON), link(url, "item", JSON)]}
    return Response(orjson.dumps(body), media_type=JSON)


# ---------------------------------------------------------------------- writes


@router.post("/ledger/plans", summary="Make the plan of an idle asset", status_code=201, response_class=Response,
             openapi_extra={"requestBody": JSON_BODY},
             responses={201: {"description": "Created; Location names the plan"}, **ERRORS})
async def create_plan(request: Request, principal: PrincipalDep, plans: PlansDep) -> Response:
    body = await _json_body(request, principal)
    plan = await run_in_threadpool(plans.create, body, principal)
    return _plan_response(request, plan, 201)


@router.patch("/ledger/plans/{plan_id}", summary="Change some fields of a plan", response_class=Response,
              openapi_extra={"requestBody": JSON_BODY}, responses={**JSON_OK, **ERRORS})
async def update_plan(request: Request, plan_id: PlanId, principal: PrincipalDep, plans: PlansDep,
                      if_match: IfMatch = None) -> Response:
    tags = if_match_tags(request, if_match, "plan")
    body = await _json_body(request, principal)
    plan = await run_in_threadpool(plans.update, plan_id, body, principal, tags)
    return _plan_response(request, plan, 200)


@router.post("/ledger/plans/{plan_id}/strike-off", summary="Strike a plan off (销号) with evidence",
             response_class=Response, openapi_extra={"requestBody": STRIKE_OFF_BODY}, responses={**JSON_OK, **ERRORS})
async def strike_off_plan(request: Request, plan_id: PlanId, principal: PrincipalDep, plans: PlansDep,
                          if_match: IfMatch = None) -> Response:
    tags = if_match_tags(request, if_match, "plan")
    await run_in_threadpool(plans.check_edit, plan_id, principal)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        plan = await _strike_off_multipart(request, plan_id, principal, plans, tags)
    elif media_type in JSON_TYPES:
        body = await _json_body(request, principal)
        if not isinstance(body, dict):
            raise InvalidInputError("send a JSON object with 'documents', 'note' and 'date'")
        plan = await run_in_threadpool(_strike_off, plans, plan_id, principal, tags, body.get("date"),
                                       body.get("note"), body.get("documents") or [], [])
    else:
        raise UnsupportedMediaTypeError("send evidence files as multipart/form-data, or name uploaded documents "
                                        f"in application/json (got '{media_type or 'nothing'}')")
    return _plan_response(request, plan, 200)


async def _strike_off_multipart(request: Request, plan_id: int, principal: Principal, plans: PlanService,
                                tags: tuple[str, ...] | None) -> Plan:
    form = await read_form(request, ledger_documents.MAX_FILES)
    staged: list[StagedUpload] = []
    try:
        # Every field is read and checked before any file is staged: a bad field costs no disk.
        documents = [part.strip() for part in (form_text(form, "documents") or "").split(",") if part.strip()]
        day, note = form_text(form, "date"), form_text(form, "note")
        files = form_files(form, "evidence")
        staged = await stage_files(plans.store, files)
        return await run_in_threadpool(_strike_off, plans, plan_id, principal, tags, day, note, documents, staged)
    finally:
        for upload in staged:  # placed ones are gone from staging already; the rest must not stay behind
            upload.discard()
        await form.close()


def _strike_off(plans: PlanService, plan_id: int, principal: Principal, tags: tuple[str, ...] | None,
                day: Any, note: Any, documents: Any, staged: list[Any]) -> Plan:
    """Parse the strike-off's fields (naming each bad one), then strike off; the staged files are consumed."""
    problems: list[RowProblem] = []
    try:
        on = None if day in (None, "") else parse_date(day)
    except ValueError as exc:
        problems.append(RowProblem("strike-off", None, "date", str(exc)))
    if note is not None and not isinstance(note, str):
        problems.append(RowProblem("strike-off", None, "note", "must be text"))
    ids = _document_ids(documents, problems)
    if problems:
        for upload in staged:
            upload.discard()
        raise LedgerInputRejectedError(problems=problems)
    return plans.strike_off(plan_id, principal, tags, on=on, note=(note or "").strip() or None, document_ids=ids,
                            uploads=staged)


def _document_ids(values: Any, problems: list[RowProblem]) -> list[int]:
    if not isinstance(values, list):
        problems.append(RowProblem("strike-off", None, "documents", "must be a list of document ids"))
        return []
    ids = []
    for value in values:
        document_id = _as_id(value)
        if document_id is None:
            problems.append(RowProblem("strike-off", None, "documents", f"{value!r} is not a document id"))
        else:
            ids.append(document_id)
    return ids


def _as_id(value: Any) -> int | None:
    """``value`` as a document id (1 to 2³¹-1, a number or its ASCII digits), else ``None``."""
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    # isdigit() alone lets through digits int() refuses ("²") or reads from other scripts ("٣"); the length
    # check keeps int() from ever seeing thousands of digits (it raises past 4,300).
    if not (text.isascii() and text.isdecimal()) or len(text.lstrip("0")) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= INT32_MAX else None


# ---------------------------------------------------------------------- helpers


async def _json_body(request: Request, principal: Principal) -> Any:
    """The JSON body, read only once the caller may edit plans at all."""
    require_edit(principal, LAYER)
    require_media_type(request, JSON_TYPES, "the plan")
    return parse_json(await read_body(request, MAX_JSON_BYTES))



def _plan_json(request: Request, plan: Plan, language: str, as_of: date) -> dict[str, Any]:
    base = base_url(request)
    url = f"{base}/ledger/plans/{plan.id}"
    links = [link(url, "self", JSON), link(f"{url}/history", "version-history", JSON),
             link(f"{base}/ledger/assets/{plan.asset_code}/documents", "related", JSON, "documents of the asset"),
             *(link(f"{base}/ledger/documents/{i}", "evidence", "application/octet-stream") for i in plan.evidence)]
    return {**plan.labelled(language, as_of), "links": links}


def _plan_response(request: Request, plan: Plan, status_code: int) -> Response:
    body = _plan_json(request, plan, request.app.state.settings.language, date.today())
    headers = {"ETag": plan.etag}
    if status_code == 201:
        headers["Location"] = body["links"][0]["href"]
    return Response(orjson.dumps(body), status_code=status_code, media_type=JSON, headers=headers)


def _geojson(request: Request, plans: PlanService, found: list[Plan], as_of: date) -> Response:
    """The plans on their assets' points (EPSG:4490 lon/lat, which GeoJSON readers take as WGS 84)."""
    language = request.app.state.settings.language
    points = plans.points(found)
    features = [{"type": "Feature", "id": plan.id,
                 "geometry": mapping(shapely.from_wkb(points[plan.asset_code])) if plan.asset_code in points else None,
                 "properties": plan.labelled(language, as_of)} for plan in found]
    body = {"type": "FeatureCollection", "numberReturned": len(features), "features": features}
    return Response(orjson.dumps(body), media_type=GEOJSON)


def _version_json(version: VersionInfo) -> dict[str, Any]:
    return {"planId": version.feature_id, "version": version.version, "action": version.action,
            "actor": version.actor, "changedAt": version.changed_at.isoformat(), "before": version.before,
            "after": version.after}
