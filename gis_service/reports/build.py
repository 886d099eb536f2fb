"""Build the map reports into a folder (``maps/``): one self-contained HTML file each, an index page linking
them, and ``manifest.json`` recording what each file was built from (language, data digest, time, size).

The manifest lets the API rebuild a report only when it is missing, in another language or older than the
data (:func:`ensure_current`), at the cost of one small query per request.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from gis_service.errors import NotFoundError
from gis_service.reports import basemaps
from gis_service.reports.basemaps import OFFLINE, Basemap
from gis_service.reports.data import data_digest, load_report_data
from gis_service.reports.i18n import REPORT_TZ, check_language, t
from gis_service.settings import Settings

log = logging.getLogger("gis_service.reports")

INDEX = "index.html"
MANIFEST = "manifest.json"

Builder = Callable[..., str]


@dataclass(frozen=True)
class ReportSpec:
    """A report: its file name, the messages naming it, the layers it reads and the module that draws it.

    The module is imported only when the report is built, so that folium stays out of the API's start-up.
    """

    name: str
    layers: tuple[str, ...]
    module: str
    tables: tuple[str, ...] = ()  # non-layer tables it reads (ledger), whose versions count too
    dated: bool = False  # it shows what is due or overdue today: stale on the next day even if no data changed

    @property
    def sources(self) -> tuple[str, ...]:
        """Every layer and table the report reads: its data version is theirs."""
        return self.layers + self.tables

    @property
    def file(self) -> str:
        return f"{self.name}.html"

    def title(self, language: str) -> str:
        return t(f"{self.name}_title", language)

    def description(self, language: str) -> str:
        return t(f"{self.name}_description", language)

    def builder(self) -> Builder:
        build: Builder = importlib.import_module(self.module).build
        return build


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("assets", ("villages", "former_villages", "assets", "rivers", "roads"), "gis_service.reports.assets"),
    ReportSpec("merger", ("villages", "former_villages", "rivers", "roads"), "gis_service.reports.merger"),
    ReportSpec("coverage", ("villages", "settlements", "service_points", "assets", "roads", "rivers", "bridges"),
               "gis_service.reports.coverage"),
    ReportSpec("revitalisation", ("villages", "assets", "settlements", "service_points", "schools", "facilities",
                                  "planning_zones", "roads", "rivers", "bridges"),
               "gis_service.reports.revitalisation", tables=("revitalisation_plans",), dated=True),
    ReportSpec("planning", ("villages", "assets", "planning_zones", "rivers", "roads"), "gis_service.reports.planning"),
    ReportSpec("schools", ("villages", "settlements", "schools", "assets", "roads", "rivers", "bridges"),
               "gis_service.reports.schools"),
)}


@dataclass(frozen=True)
class BuiltReport:
    """A manifest entry: what one report file was built from."""

    name: str
    file: str
    language: str
    digest: str
    data_version: str
    built_at: str  # ISO 8601, UTC
    size: int
    seconds: float
    basemap: str = "none"


def build_reports(engine: Engine, out_dir: Path, *, language: str = "zh",
                  which: Iterable[str] | None = None, basemap: Basemap = OFFLINE,
                  permitted_uses: Any = None) -> list[Path]:
    """Build reports (all, or those named in ``which``) and the index into ``out_dir``.

    Parameters
    ----------
    engine
        Database with the layers (SpatiaLite or PostGIS).
    out_dir
        Output folder, created if missing; files are replaced atomically, so a reader never sees half a file.
    language
        ``zh`` (default) or ``en``: titles, labels, legends and popups.
    which
        Report names (see :data:`REPORTS`); ``None`` builds all.
    basemap
        The base map (:mod:`gis_service.reports.basemaps`); offline (none) by default.
    permitted_uses
        The permitted-use table the siting in the revitalisation report judges with (``GIS_PERMITTED_USES_FILE``;
        default the built-in one).

    Returns
    -------
    list of Path
        The report files written, then the index.

    Raises
    ------
    NotFoundError
        A name in ``which`` is not a report.

    Examples
    --------
    >>> build_reports(engine, Path("maps"))  # doctest: +SKIP
    [PosixPath('maps/assets.html'), PosixPath('maps/merger.html'), PosixPath('maps/index.html')]
    """
    check_language(language)
    specs = select_reports(which)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out_dir)
    paths = []
    for spec in specs:
        entry = _build_one(engine, out_dir, spec, language, basemap, permitted_uses)
        manifest[spec.name] = entry
        paths.append(out_dir / entry.file)
    _write_manifest(out_dir, manifest)
    paths.append(_write_index(out_dir, manifest, language, _town_name(engine)))
    return paths


def ensure_current(engine: Engine, out_dir: Path, *, language: str, which: Iterable[str] | None = None,
                   basemap: Basemap = OFFLINE, permitted_uses: Any = None) -> list[str]:
    """Rebuild the reports in ``which`` (default all) that are missing, in another language or base map, or stale.

    Returns the names rebuilt. Builds in this process run one at a time; several processes may build the same
    report at once, which only wastes time (every file is replaced atomically).
    """
    specs = select_reports(which)
    with _build_lock:
        manifest = read_manifest(out_dir)
        stale = [spec.name for spec in specs if not _is_current(engine, out_dir, manifest.get(spec.name), spec,
                                                                language, basemap)]
        if stale or not (out_dir / INDEX).is_file():
            build_reports(engine, out_dir, language=language, which=stale, basemap=basemap,
                          permitted_uses=permitted_uses)
    return stale


def maps_dir(settings: Settings) -> Path:
    """The reports folder of the current town: the ``maps_dir`` setting for the service's own town, and its
    ``towns/<code>`` subfolder for any other town of the database."""
    from gis_service.towns import current_town

    town = current_town(settings.town_code)
    folder = Path(settings.maps_dir)
    return folder if town in (None, settings.town_code) else folder / "towns" / str(town)


def settings_permitted_uses(settings: Settings) -> Any:
    """The permitted-use table of the settings (``GIS_PERMITTED_USES_FILE`` over the built-in one)."""
    from gis_service.services.conformance import table_from

    return table_from(settings)


def settings_basemap(settings: Settings, name: str | None = None) -> Basemap:
    """The base map ``name`` (default: the ``basemap`` setting), with the Tianditu key from the settings."""
    return basemaps.basemap(name or settings.basemap, tianditu_key=settings.tianditu_key, language=settings.language)


def select_reports(which: Iterable[str] | None) -> list[ReportSpec]:
    """The specs named in ``which`` (all when ``None``), in the order of :data:`REPORTS`."""
    if which is None:
        return list(REPORTS.values())
    wanted = list(dict.fromkeys(which))
    unknown = [name for name in wanted if name not in REPORTS]
    if unknown:
        raise NotFoundError(f"no report '{unknown[0]}'; reports are: {', '.join(REPORTS)}")
    return [spec for name, spec in REPORTS.items() if name in wanted]


def read_manifest(out_dir: Path) -> dict[str, BuiltReport]:
    """The manifest of ``out_dir``; empty when there is none or it cannot be read (then everything is rebuilt)."""
    try:
        raw = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        return {name: BuiltReport(**entry) for name, entry in raw.items() if name in REPORTS}
    except (OSError, ValueError, TypeError):
        return {}


_build_lock = threading.Lock()


def _build_one(engine: Engine, out_dir: Path, spec: ReportSpec, language: str, basemap: Basemap,
               permitted_uses: Any) -> BuiltReport:
    started = time.perf_counter()
    data = dataclasses.replace(load_report_data(engine, spec.layers, spec.tables), permitted_uses=permitted_uses)
    built_at = datetime.now(UTC)
    with basemaps.using(basemap):
        html = spec.builder()(data, language=language, built_at=built_at)
    path = out_dir / spec.file
    _write_atomic(path, html)
    seconds = round(time.perf_counter() - started, 3)
    size = path.stat().st_size
    log.info("built %s (%s, %.1f kB) in %.2f s", path, language, size / 1000, seconds)
    return BuiltReport(spec.name, spec.file, language, data.version.digest, data.version.describe(language),
                       built_at.isoformat(timespec="seconds"), size, seconds, basemap.name)


def _is_current(engine: Engine, out_dir: Path, entry: BuiltReport | None, spec: ReportSpec, language: str,
                basemap: Basemap) -> bool:
    if entry is None or entry.language != language or entry.basemap != basemap.name or \
            not (out_dir / spec.file).is_file():
        return False
    if spec.dated and _report_day(datetime.fromisoformat(entry.built_at)) != _report_day(datetime.now(UTC)):
        return False
    return entry.digest == data_digest(engine, spec.sources)


def _report_day(moment: datetime) -> date:
    """The day a moment falls on where the reports are read (Beijing time)."""
    return moment.astimezone(REPORT_TZ).date()


def _write_manifest(out_dir: Path, manifest: dict[str, BuiltReport]) -> None:
    entries = {name: asdict(manifest[name]) for name in REPORTS if name in manifest}
    _write_atomic(out_dir / MANIFEST, json.dumps(entries, ensure_ascii=False, indent=2) + "\n")


def _town_name(engine: Engine) -> str | None:
    from gis_service.reports.data import town_name

    with engine.connect() as conn:
        return town_name(conn)


def _write_index(out_dir: Path, manifest: dict[str, BuiltReport], language: str, town: str | None = None) -> Path:
    from gis_service.reports.index import render_index

    entries = [(spec, manifest[name]) for name, spec in REPORTS.items() if name in manifest]
    path = out_dir / INDEX
    _write_atomic(path, render_index(entries, language, datetime.now(UTC), town))
    return path


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
