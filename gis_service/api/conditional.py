"""Conditional requests (RFC 9110 section 13): entity tags in If-Match and If-None-Match."""

from __future__ import annotations

from starlette.requests import Request

from gis_service.errors import PreconditionRequiredError


def entity_tags(header: str) -> tuple[str, ...]:
    """The tags of an ``If-Match``/``If-None-Match`` header (``*`` stays ``*``)."""
    return tuple(tag.strip() for tag in header.split(",") if tag.strip())


def none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison: ``W/"x"`` matches ``"x"``), or is ``*``."""
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == opaque for tag in entity_tags(header))


def if_match_tags(request: Request, header: str | None, resource: str) -> tuple[str, ...] | None:
    """The tags of an edit's ``If-Match`` header, or ``None`` when it has none and this server allows that.

    Parameters
    ----------
    request : Request
        The edit request (its app's settings say whether ``If-Match`` is required).
    header : str or None
        The ``If-Match`` header as sent.
    resource : str
        What is edited ("feature", "plan"), named in the 428 problem.

    Raises
    ------
    PreconditionRequiredError
        The header is missing and the setting ``require_if_match`` is on.
    """
    if header is None:
        if request.app.state.settings.require_if_match:
            raise PreconditionRequiredError(f"this server requires If-Match with the {resource}'s ETag; GET the "
                                            f"{resource} first and send its ETag")
        return None
    return entity_tags(header)
