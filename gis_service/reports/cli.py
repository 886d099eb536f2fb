"""``gis-service maps``: build the map reports from the command line (mounted by ``gis_service.cli``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

maps_app = typer.Typer(help="Map reports: self-contained HTML files that open offline in any browser.",
                       no_args_is_help=True)


@maps_app.callback()
def maps() -> None:
    """Map reports: self-contained HTML files that open offline in any browser."""
    # A callback keeps ``build`` a subcommand however the app is run (Typer runs a lone command directly).

out = Console(width=None if sys.stdout.isatty() else 140)


@maps_app.command("build")
def build(
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder (default: the maps_dir setting, GIS_MAPS_DIR, else maps/).")] = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="zh or en (default: the language setting).")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Build only this report (repeat for several): assets, merger, coverage, revitalisation, "
                       "planning, schools.")] = None,
    basemap: Annotated[str | None, typer.Option(
        "--basemap", help="none (offline, the default), tianditu (needs GIS_TIANDITU_KEY), gaode (overlays shifted "
                          "to GCJ-02) or osm (default: the basemap setting, GIS_BASEMAP).")] = None,
) -> None:
    """Build the reports and their index page from the database."""
    from gis_service.db.engine import create_db_engine
    from gis_service.db.migrate import upgrade
    from gis_service.reports.build import (
        build_reports,
        maps_dir,
        read_manifest,
        settings_basemap,
        settings_permitted_uses,
    )
    from gis_service.reports.i18n import format_size
    from gis_service.settings import get_settings

    settings = get_settings()
    target = out_dir or maps_dir(settings)
    engine = create_db_engine(settings)
    upgrade(engine)
    try:
        paths = build_reports(engine, target, language=lang or settings.language, which=only,
                              basemap=settings_basemap(settings, basemap),
                              permitted_uses=settings_permitted_uses(settings))
    finally:
        engine.dispose()
    manifest = read_manifest(target)
    for path in paths:
        entry = manifest.get(path.stem)
        timing = f"  {entry.seconds:.1f} s" if entry else ""
        out.print(f"wrote {path}  {format_size(path.stat().st_size)}{timing}")
