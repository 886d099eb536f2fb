"""The FastAPI application, built by :func:`create_app` from settings; nothing is built at import."""

from __future__ import annotations

import threading
from importlib.resources import files

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from gis_service import __version__, crs
from gis_service.api import openapi, problems
from gis_service.api.cache import ResponseCache
from gis_service.api.guards import RefuseNulBytes
from gis_service.api.routes import (
    analysis,
    conformance,
    edits,
    health,
    ledger_books,
    ledger_plans,
    ledger_registry,
    maps,
    ogc,
    planning_io,
    runs,
    scenarios,
    siting,
    towns,
)
from gis_service.api.security import FailedAttempts, require_read
from gis_service.api.towns import TownDirectory, TownRouting
from gis_service.api.versions import LayerVersions
from gis_service.db.engine import create_db_engine
from gis_service.services.edits import EditService
from gis_service.services.features import FeatureService
from gis_service.services.layers import LayerService
from gis_service.services.tiles import TileService
from gis_service.services.towns import TownService
from gis_service.services.users import UserService
from gis_service.settings import Settings, get_settings


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: from the environment) on ``engine`` (default: a new one).

    The engine connects lazily, on the first request.
    """
    settings = settings or get_settings()
    engine = engine or create_db_engine(settings)
    app = FastAPI(
        title="蓬莱镇空间数据服务 Penglai GIS service",
        version=__version__,
        description="OGC API - Features for the layers of a township: public assets, merged and former "
                    "villages, 1+N service points, schools, facilities, settlements, roads, rivers, bridges "
                    "and planning zones.",
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.features = FeatureService(engine)
    app.state.layers = LayerService(engine)
    app.state.tiles = TileService(engine)
    app.state.edits = EditService(engine)
    app.state.users = UserService(engine)
    app.state.cache = ResponseCache(settings.response_cache_mb * 2**20)
    app.state.versions = LayerVersions(app.state.features.versions, settings.town_code)
    app.state.towns = TownService(engine)
    app.state.failed_attempts = FailedAttempts(settings.auth_failures_allowed, settings.auth_failure_window_s)
    app.state.templates = Jinja2Templates(directory=str(files("gis_service.api") / "templates"))
    # Build coordinate transformers in the background: the first of them takes PROJ seconds.
    threading.Thread(target=crs.warm_up, name="proj-warm-up", daemon=True).start()
    problems.install(app)
    app.include_router(ogc.router, dependencies=[Depends(require_read)])
    app.include_router(edits.router)
    app.include_router(health.router)
    app.include_router(towns.router)
    app.include_router(analysis.router)
    for module in (ledger_plans, ledger_books, ledger_registry, scenarios, runs, siting, conformance, planning_io):
        app.include_router(module.router)
    app.include_router(maps.router)  # checks read access itself
    openapi.install(app)
    app.add_middleware(TownRouting, directory=TownDirectory(app.state.towns.codes, settings.town_code))
    app.add_middleware(RefuseNulBytes)
    _install_cors(app, settings)
    return app


def _install_cors(app: FastAPI, settings: Settings) -> None:
    """Let the pages of ``settings.cors_origins`` call the API from a browser; without it, send no CORS headers."""
    origins = settings.cors_origin_list
    if not origins:
        return
    # Keys travel in headers, never cookies, so credentials stay off (and "*" stays valid with them off).
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                       allow_methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"],
                       allow_headers=["Authorization", "X-API-Key", "If-Match", "If-None-Match", "Content-Type",
                                      "Content-Crs", "Accept", "Accept-Language"],
                       expose_headers=["ETag", "Location", "Link", "Content-Crs", "Retry-After"], max_age=600)
