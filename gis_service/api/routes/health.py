"""Liveness and readiness for process supervisors and load balancers (no key needed, nothing sensitive)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from gis_service import __version__
from gis_service.db.migrate import head_revision
from gis_service.errors import DatabaseUnavailableError
from gis_service.repositories.snapshot import schema_revision

router = APIRouter(tags=["Operations"])


@router.get("/health", summary="The process is up", response_class=Response)
async def health() -> Response:
    return Response(orjson.dumps({"status": "ok", "version": __version__}), media_type="application/json")


@router.get("/ready", summary="The database answers and its schema is current", response_class=Response,
            responses={503: {"description": "Not ready", "content": {"application/problem+json": {}}}})
async def ready(request: Request) -> Response:
    engine = request.app.state.engine

    def check() -> str:
        with engine.connect() as conn:
            return schema_revision(conn)

    revision = await run_in_threadpool(check)
    if revision != head_revision():
        raise DatabaseUnavailableError(f"the database schema is at {revision}, this service needs "
                                       f"{head_revision()}: run gis-service db upgrade")
    body = {"status": "ready", "database": engine.dialect.name, "schema": revision, "version": __version__}
    return Response(orjson.dumps(body), media_type="application/json")
