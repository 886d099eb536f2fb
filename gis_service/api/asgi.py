"""The entry point of each server process when ``gis-service serve --workers N`` runs several.

uvicorn starts every worker as a fresh process that imports this module and calls :func:`worker_app`, so each
worker reads its settings from the environment and builds its own app, engine and connection pool
(``GIS_DB_POOL_SIZE`` + ``GIS_DB_MAX_OVERFLOW`` connections per worker).
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

from gis_service.api.app import create_app
from gis_service.settings import get_settings


def freeze_heap() -> None:
    """Move everything built so far (modules, the app, layer specs) out of the garbage collector's sight.

    Its full collections walked all of it and made the slowest 1% of requests 3x slower (docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()


def worker_app() -> FastAPI:
    """The API of one worker process, from the environment's settings (uvicorn's ``factory=True`` target)."""
    app = create_app(get_settings())
    freeze_heap()
    return app
