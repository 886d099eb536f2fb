"""The ``gis-service`` command. It calls services only; the HTTP API is a separate entry point."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from gis_service.cli_support import open_engine, say
from gis_service.conformance_cli import register as register_conformance
from gis_service.errors import GisServiceError, ImportRejectedError
from gis_service.settings import Settings, get_settings
from gis_service.siting_cli import register as register_siting
from gis_service.towns_cli import register as register_towns

app = typer.Typer(help="GIS service for township governments (蓬莱镇 demo town).", no_args_is_help=True,
                  pretty_exceptions_enable=False)
layers_app = typer.Typer(help="List, import and export spatial layers.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(layers_app, name="layers")
users_app = typer.Typer(help="API users and their keys (roles: viewer, editor, planner, admin).",
                        no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
analyze_app = typer.Typer(help="Analyses: coverage of settlements by facilities, the 1+N diagnosis.",
                          no_args_is_help=True)
app.add_typer(analyze_app, name="analyze")


def _mount_maps() -> None:
    from gis_service.reports.cli import maps_app

    app.add_typer(maps_app, name="maps")


def _mount_ledger() -> None:
    from gis_service.ledger.cli import ledger_app

    app.add_typer(ledger_app, name="ledger")


def _mount_planning() -> None:
    from gis_service.planning_cli import planning_app

    app.add_typer(planning_app, name="planning")


def _mount_scenarios() -> None:
    from gis_service.runs_cli import runs_app
    from gis_service.scenarios_cli import scenarios_app

    app.add_typer(scenarios_app, name="scenarios")
    analyze_app.add_typer(runs_app, name="runs")


_mount_maps()
_mount_ledger()
_mount_scenarios()
_mount_planning()
register_siting(analyze_app)
register_conformance(analyze_app)
register_towns(app)

out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)


def _engine(settings: Settings) -> Engine:
    return open_engine(settings)


ROLE_LABELS = {"viewer": ("查看员", "viewer"), "editor": ("编辑员", "editor"), "planner": ("规划员", "planner"),
               "admin": ("管理员", "admin")}


def _role(role: str) -> str:
    zh, en = ROLE_LABELS.get(role, (role, role))
    return say(zh, en)


def _layer_table(settings: Settings, engine: Engine) -> Table:
    from gis_service.services.layers import LayerService

    zh = settings.language == "zh"
    table = Table(title="图层概况 Layers" if zh else "Layers")
    for header in (("图层", "layer"), ("名称", "title"), ("几何类型", "geometry"),
                   ("要素数", "features"), ("范围 (EPSG:4490)", "extent (EPSG:4490)")):
        table.add_column(header[0] if zh else header[1], justify="right" if header[1] == "features" else "left")
    total = 0
    for summary in LayerService(engine).summaries():
        extent = summary.stats.extent
        text = "—" if extent is None else "{:.5f}, {:.5f}, {:.5f}, {:.5f}".format(*extent)
        table.add_row(summary.layer.name, summary.layer.title(settings.language),
                      summary.layer.geometry_type, f"{summary.stats.count:,}", text)
        total += summary.stats.count
    table.caption = f"{'合计' if zh else 'total'} {total:,}"
    return table


@app.command()
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after building (no API server).")] = False,
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the API listens on.")] = 8000,
) -> None:
    """Create the database, load the demo town, print every layer with its count, then serve the API."""
    from gis_service.services.demo import load_demo

    settings = get_settings()
    out.print(f"数据库 database: {settings.database_url}")
    engine = _engine(settings)
    from gis_service.services.ledger_documents import DocumentStore

    reports = load_demo(engine, settings.demo_dir, show_progress=True, store=DocumentStore.from_settings(settings))
    out.print(f"已载入演示镇 loaded the demo town: {sum(r.imported for r in reports):,} features "
              f"in {len(reports)} layers")
    out.print(_layer_table(settings, engine))
    from gis_service.reports import build_reports
    from gis_service.reports.build import settings_basemap, settings_permitted_uses

    for path in build_reports(engine, settings.maps_dir, language=settings.language,
                              basemap=settings_basemap(settings), permitted_uses=settings_permitted_uses(settings)):
        out.print(f"地图 map: {path}")
    if not no_serve:
        serve(host=host, port=port)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes; each has its own connection "
                                         "pool of GIS_DB_POOL_SIZE (+ GIS_DB_MAX_OVERFLOW).")] = 1,
) -> None:
    """Start the OGC API - Features server (uvicorn), in one process or ``--workers`` processes."""
    import uvicorn

    from gis_service.api.asgi import worker_app

    settings = get_settings()
    _engine(settings)
    base = f"http://{host}:{port}"
    out.print(f"API: {base}/  ·  {'图层' if settings.language == 'zh' else 'layers'}: {base}/collections?f=html"
              f"  ·  {'地图' if settings.language == 'zh' else 'maps'}: {base}/maps/"
              f"  ·  OpenAPI: {base}/api.html  ·  QGIS/GDAL: OAPIF:{base}/"
              + (f"  ·  {say('进程数', 'workers')}: {workers}" if workers > 1 else ""))
    if workers > 1:
        # Each worker is a new process that builds its own app from the environment (and freezes its heap).
        uvicorn.run("gis_service.api.asgi:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level="info")
        return
    app = worker_app()  # built and its heap frozen, as in each worker of the multi-process mode
    uvicorn.run(app, host=host, port=port, log_level="info")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    settings = get_settings()
    _engine(settings)
    out.print(say(f"数据库结构已是最新: {settings.database_url}", f"schema up to date: {settings.database_url}"))


@layers_app.command("list")
def layers_list() -> None:
    """Every layer, its feature count, geometry type and extent."""
    settings = get_settings()
    out.print(_layer_table(settings, _engine(settings)))


@layers_app.command("describe")
def layers_describe() -> None:
    """Print every layer's fields, aliases and allowed values as Markdown (docs/layers.md)."""
    from gis_service.layers.registry import describe_markdown

    print(describe_markdown())


@layers_app.command("import")
def layers_import(
    path: Annotated[Path, typer.Argument(help="GeoPackage, Shapefile, GeoJSON, CSV, XLSX or KML file.")],
    layer: Annotated[str, typer.Option("--layer", "-l", help="Target layer, e.g. assets.")],
    src_crs: Annotated[str | None, typer.Option(help="CRS of the file when it has none, e.g. EPSG:4544.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding, e.g. gbk, gb18030, utf-8.")] = None,
    mode: Annotated[str, typer.Option(help="append (default) or replace the layer's features.")] = "append",
    fmt: Annotated[str | None, typer.Option("--format", help="Format if the suffix does not tell.")] = None,
) -> None:
    """Import a file into a layer: all rows or none; every problem is listed with file, row and field."""
    from gis_service.services.layers import LayerService

    service = LayerService(_engine(get_settings()), show_progress=True)
    report = service.import_file(path, layer, fmt=fmt, src_crs=src_crs, encoding=encoding, mode=mode)
    replaced = report.replaced
    out.print(say(f"已从 {report.file} 导入 {report.imported:,} 个要素到图层 {report.layer}"
                   + (f"(替换原有 {replaced:,} 个)" if replaced else ""),
                   f"imported {report.imported:,} features from {report.file} into {report.layer}"
                   + (f" (replaced {replaced:,})" if replaced else "")))
    if report.ignored_columns:
        err.print(say("提示:以下列不属于该图层,已忽略: ", "note: columns not in the layer were ignored: ")
                  + ", ".join(report.ignored_columns), markup=False)


@layers_app.command("export")
def layers_export(
    layer: Annotated[str, typer.Argument(help="Layer to export, e.g. assets.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="gpkg, shp, geojson, csv, kml or xlsx.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    crs: Annotated[str | None, typer.Option(help="Output CRS, e.g. EPSG:4544 (default EPSG:4490).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding (Shapefile default GBK).")] = None,
    lang: Annotated[str | None, typer.Option(help="Headers and labels of tables: zh or en.")] = None,
) -> None:
    """Export a layer to a file."""
    from gis_service.services.layers import LayerService

    settings = get_settings()
    service = LayerService(_engine(settings), show_progress=True)
    files = service.export(layer, fmt, out_path, crs=crs, encoding=encoding, language=lang or settings.language)
    out.print(say("已写出 ", "wrote ") + ", ".join(str(f) for f in files))


@app.command()
def backup(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Backup file to write (must not exist).")],
) -> None:
    """Write one consistent snapshot of every layer, the ledger, users, history, scenarios, analysis runs and the
    uploaded documents to a file."""
    from gis_service.services.backup import BackupService
    from gis_service.services.ledger_documents import DocumentStore

    settings = get_settings()
    report = BackupService(_engine(settings), DocumentStore.from_settings(settings)).backup(out_path)
    tables = ", ".join(f"{name} {n:,}" for name, n in report.rows.items() if n)  # table names, as in the file
    out.print(say(f"备份 {report.path}: 数据库版本 {report.revision}, {tables}, 附件 {report.files} 个",
                   f"backup {report.path}: schema {report.revision}, {tables}, files {report.files}"))
    _warn_missing(report.missing)


@app.command()
def restore(path: Annotated[Path, typer.Argument(help="Backup file written by gis-service backup.")]) -> None:
    """Load a backup into an empty database (SpatiaLite or PostGIS; either backend's backup)."""
    from gis_service.services.backup import BackupService
    from gis_service.services.ledger_documents import DocumentStore

    settings = get_settings()
    report = BackupService(_engine(settings), DocumentStore.from_settings(settings)).restore(path)
    rows = sum(report.rows.values())
    out.print(say(f"已从 {report.path} 恢复镇 {report.town} 的 {rows:,} 行数据和 {report.files} 个附件",
                   f"restored {rows:,} rows of town {report.town} and {report.files} uploaded files from "
                   f"{report.path}"))
    if report.users_kept:
        err.print(say("本库已有 API 用户,备份中的用户未恢复;需要时用 gis-service users add 添加",
                      "this database has API users already; the backup's were not restored (gis-service users "
                      "add makes keys)"))
    _warn_missing(report.missing)


def _warn_missing(missing: tuple[str, ...]) -> None:
    if missing:
        names = ", ".join(m[:12] for m in missing)
        err.print(say(f"警告:台账中有 {len(missing)} 个附件文件在上传目录中缺失: {names}",
                       f"warning: {len(missing)} uploaded file(s) named in the ledger are missing from the upload "
                       f"folder: {names}"), markup=False)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name, recorded in the edit history.")],
    role: Annotated[str, typer.Option("--role", "-r", help="viewer, editor, planner or admin.")],
    village: Annotated[list[str] | None, typer.Option(
        "--village", "-v", help="Village code an editor is limited to (repeat for several).")] = None,
    town: Annotated[list[str] | None, typer.Option(
        "--town", help="Town code the key works in (repeat for several; default: the current town).")] = None,
    all_towns: Annotated[bool, typer.Option("--all-towns", help="The key works in every town of the "
                                                                "database (county or province staff).")] = False,
) -> None:
    """Create a user and print its API key (shown only now; only a hash is stored)."""
    from gis_service.services.users import UserService

    towns = ["*"] if all_towns else town  # none given: the town the command works on (--town)
    user, key = UserService(_engine(get_settings())).add(name, role, village or [], towns)
    villages = ", ".join(user.villages)
    err.print(say(f"已建立{_role(user.role)}「{user.name}」" + (f"(限于村 {villages})" if villages else "")
                   + "。密钥只显示这一次,请立即保存:",
                   f"created {user.role} '{user.name}'" + (f" in villages {villages}" if villages else "")
                   + ". The key is shown once; store it now:"), markup=False, highlight=False)
    print(key)


@users_app.command("list")
def users_list() -> None:
    """Every user: role, villages, key prefix, created, revoked."""
    from gis_service.services.users import UserService

    table = Table(title=say("API 用户", "API users"))
    for zh, en in (("用户名", "name"), ("角色", "role"), ("镇", "towns"), ("限于村", "villages"), ("密钥", "key"),
                   ("建立时间", "created"), ("停用时间", "revoked")):
        table.add_column(say(zh, en))
    for user in UserService(_engine(get_settings())).list():
        towns = say("全部", "all") if user.towns == ("*",) else ", ".join(user.towns)
        table.add_row(user.name, _role(user.role.value), towns, ", ".join(user.villages) or "—", user.key_prefix + "…",
                      f"{user.created_at:%Y-%m-%d %H:%M}", "—" if user.revoked_at is None
                      else f"{user.revoked_at:%Y-%m-%d %H:%M}")
    out.print(table)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="User whose key stops working now.")]) -> None:
    """Revoke a user's key (the user stays in the history)."""
    from gis_service.services.users import UserService

    UserService(_engine(get_settings())).revoke(name)
    out.print(say(f"已停用「{name}」的密钥", f"revoked '{name}'"))


@analyze_app.command("coverage")
def analyze_coverage(
    standard: Annotated[str, typer.Option(help="centre, agency_station, primary_school, kindergarten, "
                                          "village_clinic or elderly_day_care.")] = "centre",
    method: Annotated[str, typer.Option(help="auto (roads where they exist), network or straight.")] = "auto",
    metres: Annotated[float | None, typer.Option(help="Another distance threshold.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Another travel-time threshold.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Population covered per merged village and for the town (stored as an analysis run)."""
    from gis_service.runs_cli import run_and_show

    run_and_show("coverage", {"standard": standard, "method": method, "metres": metres, "minutes": minutes},
                 as_json)


@analyze_app.command("one-plus-n")
def analyze_one_plus_n(
    method: Annotated[str, typer.Option(help="auto (roads where they exist), network or straight.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Each merged village: central position, agency stations, coverage, river split, verdict."""
    from gis_service.runs_cli import run_and_show

    run_and_show("one_plus_n", {"method": method}, as_json)


@analyze_app.command("placement")
def analyze_placement(
    new_sites: Annotated[int, typer.Option(help="How many new sites to place (not lscp).")] = 1,
    standard: Annotated[str, typer.Option(help="agency_station, centre, primary_school, ...")] = "agency_station",
    source: Annotated[str, typer.Option(help="Candidates: idle (idle assets) or all (every asset).")] = "idle",
    method: Annotated[str, typer.Option(help="auto (roads where they exist), network or straight.")] = "auto",
    model: Annotated[str, typer.Option(help="mclp (most people covered), lscp (fewest sites covering everyone "
                                       "reachable), pmedian, pcenter or capacitated.")] = "mclp",
    metres: Annotated[float | None, typer.Option(help="Another distance threshold.")] = None,
    capacity: Annotated[float | None, typer.Option(help="capacitated: people one new site serves.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """The assets where new sites would serve the most people, existing ones kept (stored as a run)."""
    from gis_service.runs_cli import run_and_show

    run_and_show("placement", {"new_sites": new_sites, "standard": standard, "source": source, "method": method,
                               "model": model, "metres": metres, "capacity": capacity}, as_json)


def main() -> None:
    """Entry point: domain errors become a message on stderr and a non-zero exit code."""
    try:
        app()
    except ImportRejectedError as exc:
        err.print(say("导入被拒绝: ", "import rejected: ") + exc.detail, highlight=False, markup=False)
        sys.exit(2)
    except GisServiceError as exc:
        err.print(say("错误: ", "error: ") + exc.detail, highlight=False, markup=False)
        sys.exit(1)
