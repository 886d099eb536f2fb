"""Liveness and readiness for process supervisors and load balancers (no key needed, nothing sensitive)."""

from __future__ import annotations

import os
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from gis_service import __version__
from gis_service.db.migrate import head_revision
from gis_service.errors import DatabaseUnavailableError
from gis_service.repositories.snapshot import schema_revision

router = APIRouter(tags=["Operations"])


@router.get("/health", summary="The process is up", response_class=Response)
async def health() -> Response:
    # The worker's process id tells a load balancer's check (and the tests) which of ``--workers`` answered.
    body = {"status": "ok", "version": __version__, "worker": os.getpid()}
    return Response(orjson.dumps(body), media_type="application/json")


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
    town = request.app.state.settings.town_code
    if town not in await run_in_threadpool(request.app.state.towns.codes):
        raise DatabaseUnavailableError(f"the database serves no town {town} (GIS_TOWN_CODE): add it with "
                                       "gis-service towns add, or set GIS_TOWN_CODE to one of gis-service towns list")
    body = {"status": "ready", "database": engine.dialect.name, "schema": revision, "version": __version__,
            "worker": os.getpid(), "pool": pool_state(engine)}
    return Response(orjson.dumps(body), media_type="application/json")


def pool_state(engine: Engine) -> dict[str, Any]:
    """This worker's connection pool: its configured size and overflow, and the connections in use now.

    Every worker has a pool of its own, so a server with N workers holds up to N x (size + overflow) connections.
    """
    pool = engine.pool
    size = getattr(pool, "size", None)
    max_overflow = getattr(pool, "_max_overflow", None)  # QueuePool keeps its limit here only
    checked_out = getattr(pool, "checkedout", None)
    return {"class": type(pool).__name__, "size": size() if callable(size) else None,
            "max_overflow": max_overflow if isinstance(max_overflow, int) else None,
            "checked_out": checked_out() if callable(checked_out) else None}
