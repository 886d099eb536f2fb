"""`gis-service ledger` commands: registration pathways, the Excel template, ledger import and export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from gis_service.errors import ImportRejectedError
from gis_service.settings import Settings, get_settings

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=160)


def _engine(settings: Settings) -> Engine:
    from gis_service.db.engine import create_db_engine
    from gis_service.db.migrate import upgrade

    engine = create_db_engine(settings)
    upgrade(engine)
    return engine


def _say(settings: Settings, zh: str, en: str) -> str:
    return zh if settings.language == "zh" else en


def registration(
    village: Annotated[str | None, typer.Option("--village", "-v", help="Only this village (12-digit code).")] = None,
    pathway: Annotated[str | None, typer.Option(help="Only this pathway (code or label).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Registration pathway (确权登记路径) of every asset, with the reason, and counts per village."""
    from gis_service.layers.codelists import label
    from gis_service.services.ledger_registration import PATHWAYS, LedgerRegistrationService, report_json

    settings = get_settings()
    lang = settings.language
    report = LedgerRegistrationService(_engine(settings)).report(village=village, pathway=pathway)
    if as_json:
        print(orjson.dumps(report_json(report, lang), option=orjson.OPT_INDENT_2).decode())
        return
    assets = Table(title=_say(settings, "资产确权登记路径", "Registration pathways of assets"))
    for header in (("资产编码", "asset"), ("资产名称", "name"), ("所在村", "village"), ("登记路径", "pathway"),
                   ("理由", "reason")):
        assets.add_column(header[0] if lang == "zh" else header[1], overflow="fold")
    for item in report.assets:
        assets.add_row(item.code, item.name, item.village_code or "—",
                       label("registration_pathway", item.pathway.pathway, lang), item.reason(lang))
    out.print(assets)
    counts = Table(title=_say(settings, "各村登记路径数量", "Pathways per village"))
    counts.add_column(_say(settings, "村级代码", "village"))
    for code in PATHWAYS:
        counts.add_column(label("registration_pathway", code, lang), justify="right")
    for code, row in (*report.counts.items(), (_say(settings, "合计", "total"), report.totals)):
        counts.add_row(code or "—", *(str(row[p]) for p in PATHWAYS))
    out.print(counts)


def template(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Excel file to write, e.g. 台账模板.xlsx.")],
) -> None:
    """Write the blank asset ledger template (Chinese headers, drop-downs, 填表说明)."""
    from gis_service.services.ledger_excel import LedgerExcelService

    settings = get_settings()
    path = LedgerExcelService(_engine(settings), settings.language).template(out_path)
    out.print(_say(settings, f"已写出台账模板 {path}", f"wrote the ledger template {path}"))


def import_ledger(
    path: Annotated[Path, typer.Argument(help="The filled-in ledger (.xlsx).")],
    update: Annotated[bool, typer.Option("--update", help="Update assets whose code is known, add the others.")]
    = False,
) -> None:
    """Import an asset ledger workbook: all rows or none; every problem listed by row and column."""
    from gis_service.services.ledger_excel import CLI_PRINCIPAL, LedgerExcelService

    settings = get_settings()
    service = LedgerExcelService(_engine(settings), settings.language)
    try:
        report = service.import_file(path, CLI_PRINCIPAL, update=update)
    except ImportRejectedError as exc:
        _print_rejected(settings, exc)
        raise typer.Exit(2) from None
    r = report
    out.print(_say(settings, f"{r.file}: 新增 {r.created} 宗,更新 {r.updated} 宗,未变 {r.unchanged} 宗",
                   f"{r.file}: {r.created} added, {r.updated} updated, {r.unchanged} unchanged"))
    if report.ignored_columns:
        err.print(_say(settings, "提示:以下列不属于台账,已忽略:", "note: columns not in the ledger were ignored: ")
                  + ", ".join(report.ignored_columns), markup=False)


def _print_rejected(settings: Settings, exc: ImportRejectedError) -> None:
    count = len(exc.problems)
    err.print(_say(settings, f"导入被拒绝:{count} 处问题,未导入任何数据:",
                   f"import rejected: {count} problem(s); nothing was imported:"), markup=False, highlight=False)
    for problem in exc.problems:
        err.print(f"  - {problem}", markup=False, highlight=False, soft_wrap=True)


def export(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="ledger.xlsx (office) or ledger.gpkg (GIS).")],
    village: Annotated[str | None, typer.Option("--village", "-v", help="Only this village.")] = None,
) -> None:
    """Export the asset ledger with each asset's registration pathway: Excel, or GeoPackage in EPSG:4544."""
    from gis_service.services.ledger_excel import LedgerExcelService

    settings = get_settings()
    path = LedgerExcelService(_engine(settings), settings.language).export(out_path, village=village)
    out.print(_say(settings, f"已导出 {path}", f"wrote {path}"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `ledger` command group."""
    commands: dict[str, Any] = {"registration": registration, "template": template, "import": import_ledger,
                                "export": export}
    for name, function in commands.items():
        app.command(name)(function)
