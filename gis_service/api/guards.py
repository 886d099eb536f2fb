"""Requests refused before any route sees them."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gis_service.api.problems import problem


class RefuseNulBytes:
    """400 problem+json for a NUL byte anywhere in the path or query string.

    No code, name or value of this service holds one, and PostgreSQL refuses it inside text, so letting it
    through would turn a bad request into a database error (500) on whichever route forgot to check.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            response = problem(400, "Invalid input", "a NUL character (\\x00, %00) is not allowed in a request "
                                                     "(请求中不能含有空字符)", scope.get("path"))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query = bytes(scope.get("query_string", b"")).lower()
    raw_path = bytes(scope.get("raw_path") or b"").lower()
    return b"%00" in query or b"\x00" in query or b"%00" in raw_path or "\x00" in str(scope.get("path", ""))
