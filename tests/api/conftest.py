"""A real HTTP server (uvicorn on a free loopback port) over the demo town, once per backend and module."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from gis_service.api import create_app
from gis_service.services.demo import load_demo
from gis_service.settings import Settings
from tests.conftest import BACKENDS, DEMO_DIR, make_engine


@dataclass
class LiveServer:
    url: str
    engine: Engine
    backend: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port for the duration; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def settings_for(engine: Engine, **overrides: object) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False), **overrides)


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    backend = str(request.param)
    engine = make_engine(backend, request, tmp_path_factory.mktemp(f"api-{backend}"))
    load_demo(engine, DEMO_DIR)
    with serving(create_app(settings_for(engine), engine=engine)) as url:
        yield LiveServer(url, engine, backend)
    engine.dispose()


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http
