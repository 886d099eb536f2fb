"""Query parameters of /items: parsed and checked into a FeatureQuery and output options."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pyproj import CRS
from starlette.datastructures import QueryParams

from gis_service.crs import API_CRS, CRS84_URI, bbox_to_storage, north_first, parse_crs
from gis_service.errors import InvalidInputError
from gis_service.layers.registry import LayerSpec
from gis_service.layers.validation import INT64_MAX
from gis_service.repositories.features import FeatureQuery
from gis_service.services.features import parse_equals

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
# Parameters of /items besides one equality filter per field.
ITEMS_PARAMETERS = {"limit", "offset", "bbox", "bbox-crs", "crs", "properties", "sortby", "f", "datetime", "lang",
                    "filter", "filter-lang", "filter-crs"}
FILTER_LANGUAGES = ("cql2-text", "cql2-json")


@dataclass(frozen=True)
class ItemsRequest:
    query: FeatureQuery
    crs: CRS
    crs_uri: str
    properties: tuple[str, ...] | None
    fmt: str


def parse_crs_parameter(value: str | None, name: str) -> tuple[CRS, str]:
    """A ``crs``/``bbox-crs`` value: one of the OGC URIs the API offers (default CRS84)."""
    uri = value or CRS84_URI
    if uri not in API_CRS:
        raise InvalidInputError(f"{name} '{uri}' is not offered; use one of: {', '.join(API_CRS)}")
    return parse_crs(uri), uri


def parse_items(layer: LayerSpec, params: QueryParams, fmt: str) -> ItemsRequest:
    """Check every parameter of an /items request; unknown parameters are an error, not ignored."""
    fields = {f.name for f in layer.fields}
    unknown = [k for k in params if k not in ITEMS_PARAMETERS and k not in fields]
    if unknown:
        raise InvalidInputError(
            f"unknown parameter(s) {', '.join(unknown)}; fields of {layer.name} are: {', '.join(sorted(fields))}")
    limit = min(_integer(params, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    offset = _integer(params, "offset", 0, 0)
    crs, crs_uri = parse_crs_parameter(params.get("crs"), "crs")
    bbox = None
    if params.get("bbox"):
        bbox_crs, _ = parse_crs_parameter(params.get("bbox-crs"), "bbox-crs")
        first_low, second_low, first_high, second_high = _bbox(params["bbox"])
        if north_first(bbox_crs):  # the bbox is in the CRS's axis order: latitude/northing first
            first_low, second_low, first_high, second_high = second_low, first_low, second_high, first_high
        bbox = bbox_to_storage((first_low, second_low, first_high, second_high), bbox_crs)
    equals = parse_equals(layer, {k: v for k, v in params.items() if k in fields})
    cql2 = parse_filter(params["filter"], params.get("filter-lang")) if params.get("filter") else None
    filter_crs, _ = parse_crs_parameter(params.get("filter-crs"), "filter-crs")
    query = FeatureQuery(equals=equals, bbox=bbox, sortby=_sortby(params.get("sortby"), fields),
                         limit=limit, offset=offset, cql2=cql2, filter_crs=filter_crs)
    return ItemsRequest(query, crs, crs_uri, _properties(params.get("properties"), fields), fmt)


def parse_filter(text: str, language: str | None) -> Any:
    """Parse a CQL2 filter (cql2-text by default) with pygeofilter; syntax errors are 400s."""
    language = language or "cql2-text"
    if language not in FILTER_LANGUAGES:
        raise InvalidInputError(f"filter-lang '{language}' is not offered; use cql2-text or cql2-json")
    try:
        if language == "cql2-json":
            from pygeofilter.parsers.cql2_json import parse as parse_json

            return parse_json(json.loads(text))
        from pygeofilter.parsers.cql2_text import parse as parse_text

        return parse_text(text)
    except Exception as exc:  # lark and json raise many kinds; all mean a malformed filter
        raise InvalidInputError(f"filter is not valid {language}: {str(exc).splitlines()[0][:200]}") from None


def _integer(params: QueryParams, name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be a whole number, not '{raw}'") from None
    if value < minimum:
        raise InvalidInputError(f"{name} must be at least {minimum}")
    if value > INT64_MAX:
        raise InvalidInputError(f"{name} is too large")
    return value


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InvalidInputError(f"bbox must be four numbers: minx,miny,maxx,maxy (got '{raw}')") from None
    if len(values) == 6:  # 3D bbox: drop heights
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise InvalidInputError(f"bbox must be four numbers: minx,miny,maxx,maxy (got '{raw}')")
    if values[0] > values[2] or values[1] > values[3]:
        raise InvalidInputError("bbox: the lower corner must come first")
    return values[0], values[1], values[2], values[3]


def _sortby(raw: str | None, fields: set[str]) -> tuple[tuple[str, bool], ...]:
    if not raw:
        return ()
    keys = []
    for item in raw.split(","):
        item = item.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in fields:
            raise InvalidInputError(f"sortby: '{name}' is not a field; fields are: {', '.join(sorted(fields))}")
        keys.append((name, descending))
    return tuple(keys)


def _properties(raw: str | None, fields: set[str]) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise InvalidInputError(f"properties: unknown field(s) {', '.join(unknown)}")
    return names
