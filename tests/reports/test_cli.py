"""``gis-service maps build``: the Typer sub-app, as ``gis_service.cli`` mounts it, on the demo database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from gis_service.errors import NotFoundError
from gis_service.reports.build import read_manifest
from gis_service.reports.cli import maps_app
from gis_service.settings import get_settings


@pytest.fixture
def environment(demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GIS_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_build_writes_the_chosen_reports_and_the_index(environment: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(maps_app, ["build", "--out", str(tmp_path), "--lang", "en", "--only", "merger"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'merger.html'}" in result.output and "index.html" in result.output
    assert sorted(p.name for p in tmp_path.glob("*.html")) == ["index.html", "merger.html"]
    assert read_manifest(tmp_path)["merger"].language == "en"


def test_unknown_report_is_an_error(environment: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(maps_app, ["build", "--out", str(tmp_path), "--only", "weather"])
    assert result.exit_code != 0
    assert isinstance(result.exception, NotFoundError)  # gis_service.cli.main prints it and exits 1
