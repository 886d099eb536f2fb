"""The demo town in SpatiaLite, its reports built once per session (Chinese and English), and headless Chromium
(Debian's ``chromium``, driven by Playwright) with every request that is not a local file refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from gis_service.reports import build_reports
from gis_service.services.demo import load_demo
from tests.conftest import DEMO_DIR, make_engine

CHROMIUM = Path("/usr/bin/chromium")
LOCAL = ("file:", "data:", "about:")


@dataclass
class Built:
    """Reports built into ``folder``: name → path (``index`` included) and build time in seconds."""

    folder: Path
    paths: dict[str, Path]
    seconds: float


@dataclass
class OpenedPage:
    """A page opened in Chromium: what it logged as errors and what it tried to fetch from elsewhere."""

    page: Any
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    load_seconds: float = 0.0

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)


@pytest.fixture(scope="session")
def demo_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine("spatialite", request, tmp_path_factory.mktemp("reports-db"))
    load_demo(engine, DEMO_DIR)
    yield engine
    engine.dispose()


def _build(engine: Engine, folder: Path, language: str) -> Built:
    started = time.perf_counter()
    paths = build_reports(engine, folder, language=language)
    return Built(folder, {path.stem: path for path in paths}, time.perf_counter() - started)


@pytest.fixture(scope="session")
def built_zh(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(demo_engine, tmp_path_factory.mktemp("maps-zh"), "zh")


@pytest.fixture(scope="session")
def built_en(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(demo_engine, tmp_path_factory.mktemp("maps-en"), "en")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium; never a downloaded browser build (none can be fetched on a town's machines either)."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root, where Chromium refuses its sandbox.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


OpenPage = Callable[..., Any]


@pytest.fixture
def open_page(browser: Any) -> Iterator[OpenPage]:
    """``open_page(url, allow=("file:",))`` → a context manager yielding an :class:`OpenedPage` whose report
    script has finished; any request to another origin is aborted and recorded."""
    contexts: list[Any] = []

    @contextmanager
    def opener(url: str, allow: tuple[str, ...] = LOCAL, ready: bool = True) -> Iterator[OpenedPage]:
        context = browser.new_context(viewport={"width": 1400, "height": 850})
        context.set_default_timeout(5_000)  # a page that works answers in well under a second
        contexts.append(context)
        page = context.new_page()
        opened = OpenedPage(page)
        page.on("pageerror", lambda error: opened.errors.append(f"page error: {error}"))
        page.on("console", lambda message: opened.errors.append(f"console: {message.text}")
                if message.type == "error" else None)
        page.on("requestfailed", lambda request: opened.errors.append(f"missing file: {request.url}")
                if request.url.startswith("file:") else None)

        def route(route: Any) -> None:
            if route.request.url.startswith(allow):
                route.continue_()
            else:
                opened.refused.append(route.request.url)
                route.abort()

        page.route("**/*", route)
        started = time.perf_counter()
        page.goto(url)
        if ready:
            page.wait_for_function("window.GisReport && GisReport.ready === true", timeout=15_000)
        opened.load_seconds = time.perf_counter() - started
        yield opened

    yield opener
    for context in contexts:
        context.close()
