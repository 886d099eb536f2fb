"""``gis-service serve --workers N``: several processes answer, each with the pool the settings ask for."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from tests.ops.processes import cli_server

POOL_SIZE = 3


def test_two_workers_serve_with_the_configured_pool(engine: Engine) -> None:
    env = {"GIS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "GIS_DB_POOL_SIZE": str(POOL_SIZE), "GIS_DB_MAX_OVERFLOW": "2"}
    with cli_server(env, "--workers", "2") as url:
        workers: set[int] = set()
        # A new connection per request: the kernel hands each to whichever worker accepts first.
        for _ in range(400):
            answer = httpx.get(f"{url}/ready", headers={"Connection": "close"}, timeout=10)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["pool"]["size"] == POOL_SIZE and body["pool"]["max_overflow"] == 2
            workers.add(body["worker"])
            if len(workers) == 2:
                break
        assert len(workers) == 2, "only one worker ever answered"
        assert httpx.get(f"{url}/collections", timeout=10).status_code == 200
