"""RFC 9457 problem details: every error response of the API, mapped in this one place."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis_service.errors import AuthenticationRequiredError, GisServiceError, ImportRejectedError, TooManyAttemptsError

log = logging.getLogger("gis_service.api")
PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, instance: str | None = None, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into problem+json."""

    @app.exception_handler(GisServiceError)
    async def _domain(request: Request, exc: GisServiceError) -> Response:
        extra: dict[str, Any] = {}
        if isinstance(exc, ImportRejectedError):
            extra["problems"] = [p.__dict__ for p in exc.problems]
        if exc.status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc.detail)
        response = problem(exc.status, exc.title, exc.detail, request.url.path, **extra)
        if isinstance(exc, AuthenticationRequiredError):
            response.headers["WWW-Authenticate"] = 'Bearer realm="gis_service"'
        if isinstance(exc, TooManyAttemptsError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        messages = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
            messages.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
        return problem(400, "Invalid request", "; ".join(messages), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 406: "Not acceptable"}
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"nothing at {request.url.path}"
        response = problem(exc.status_code, titles.get(exc.status_code, "Error"), detail, request.url.path)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> Response:
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(503, "Database unavailable", "the database cannot be reached; try again shortly",
                       request.url.path)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError) -> Response:
        # Checks run before writes, so this is a race they could not see (or data written around the API).
        log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem(409, "Conflict", "the change conflicts with data stored meanwhile (e.g. a code now taken); "
                       "read the current state and try again", request.url.path)

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(request: Request, exc: PoolTimeoutError) -> Response:
        log.error("no database connection free for %s %s", request.method, request.url.path)
        return problem(503, "Service busy", "all database connections are in use; try again shortly",
                       request.url.path)

    @app.exception_handler(DataError)
    async def _refused_value(request: Request, exc: DataError) -> Response:
        # A value the database cannot hold (PostgreSQL: a NUL character in text, a number out of range): the
        # request's data, not the server, is at fault, and nothing was written (the transaction rolled back).
        log.warning("value refused by the database on %s %s: %s", request.method, request.url.path, exc.orig)
        reason = "a NUL character (\\u0000) in a text value" if "NUL" in str(exc.orig) else "a value it cannot hold"
        return problem(400, "Invalid input", f"the database refused {reason}; nothing was written", request.url.path)

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        log.exception("database error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "the database refused the request", request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged", request.url.path)
