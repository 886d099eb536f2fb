"""Schema-driven fuzzing of the whole OpenAPI document (schemathesis): no 500, no response that breaks
the document's own schema, every error problem+json. Bounded examples; both backends.

Operations are driven with hypothesis directly (schemathesis' pytest fixture loader fails under pytest 9).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from gis_service.api import create_app
from gis_service.services.demo import load_demo
from gis_service.services.users import UserService
from gis_service.settings import Settings
from tests.conftest import DEMO_DIR, make_engine

EXAMPLES = 20
# CI replays a fixed set of examples so that a landing never depends on luck; runs elsewhere explore anew.
DERANDOMIZE = os.environ.get("CI") == "true"


def test_api_never_fails_and_keeps_its_schema(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    engine = make_engine(backend, request, tmp_path)
    load_demo(engine, DEMO_DIR)
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False)), engine=engine)
    # An admin key, so that every write path (create, replace, update, delete, restore) meets the fuzzer too.
    headers = {"Authorization": f"Bearer {UserService(engine).add('fuzzer', 'admin')[1]}"}
    schema = schemathesis.openapi.from_asgi("/api", app)
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=DERANDOMIZE)
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text}"
            if response.status_code >= 400:
                assert response.headers["content-type"][0].startswith("application/problem+json")
            elif response.status_code == 200:
                case.validate_response(response)

        check()
        checked += 1
    assert checked >= 40  # the generic routes plus the items paths (read and write) of each layer
    engine.dispose()
