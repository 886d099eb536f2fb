"""Conditional requests (RFC 9110 section 13): entity tags in If-Match and If-None-Match."""

from __future__ import annotations


def entity_tags(header: str) -> tuple[str, ...]:
    """The tags of an ``If-Match``/``If-None-Match`` header (``*`` stays ``*``)."""
    return tuple(tag.strip() for tag in header.split(",") if tag.strip())


def none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison: ``W/"x"`` matches ``"x"``), or is ``*``."""
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == opaque for tag in entity_tags(header))
