"""OGC API - Features Part 1 (Core) and Part 2 (CRS): landing page, conformance, collections, items.

Routes only parse, call a service and shape the response; GeoJSON is serialised once with orjson.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import geopandas as gpd
import orjson
from fastapi import APIRouter, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from gis_service.api.cache import CachedResponse, ResponseCache, cached_response
from gis_service.api.deps import CollectionDep, FeaturesDep, LayersDep, SettingsDep
from gis_service.api.geojson import etag, feature_chunks, feature_collection, single_feature
from gis_service.api.links import (
    CSV,
    GEOJSON,
    HTML,
    JSON,
    MEDIA_TYPES,
    OPENAPI,
    base_url,
    link,
    negotiate,
    with_params,
)
from gis_service.api.params import (
    DEFAULT_LIMIT,
    FILTER_LANGUAGES,
    MAX_LIMIT,
    ItemsRequest,
    parse_crs_parameter,
    parse_items,
)
from gis_service.api.towns import request_town
from gis_service.api.versions import LayerVersions
from gis_service.crs import API_CRS, CRS84_URI, epsg_code, ogc_uri, storage_crs
from gis_service.fileio.writers import office_table, reproject, with_field_types
from gis_service.layers.codelists import CODELISTS
from gis_service.layers.registry import LayerSpec
from gis_service.layers.validation import INT32_MAX
from gis_service.services.features import Features, FeatureService, feature_etag
from gis_service.tiles import MAX_ZOOM

MVT = "application/vnd.mapbox-vector-tile"

router = APIRouter()

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-operators",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
]
QUERYABLE_TYPES = {"text": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
                   "date": {"type": "string", "format": "date"}}
log = logging.getLogger("gis_service.api")

def _content(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of a route: what 200 can be, and the problem+json of errors."""
    problem = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}
    return {200: {"content": {m: {"schema": {"type": "string"} if m in (HTML, CSV) else {"type": "object"}}
                              for m in media_types}},
            400: {"description": "Bad request", **problem}, 404: {"description": "Not found", **problem}}


DOC = _content(JSON, HTML)
FormatParam = Annotated[str | None, Query(alias="f", description="Output format", pattern="^(json|html)$")]


def _json(body: Any, media_type: str = JSON, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), media_type=media_type, headers=headers)


def _html(request: Request, template: str, **context: Any) -> HTMLResponse:
    templates = request.app.state.templates
    settings = request.app.state.settings
    return templates.TemplateResponse(request, template, {"lang": settings.language, **context})


@router.get("/", summary="Landing page", tags=["OGC API - Features"], response_class=Response, responses=DOC)
def landing(request: Request, settings: SettingsDep, f: FormatParam = None) -> Response:
    base = base_url(request)
    title = "蓬莱镇公有资产与公共服务空间数据服务" if settings.language == "zh" else "Penglai town GIS service"
    body = {
        "title": title,
        "description": "OGC API - Features for the layers of the town: assets, villages, 1+N service points, "
                       "schools, facilities, settlements, roads, rivers and planning zones.",
        "links": [
            link(f"{base}/", "self", JSON, "this document"),
            link(f"{base}/?f=html", "alternate", HTML, "this document as HTML"),
            link(f"{base}/api", "service-desc", OPENAPI, "the API definition"),
            link(f"{base}/api.html", "service-doc", HTML, "the API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
            link(f"{base}/collections", "data", JSON, "the layers"),
        ],
    }
    if negotiate(request, ("json", "html")) == "html":
        return _html(request, "landing.html", doc=body)
    return _json(body)


@router.get("/conformance", summary="Conformance classes", tags=["OGC API - Features"], response_class=Response,
            responses=DOC)
def conformance(request: Request, f: FormatParam = None) -> Response:
    body = {"conformsTo": CONFORMANCE}
    if negotiate(request, ("json", "html")) == "html":
        return _html(request, "conformance.html", doc=body)
    return _json(body)


def _collection(request: Request, layer: LayerSpec, extent: tuple[float, float, float, float] | None,
                count: int, language: str) -> dict[str, Any]:
    base = f"{base_url(request)}/collections/{layer.name}"
    body: dict[str, Any] = {
        "id": layer.name,
        "title": layer.title(language),
        "description": f"{layer.zh} / {layer.en}: {count} features, {layer.geometry_type.title()}",
        "itemType": "feature",
        "crs": list(API_CRS),
        "storageCrs": ogc_uri(storage_crs()),
        "links": [
            link(base, "self", JSON, "this collection"),
            link(f"{base}?f=html", "alternate", HTML, "this collection as HTML"),
            link(f"{base}/items", "items", GEOJSON, "the features"),
            link(f"{base}/items?f=html", "items", HTML, "the features as HTML"),
            link(f"{base}/items?f=csv", "items", CSV, "the features as CSV"),
            link(f"{base}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                 "application/schema+json", "the properties a filter can use"),
        ],
    }
    if extent is not None:
        body["extent"] = {"spatial": {"bbox": [list(extent)], "crs": CRS84_URI}}
    return body


@router.get("/collections", summary="The layers", tags=["OGC API - Features"], response_class=Response,
            responses=DOC)
def collections(request: Request, settings: SettingsDep, service: LayersDep, f: FormatParam = None) -> Response:
    items = [_collection(request, s.layer, s.stats.extent, s.stats.count, settings.language)
             for s in service.summaries()]
    base = f"{base_url(request)}/collections"
    body = {"collections": items,
            "links": [link(base, "self", JSON), link(f"{base}?f=html", "alternate", HTML)]}
    if negotiate(request, ("json", "html")) == "html":
        return _html(request, "collections.html", doc=body)
    return _json(body)


@router.get("/collections/{collection_id}", summary="One layer", tags=["OGC API - Features"],
            response_class=Response, responses=DOC)
def collection(
    request: Request, layer: CollectionDep, settings: SettingsDep, service: LayersDep, f: FormatParam = None
) -> Response:
    summary = service.summary(layer.name)
    body = _collection(request, layer, summary.stats.extent, summary.stats.count, settings.language)
    if negotiate(request, ("json", "html")) == "html":
        return _html(request, "collection.html", doc=body, layer=layer)
    return _json(body)


@router.get("/collections/{collection_id}/items", summary="Features of a layer", tags=["OGC API - Features"],
            response_class=Response, responses=_content(GEOJSON, HTML, CSV))
async def items(
    request: Request,
    layer: CollectionDep,
    service: FeaturesDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, description=f"Features per page (at most {MAX_LIMIT}; larger values "
                                f"are reduced to it)", json_schema_extra={"maximum": MAX_LIMIT})] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Features to skip")] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (default CRS84)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", json_schema_extra={"enum": list(API_CRS)})] = None,
    crs: Annotated[str | None, Query(description="CRS of the response",
                                     json_schema_extra={"enum": list(API_CRS)})] = None,
    properties: Annotated[str | None, Query(description="Comma-separated fields to return")] = None,
    sortby: Annotated[str | None, Query(description="Fields to sort by, e.g. -population,name")] = None,
    f: Annotated[str | None, Query(pattern="^(json|geojson|html|csv)$")] = None,
    filter: Annotated[str | None, Query(description="CQL2 filter, e.g. use_status='idle' AND floor_area > 100")]
    = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", json_schema_extra={"enum": list(FILTER_LANGUAGES)})]
    = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", json_schema_extra={"enum": list(API_CRS)})] = None,
) -> Response:
    fmt = negotiate(request, ("json", "geojson", "html", "csv"), default="geojson")
    if bbox or filter:  # they may reproject coordinates: not on the event loop
        parsed = await run_in_threadpool(parse_items, layer, request.query_params, fmt)
    else:
        parsed = parse_items(layer, request.query_params, fmt)
    if filter:
        log.info("CQL2 filter on %s (%s): %s", layer.name, filter_lang or "cql2-text", filter)
    if parsed.query.equals:
        log.info("property filter on %s: %s", layer.name, parsed.query.equals)
    cache: ResponseCache = request.app.state.cache
    # The version is read before the features: an entry can only hold data at least as new as its key.
    versions: LayerVersions = request.app.state.versions
    key = ("items", request_town(request), layer.name, await versions.version(layer.name), fmt, str(request.url))
    entry = cache.get(key)
    if entry is None:
        entry = await run_in_threadpool(_items_entry, request, layer, service, parsed, settings.language)
        cache.put(key, entry)
    return cached_response(request, entry)


def _items_entry(request: Request, layer: LayerSpec, service: FeatureService, parsed: ItemsRequest,
                 language: str) -> CachedResponse:
    """The finished /items response, ready to cache."""
    page = service.page(layer, parsed.query)
    features = _select_properties(page.features, parsed.properties)
    returned = len(features)
    url = str(request.url)
    fmt = parsed.fmt
    links = [link(url, "self", MEDIA_TYPES[fmt] if fmt != "json" else GEOJSON),
             link(with_params(url, f="html"), "alternate", HTML),
             link(f"{base_url(request)}/collections/{layer.name}", "collection", JSON)]
    query = parsed.query
    if query.offset + returned < page.number_matched:
        links.append(link(with_params(url, offset=query.offset + query.limit, limit=query.limit), "next", GEOJSON))
    if query.offset > 0:
        links.append(link(with_params(url, offset=max(0, query.offset - query.limit), limit=query.limit),
                          "prev", GEOJSON))
    headers = {"Content-Crs": f"<{parsed.crs_uri}>"}
    if fmt == "csv":
        return _csv(features, parsed.crs, language, headers)
    if fmt == "html":
        html = _html(request, "items.html", layer=layer, features=features, links=links,
                     matched=page.number_matched, offset=query.offset)
        return CachedResponse(bytes(html.body), HTML + "; charset=utf-8")
    members = {"numberMatched": page.number_matched, "numberReturned": returned,
               "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"), "links": links}
    body = feature_collection(feature_chunks(features, parsed.crs), members)
    return CachedResponse(body, GEOJSON, {**headers, "ETag": etag(body)})


@router.get("/collections/{collection_id}/queryables", summary="Queryable properties", tags=["OGC API - Features"],
            response_class=Response, responses=_content("application/schema+json"))
def queryables(request: Request, layer: CollectionDep, settings: SettingsDep) -> Response:
    properties: dict[str, Any] = {
        spec.name: {**QUERYABLE_TYPES[spec.kind], "title": spec.alias(settings.language),
                    **({"enum": list(CODELISTS[spec.info.codelist])} if spec.info.codelist else {})}
        for spec in layer.fields
    }
    properties["geom"] = {"format": f"geometry-{layer.geometry_type.lower().replace('multi', 'multi')}",
                          "x-ogc-role": "primary-geometry"}
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base_url(request)}/collections/{layer.name}/queryables",
            "type": "object", "title": layer.title(settings.language), "properties": properties,
            "additionalProperties": False}
    return _json(body, media_type="application/schema+json")


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json", summary="TileJSON of a layer",
            tags=["Vector tiles"], response_class=Response, responses=_content(JSON))
def tilejson(request: Request, layer: CollectionDep, service: LayersDep) -> Response:
    extent = service.summary(layer.name).stats.extent
    base = f"{base_url(request)}/collections/{layer.name}/tiles/WebMercatorQuad"
    body = {
        "tilejson": "3.0.0", "name": layer.name, "description": f"{layer.zh} / {layer.en}",
        "tiles": [base + "/{z}/{x}/{y}"], "minzoom": 0, "maxzoom": MAX_ZOOM, "scheme": "xyz",
        "bounds": list(extent) if extent else [-180, -85.05, 180, 85.05],
        "vector_layers": [{"id": layer.name, "fields": {f.name: f.info.zh for f in layer.fields}}],
    }
    return _json(body)


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}", summary="Vector tile of a layer",
            tags=["Vector tiles"], response_class=Response,
            responses=_content(MVT) | {204: {"description": "No features in this tile"}})
async def tile(
    request: Request, layer: CollectionDep,
    z: Annotated[int, FastAPIPath(ge=0, le=MAX_ZOOM)], x: Annotated[int, FastAPIPath(ge=0, le=INT32_MAX)],
    y: Annotated[int, FastAPIPath(ge=0, le=INT32_MAX)],
) -> Response:
    cache: ResponseCache = request.app.state.cache
    versions: LayerVersions = request.app.state.versions
    key = ("tile", request_town(request), layer.name, await versions.version(layer.name), z, x, y)
    entry = cache.get(key)
    if entry is None:
        data = await run_in_threadpool(request.app.state.tiles.tile, layer, z, x, y)
        entry = CachedResponse(data, MVT, {"ETag": etag(data)}, status_code=200 if data else 204)
        cache.put(key, entry)
    return cached_response(request, entry)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature", tags=["OGC API - Features"],
            response_class=Response, responses={**_content(GEOJSON, HTML), 304: {"description": "Not modified"}})
def item(
    request: Request,
    layer: CollectionDep,
    feature_id: Annotated[int, FastAPIPath(ge=1, le=INT32_MAX, description="Feature id")],
    service: FeaturesDep,
    crs: Annotated[str | None, Query(description="CRS of the response",
                                     json_schema_extra={"enum": list(API_CRS)})] = None,
    f: Annotated[str | None, Query(pattern="^(json|geojson|html)$")] = None,
) -> Response:
    fmt = negotiate(request, ("json", "geojson", "html"), default="geojson")
    target, uri = parse_crs_parameter(crs, "crs")
    feature = service.get(layer, feature_id)
    base = f"{base_url(request)}/collections/{layer.name}"
    if fmt == "html":
        return _html(request, "item.html", layer=layer, features=feature)
    links = [link(f"{base}/items/{feature_id}", "self", GEOJSON), link(f"{base}/items/{feature_id}?f=html",
             "alternate", HTML), link(base, "collection", JSON)]
    body = single_feature(feature_chunks(feature, target)[0], links)
    # The tag is of the feature's content, the same in every CRS, so an editor may send back in If-Match
    # the tag of whatever representation it read (the URL, with its crs parameter, tells them apart).
    entry = CachedResponse(body, GEOJSON, {"Content-Crs": f"<{uri}>", "ETag": feature_etag(feature, 0)})
    return cached_response(request, entry)


def _select_properties(features: Features, names: tuple[str, ...] | None) -> Features:
    if names is None:
        return features
    keep = set(names)
    features.properties = [{k: v for k, v in p.items() if k in keep} for p in features.properties]
    features.extra_geometries = {k: v for k, v in features.extra_geometries.items() if k in keep}
    return features


def _csv(features: Features, crs: Any, language: str, headers: dict[str, str]) -> CachedResponse:
    layer = features.layer
    frame = gpd.GeoDataFrame(features.properties, geometry=gpd.GeoSeries(features.geometries, crs=4490))
    for name, geoms in features.extra_geometries.items():
        frame[name] = geoms
    target = crs if epsg_code(crs) is not None else storage_crs()
    frame = with_field_types(reproject(frame, layer, target), layer)
    table = office_table(frame, layer, target, language)
    headers = {**headers, "Content-Crs": f"<{ogc_uri(target)}>",
               "Content-Disposition": f'attachment; filename="{layer.name}.csv"'}
    return CachedResponse(table.to_csv(index=False).encode("utf-8-sig"), f"{CSV}; charset=utf-8", headers)
