"""``/maps/`` on a real uvicorn server: the index and reports, rebuilt when missing, nothing else served."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from gis_service.api import create_app
from gis_service.reports.build import MANIFEST, read_manifest
from gis_service.settings import Settings
from tests.api.conftest import serving
from tests.reports.conftest import Built, OpenPage


@dataclass
class MapsServer:
    url: str
    folder: Path


@pytest.fixture(scope="module")
def server(demo_engine: Engine, built_zh: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapsServer]:
    folder = tmp_path_factory.mktemp("served") / "maps"
    shutil.copytree(built_zh.folder, folder)
    settings = Settings(database_url=demo_engine.url.render_as_string(hide_password=False), maps_dir=folder)
    with serving(create_app(settings, engine=demo_engine)) as url:
        yield MapsServer(url, folder)


@pytest.fixture
def client(server: MapsServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def test_index_and_reports_are_served_as_html(client: httpx.Client) -> None:
    index = client.get("/maps/")
    assert index.status_code == 200 and index.headers["content-type"] == "text/html; charset=utf-8"
    assert 'href="assets.html"' in index.text and 'href="merger.html"' in index.text
    assert client.get("/maps/index.html").text == index.text
    report = client.get("/maps/assets.html")
    assert report.status_code == 200 and "<h1>蓬莱镇公有资产分布图</h1>" in report.text
    assert report.headers["cache-control"] == "no-cache"
    unchanged = client.get("/maps/assets.html", headers={"If-None-Match": report.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert client.get("/maps", follow_redirects=True).url.path == "/maps/"


def test_a_missing_report_is_built_on_demand(client: httpx.Client, server: MapsServer) -> None:
    (server.folder / "merger.html").unlink()
    before = read_manifest(server.folder)["assets"]
    response = client.get("/maps/merger.html")
    assert response.status_code == 200 and "村级建制调整图" in response.text
    assert (server.folder / "merger.html").is_file()
    assert read_manifest(server.folder)["assets"] == before  # the assets report was current: left alone


@pytest.mark.parametrize("path", [
    "/maps/weather.html", "/maps/manifest.json", "/maps/..%2Fmanifest.json", "/maps/%2e%2e/%2e%2e/etc/passwd",
    "/maps/..%2F..%2Fpyproject.toml.html", "/maps/assets.html.tmp", "/maps/.assets.html",
])
def test_nothing_else_is_served(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_manifest_stays_private(server: MapsServer) -> None:
    assert (server.folder / MANIFEST).is_file()


def test_served_report_renders_with_only_the_server_reachable(server: MapsServer, open_page: OpenPage) -> None:
    with open_page(f"{server.url}/maps/", allow=(server.url,), ready=False) as index:
        index.page.click("a[href='assets.html']")
        index.page.wait_for_function("window.GisReport && GisReport.ready === true")
        assert index.page.url == f"{server.url}/maps/assets.html"
        assert index.errors == [] and index.refused == []
        assert index.js("GisReport.cluster.getLayers().length") > 0
