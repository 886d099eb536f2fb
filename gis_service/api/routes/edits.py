"""OGC API - Features Part 4 (Create, Replace, Update, Delete) and the edit history of features.

Bodies are GeoJSON in the CRS named by the ``Content-Crs`` header (default CRS84), in that CRS's axis
order. Every edit needs an editor or admin key, honours ``If-Match`` (412 when stale) and is recorded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gis_service.access import Principal, require_edit
from gis_service.api.bodies import parse_json, read_body, require_media_type
from gis_service.api.conditional import if_match_tags
from gis_service.api.deps import CollectionDep, EditsDep
from gis_service.api.geojson import feature_chunks, single_feature
from gis_service.api.links import GEOJSON, JSON, base_url, link, with_params
from gis_service.api.params import parse_crs_parameter
from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.crs import CRS84_URI, parse_crs
from gis_service.layers.registry import LayerSpec
from gis_service.layers.validation import INT32_MAX
from gis_service.services.edits import EditResult, VersionInfo

router = APIRouter(tags=["Editing and history"])

MAX_BODY_BYTES = 16 * 1024 * 1024  # a village boundary with every vertex is well under 1 MB
BODY_TYPES = ("application/geo+json", "application/json", "application/merge-patch+json")
Action = Literal["create", "replace", "update", "delete", "restore"]
FeatureId = Annotated[int, FastAPIPath(ge=1, le=INT32_MAX, description="Feature id")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag of the version being edited")]
ContentCrs = Annotated[str | None, Header(alias="Content-Crs", description="CRS of the body, e.g. "
                                          "<http://www.opengis.net/def/crs/EPSG/0/4544> (default CRS84)")]
FEATURE_BODY = {"content": {"application/geo+json": {"schema": {"type": "object"}}}, "required": True}
PROBLEM = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, **PROBLEM} for code, text in (
        (400, "Bad request"), (401, "No valid API key"), (403, "Role or villages do not allow it"),
        (404, "Not found"), (409, "Conflict"), (412, "Stale If-Match"), (413, "Body too large"),
        (415, "Not GeoJSON"), (422, "Invalid feature"), (428, "If-Match required"), (429, "Too many bad keys"))
}


async def _body(request: Request, layer: LayerSpec, principal: Principal) -> Any:
    """The JSON body, read only once the caller may edit ``layer`` (nobody else makes the server read
    megabytes), with 413/415/400 problems for what cannot be a feature."""
    require_edit(principal, layer.name)
    require_media_type(request, BODY_TYPES, "the feature")
    raw = await read_body(request, MAX_BODY_BYTES)
    return await run_in_threadpool(parse_json, raw)



def _feature_response(request: Request, layer: LayerSpec, result: EditResult, status_code: int) -> Response:
    """The feature as this edit stored it, in CRS84, with its new ETag (and Location)."""
    assert result.feature is not None  # only deletes leave none, and they answer 204
    self_url = f"{base_url(request)}/collections/{layer.name}/items/{result.feature_id}"
    body = single_feature(feature_chunks(result.feature, parse_crs(CRS84_URI))[0],
                          [link(self_url, "self", GEOJSON), link(f"{self_url}/history", "version-history", JSON)])
    headers = {"ETag": result.etag or "", "Content-Crs": f"<{CRS84_URI}>", "Location": self_url}
    return Response(body, status_code=status_code, media_type=GEOJSON, headers=headers)


async def _respond(request: Request, layer: LayerSpec, status_code: int, edit: Any, *args: Any) -> Response:
    """Run an edit and serialise its result in the thread pool (neither may block the event loop)."""
    result = await run_in_threadpool(edit, *args)
    return await run_in_threadpool(_feature_response, request, layer, result, status_code)


@router.post("/collections/{collection_id}/items", summary="Add a feature", status_code=201,
             response_class=Response, openapi_extra={"requestBody": FEATURE_BODY},
             responses={201: {"description": "Created; Location names the new feature"}, **ERRORS})
async def create_item(request: Request, layer: CollectionDep, principal: PrincipalDep, edits: EditsDep,
                      content_crs: ContentCrs = None) -> Response:
    crs = _body_crs(content_crs)
    body = await _body(request, layer, principal)
    return await _respond(request, layer, 201, edits.create, layer, body, crs, principal)


@router.put("/collections/{collection_id}/items/{feature_id}", summary="Replace a feature",
            response_class=Response, openapi_extra={"requestBody": FEATURE_BODY},
            responses={200: {"description": "Replaced"}, **ERRORS})
async def replace_item(request: Request, layer: CollectionDep, feature_id: FeatureId, principal: PrincipalDep,
                       edits: EditsDep, content_crs: ContentCrs = None, if_match: IfMatch = None) -> Response:
    crs = _body_crs(content_crs)
    body = await _body(request, layer, principal)
    tags = if_match_tags(request, if_match, "feature")
    return await _respond(request, layer, 200, edits.replace, layer, feature_id, body, crs, principal, tags)


@router.patch("/collections/{collection_id}/items/{feature_id}", summary="Change some fields of a feature",
              response_class=Response,
              openapi_extra={"requestBody": {"content": {"application/merge-patch+json": {"schema": {
                  "type": "object"}}}, "required": True}},
              responses={200: {"description": "Updated"}, **ERRORS})
async def update_item(request: Request, layer: CollectionDep, feature_id: FeatureId, principal: PrincipalDep,
                      edits: EditsDep, content_crs: ContentCrs = None, if_match: IfMatch = None) -> Response:
    crs = _body_crs(content_crs)
    body = await _body(request, layer, principal)
    tags = if_match_tags(request, if_match, "feature")
    return await _respond(request, layer, 200, edits.update, layer, feature_id, body, crs, principal, tags)


@router.delete("/collections/{collection_id}/items/{feature_id}", summary="Delete a feature", status_code=204,
               response_class=Response, responses={204: {"description": "Deleted"}, **ERRORS})
def delete_item(request: Request, layer: CollectionDep, feature_id: FeatureId, principal: PrincipalDep,
                edits: EditsDep, if_match: IfMatch = None) -> Response:
    edits.delete(layer, feature_id, principal, if_match_tags(request, if_match, "feature"))
    return Response(status_code=204)


@router.options("/collections/{collection_id}/items", summary="Methods allowed on the features",
                response_class=Response, responses={204: {"description": "See the Allow header"}})
def items_options(layer: CollectionDep, principal: PrincipalDep) -> Response:
    return _allow(["GET", "OPTIONS"], ["POST"], layer, principal)


@router.options("/collections/{collection_id}/items/{feature_id}", summary="Methods allowed on a feature",
                response_class=Response, responses={204: {"description": "See the Allow header"}})
def item_options(layer: CollectionDep, feature_id: FeatureId, principal: PrincipalDep) -> Response:
    return _allow(["GET", "OPTIONS"], ["PUT", "PATCH", "DELETE"], layer, principal)


def _allow(reads: list[str], writes: list[str], layer: LayerSpec, principal: Principal) -> Response:
    """``Allow`` lists the writes only for a caller who may make them: QGIS turns editing on from it."""
    methods = reads + (writes if principal.can_edit(layer.name) else [])
    return Response(status_code=204, headers={"Allow": ", ".join(methods)})


def _body_crs(content_crs: str | None) -> Any:
    value = content_crs.strip().strip("<>").strip() if content_crs else None
    return parse_crs_parameter(value, "Content-Crs")[0]


# ---------------------------------------------------------------------- history


@router.get("/collections/{collection_id}/items/{feature_id}/history", summary="Versions of a feature",
            response_class=Response, responses={200: {"content": {JSON: {"schema": {"type": "object"}}}}, **ERRORS})
def item_history(request: Request, layer: CollectionDep, feature_id: FeatureId, edits: EditsDep,
                 _reader: ReaderDep) -> Response:
    versions = edits.history(layer, feature_id)
    base = f"{base_url(request)}/collections/{layer.name}/items/{feature_id}"
    body = {"collection": layer.name, "featureId": feature_id,
            "versions": [_version_json(v, base) for v in versions],
            "links": [link(f"{base}/history", "self", JSON), link(base, "item", GEOJSON)]}
    return Response(orjson.dumps(body), media_type=JSON)


@router.get("/collections/{collection_id}/history", summary="Changes to a layer, newest first",
            response_class=Response, responses={200: {"content": {JSON: {"schema": {"type": "object"}}}}, **ERRORS})
def layer_history(
    request: Request, layer: CollectionDep, edits: EditsDep, _reader: ReaderDep,
    action: Annotated[Action | None, Query(description="Only this kind of change, e.g. delete (to find "
                                           "features to bring back)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> Response:
    changes, total = edits.changes(layer, action, limit, offset)
    url = str(request.url)
    items = f"{base_url(request)}/collections/{layer.name}/items"
    links = [link(url, "self", JSON)]
    if offset + len(changes) < total:
        links.append(link(with_params(url, offset=offset + limit, limit=limit), "next", JSON))
    body = {"collection": layer.name, "numberMatched": total, "numberReturned": len(changes),
            "changes": [_version_json(v, f"{items}/{v.feature_id}") for v in changes], "links": links}
    return Response(orjson.dumps(body), media_type=JSON)


@router.post("/collections/{collection_id}/items/{feature_id}/history/{version}/restore",
             summary="Restore a feature to a version (brings a deleted feature back)", response_class=Response,
             responses={200: {"description": "Restored"}, **ERRORS})
def restore_item(
    request: Request, layer: CollectionDep, feature_id: FeatureId, principal: PrincipalDep, edits: EditsDep,
    version: Annotated[int, FastAPIPath(ge=0, le=INT32_MAX, description="Version to restore; 0 is the state "
                                        "before the first recorded change")],
    if_match: IfMatch = None,
) -> Response:
    result = edits.restore(layer, feature_id, version, principal, if_match_tags(request, if_match, "feature"))
    return _feature_response(request, layer, result, 200)


def _version_json(version: VersionInfo, item_url: str) -> dict[str, Any]:
    restore = f"{item_url}/history/{version.version}/restore"
    return {"featureId": version.feature_id, "version": version.version, "action": version.action,
            "actor": version.actor, "changedAt": version.changed_at.isoformat(), "before": version.before,
            "after": version.after,
            "links": [] if version.after is None else [{"href": restore, "rel": "restore", "method": "POST"}]}
