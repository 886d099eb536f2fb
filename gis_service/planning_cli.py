"""``gis-service planning``: import the plan layers as received (一张图) and export the submission package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

planning_app = typer.Typer(help="Planning data in and out (一张图): import plan layers, export the submission "
                                "package.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@planning_app.command("import")
def planning_import(
    path: Annotated[Path, typer.Argument(help="GeoPackage, Shapefile, folder or .zip with YJJBNTBHTB, STBHHX, "
                                              "CZKFBJ and/or DLTB layers.")],
    plan_name: Annotated[str | None, typer.Option("--plan-name", help="Plan name (规划名称) for every zone.")]
    = None,
    replace: Annotated[bool, typer.Option("--replace", help="Remove every stored planning zone first.")] = False,
) -> None:
    """Import planning layers: all or nothing; every problem is listed with file:layer, row and field."""
    from gis_service.cli_support import open_engine as _engine
    from gis_service.services.planning_io import PlanningIOService
    from gis_service.settings import get_settings

    settings = get_settings()
    report = PlanningIOService(_engine(settings)).import_path(path, plan_name=plan_name, replace=replace)
    zh = settings.language == "zh"
    for name, count in report.layers.items():
        out.print(f"{name}: {count:,} {'个图斑' if zh else 'features'}")
    out.print((f"共导入 {report.imported:,} 个规划图斑" if zh else f"imported {report.imported:,} planning zones")
              + (f"({'替换' if zh else 'replaced'} {report.replaced:,})" if report.replaced else ""))
    if report.ignored_layers:
        err.print(("未识别的图层已忽略: " if zh else "layers not recognised, ignored: ")
                  + ", ".join(report.ignored_layers), highlight=False, markup=False)


@planning_app.command("export")
def planning_export(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the package into.")],
) -> None:
    """Write the submission package: GeoPackage (EPSG:4544, Chinese aliases), GBK Shapefiles, metadata sheet."""
    from gis_service.cli_support import open_engine as _engine
    from gis_service.services.planning_io import PlanningIOService
    from gis_service.settings import get_settings

    for file in PlanningIOService(_engine(get_settings())).export(out_dir):
        out.print(str(file), highlight=False)
