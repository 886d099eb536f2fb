"""Request bodies read with a limit: the routes that take JSON or GeoJSON share these, so that no client can make
the server hold more than the limit, and every bad body gets the same problem (413, 415, 400)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from gis_service.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError


def require_media_type(request: Request, allowed: tuple[str, ...], what: str) -> None:
    """415 unless the body's ``Content-Type`` is one of ``allowed`` (``what``: what the body should be)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in allowed:
        raise UnsupportedMediaTypeError(f"send {what} as {allowed[0]} (got '{media_type or 'nothing'}')")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (declared, or while it arrives)."""
    too_large = PayloadTooLargeError(f"the body may hold at most {_size(limit)}")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdecimal() and int(declared) > limit:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large
    return bytes(raw)


def parse_json(raw: bytes) -> Any:
    """The JSON in ``raw``; 400 when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from None


def _size(limit: int) -> str:
    return f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit // 1024} KB"
