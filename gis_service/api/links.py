"""Link objects and content negotiation shared by the OGC API routes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request

from gis_service.errors import InvalidInputError

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CSV = "text/csv"
MEDIA_TYPES = {"json": JSON, "geojson": GEOJSON, "html": HTML, "csv": CSV}


def link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"href": href, "rel": rel, "type": media_type}
    if title:
        out["title"] = title
    return out


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def negotiate(request: Request, allowed: tuple[str, ...], default: str = "json") -> str:
    """The output format: ``f=`` wins; otherwise a browser asking for HTML gets HTML."""
    requested = request.query_params.get("f")
    if requested:
        if requested not in allowed:
            raise InvalidInputError(f"f={requested} is not offered here; use one of {', '.join(allowed)}")
        return requested
    accept = request.headers.get("accept", "")
    html_at, json_at = accept.find(HTML), accept.find("json")
    if "html" in allowed and html_at >= 0 and (json_at < 0 or html_at < json_at):
        return "html"
    return default


def with_params(url: str, **params: Any) -> str:
    """``url`` with query parameters replaced (``None`` removes one)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in params.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = str(value)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
