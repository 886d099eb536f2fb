"""`gis-service ledger` commands: books — transfers, claims and debts, the inventory check, reconciliation,
progress and milestones. Chinese tables by default (English with GIS_LANGUAGE=en), JSON with ``--json``.

The command line acts as the server's administrator (recorded under ``--actor``, default the OS user).
Rejected input (unknown codes, broken rules, conflicts) exits with status 2.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from gis_service.access import ALL_TOWNS, Principal, Role
from gis_service.errors import GisServiceError, InvalidInputError
from gis_service.layers.codelists import label
from gis_service.settings import Settings, get_settings

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=160)
REJECTED = frozenset({400, 403, 404, 409, 422})

transfers_app = typer.Typer(help="Transfers of assets after the merger (移交).", no_args_is_help=True)
claims_app = typer.Typer(help="Claims and debts of former villages (债权债务).", no_args_is_help=True)
milestones_app = typer.Typer(help="The notice's milestones (清查, 移交, 方案, 盘活).", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
Actor = Annotated[str | None, typer.Option(help="Name recorded as the actor (default: the OS user).")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `ledger` command group."""
    app.add_typer(transfers_app, name="transfers")
    app.add_typer(claims_app, name="claims")
    app.add_typer(milestones_app, name="milestones")
    app.command("check")(check)
    app.command("reconcile")(reconcile)
    app.command("progress")(progress)


# ---------------------------------------------------------------------- helpers


def _engine(settings: Settings) -> Engine:
    from gis_service.db.engine import create_db_engine
    from gis_service.db.migrate import upgrade

    engine = create_db_engine(settings)
    upgrade(engine)
    return engine


@contextmanager
def _rejecting() -> Iterator[None]:
    """Rejected input exits 2 with the message; other domain errors go on to the CLI's handler (exit 1)."""
    try:
        yield
    except GisServiceError as exc:
        if exc.status not in REJECTED:
            raise
        prefix = "错误: " if _zh(get_settings()) else "error: "
        err.print(prefix + exc.detail, highlight=False, markup=False)
        raise typer.Exit(2) from None


def _admin(actor: str | None) -> Principal:
    return Principal(actor or getpass.getuser(), Role.ADMIN, towns=(ALL_TOWNS,))


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{option}: 「{text}」不是日期(YYYY-MM-DD)" if _zh(get_settings())
                                else f"{option}: '{text}' is not a date (YYYY-MM-DD)") from None


def _zh(settings: Settings) -> bool:
    return settings.language == "zh"


def _table(title: str, headers: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], zh: bool) -> Table:
    table = Table(title=title)
    for head in headers:
        table.add_column(head[0] if zh else head[1], overflow="fold")
    for row in rows:
        table.add_row(*("—" if v is None or v == "" else str(v) for v in row))
    return table


def _print_json(body: Any) -> None:
    print(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


# ---------------------------------------------------------------------- transfers


TRANSFER_HEADERS = (("编号", "id"), ("资产编码", "asset"), ("移出方", "from"), ("接收方", "to"), ("状态", "status"),
                    ("移交日期", "date"), ("批复文号", "approval"), ("备注", "note"))


def _transfer_rows(items: Sequence[dict[str, Any]], language: str) -> list[list[Any]]:
    return [[t["id"], t["asset_code"], t["from_code"], t["to_code"], label("transfer_status", t["status"], language),
             t["transfer_date"], t["approval"], t["note"]] for t in items]


@transfers_app.command("list")
def transfers_list(
    status: Annotated[str | None, typer.Option(help="pending or completed.")] = None,
    asset: Annotated[str | None, typer.Option(help="Only this asset code.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    as_json: AsJson = False,
) -> None:
    """Transfers, oldest first."""
    from gis_service.repositories.ledger_transfers import TransferFilter
    from gis_service.services.ledger_transfers import TransferService

    settings = get_settings()
    items, total = TransferService(_engine(settings)).transfers(TransferFilter(status, asset, limit=limit))
    if as_json:
        _print_json({"numberMatched": total, "transfers": items})
        return
    title = f"资产移交 ({total})" if _zh(settings) else f"Transfers ({total})"
    out.print(_table(title, TRANSFER_HEADERS, _transfer_rows(items, settings.language), _zh(settings)))


@transfers_app.command("add")
def transfers_add(
    asset: Annotated[str, typer.Argument(help="Asset code (资产编码).")],
    from_code: Annotated[str, typer.Option("--from", help="The asset's current owner code.")],
    to_code: Annotated[str, typer.Option("--to", help="Receiving merged village or unit code.")],
    when: Annotated[str | None, typer.Option("--date", help="Transfer date YYYY-MM-DD.")] = None,
    approval: Annotated[str | None, typer.Option(help="Approval document (批复文号).")] = None,
    note: Annotated[str | None, typer.Option()] = None,
    actor: Actor = None,
    as_json: AsJson = False,
) -> None:
    """Record a pending transfer of an asset from its current owner."""
    from gis_service.services.ledger_transfers import NewTransfer, TransferService

    settings = get_settings()
    with _rejecting():
        record = TransferService(_engine(settings)).record_transfer(
            NewTransfer(asset, from_code, to_code, _date(when, "--date"), approval, note), _admin(actor))
    _show_transfer(record, settings, as_json)


@transfers_app.command("complete")
def transfers_complete(
    transfer_id: Annotated[int, typer.Argument(help="Transfer number.")],
    when: Annotated[str | None, typer.Option("--date", help="Transfer date YYYY-MM-DD.")] = None,
    approval: Annotated[str | None, typer.Option(help="Approval document (批复文号).")] = None,
    actor: Actor = None,
    as_json: AsJson = False,
) -> None:
    """Complete a pending transfer: the asset passes to the receiver (recorded in its history)."""
    from gis_service.services.ledger_transfers import Handover, TransferService

    settings = get_settings()
    with _rejecting():
        record = TransferService(_engine(settings)).complete_transfer(
            transfer_id, Handover(_date(when, "--date"), approval), _admin(actor))
    _show_transfer(record, settings, as_json)


def _show_transfer(record: dict[str, Any], settings: Settings, as_json: bool) -> None:
    if as_json:
        _print_json(record)
        return
    from gis_service.services.ledger_transfers import owner_unit_warning

    title = "资产移交" if _zh(settings) else "Transfer"
    out.print(_table(title, TRANSFER_HEADERS, _transfer_rows([record], settings.language), _zh(settings)))
    warning = owner_unit_warning(record, settings.language)
    if warning is not None:
        out.print(warning, markup=False)


# ---------------------------------------------------------------------- claims and debts


CLAIM_HEADERS = (("编号", "id"), ("原村", "former village"), ("类型", "kind"), ("对方", "counterparty"),
                 ("金额(万元)", "amount (10k CNY)"), ("状态", "status"), ("承接村", "to"), ("移交日期", "date"))


def _claim_rows(items: Sequence[dict[str, Any]], language: str) -> list[list[Any]]:
    return [[c["id"], c["former_village_code"], label("claim_kind", c["kind"], language), c["counterparty"],
             f"{c['amount']:,.2f}", label("transfer_status", c["status"], language), c["to_code"],
             c["transfer_date"]] for c in items]


@claims_app.command("list")
def claims_list(
    former: Annotated[str | None, typer.Option("--former", help="Only this former village.")] = None,
    status: Annotated[str | None, typer.Option(help="pending or completed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    as_json: AsJson = False,
) -> None:
    """Claims and debts of former villages, oldest first."""
    from gis_service.repositories.ledger_transfers import ClaimFilter
    from gis_service.services.ledger_transfers import TransferService

    settings = get_settings()
    items, total = TransferService(_engine(settings)).claims(ClaimFilter(former, status=status, limit=limit))
    if as_json:
        _print_json({"numberMatched": total, "claims": items})
        return
    title = f"债权债务 ({total})" if _zh(settings) else f"Claims and debts ({total})"
    out.print(_table(title, CLAIM_HEADERS, _claim_rows(items, settings.language), _zh(settings)))


@claims_app.command("add")
def claims_add(
    former: Annotated[str, typer.Argument(help="Former village code.")],
    kind: Annotated[str, typer.Option(help="claim or debt (债权 / 债务).")],
    counterparty: Annotated[str, typer.Option(help="The other party.")],
    amount: Annotated[float, typer.Option(help="Amount in 万元.")],
    description: Annotated[str | None, typer.Option()] = None,
    actor: Actor = None,
    as_json: AsJson = False,
) -> None:
    """Record a claim or debt of a former village."""
    from gis_service.services.ledger_transfers import NewClaim, TransferService

    settings = get_settings()
    with _rejecting():
        record = TransferService(_engine(settings)).record_claim(
            NewClaim(former, kind, counterparty, amount, description), _admin(actor))
    _show_claim(record, settings, as_json)


@claims_app.command("transfer")
def claims_transfer(
    claim_id: Annotated[int, typer.Argument(help="Claim number.")],
    when: Annotated[str | None, typer.Option("--date", help="Transfer date YYYY-MM-DD.")] = None,
    approval: Annotated[str | None, typer.Option(help="Approval document (批复文号).")] = None,
    to_code: Annotated[str | None, typer.Option("--to", help="Merged village (default: the one it joined).")] = None,
    actor: Actor = None,
    as_json: AsJson = False,
) -> None:
    """Transfer a claim or debt to the merged village."""
    from gis_service.services.ledger_transfers import Handover, TransferService

    settings = get_settings()
    with _rejecting():
        record = TransferService(_engine(settings)).transfer_claim(
            claim_id, to_code, Handover(_date(when, "--date"), approval), _admin(actor))
    _show_claim(record, settings, as_json)


def _show_claim(record: dict[str, Any], settings: Settings, as_json: bool) -> None:
    if as_json:
        _print_json(record)
        return
    title = "债权债务" if _zh(settings) else "Claim or debt"
    out.print(_table(title, CLAIM_HEADERS, _claim_rows([record], settings.language), _zh(settings)))


# ---------------------------------------------------------------------- check, reconciliation, progress


def check(
    within_m: Annotated[float, typer.Option(help="Same-name assets closer than this (m, ≤500) are duplicates.")] = 20.0,
    as_json: AsJson = False,
) -> None:
    """Inventory check: assets without location, duplicates, assets outside their stated village."""
    from gis_service.ledger.cli_books_views import check_tables
    from gis_service.services.ledger_checks import LedgerCheckService

    settings = get_settings()
    with _rejecting():
        result = LedgerCheckService(_engine(settings)).inventory_check(within_m)
    if as_json:
        _print_json({"flagged": result.check.flagged(), "check": result.check})
        return
    for table in check_tables(result.check, _zh(settings)):
        out.print(table)


def reconcile(as_json: AsJson = False) -> None:
    """Reconciliation of the transfer: books before and after per village, imbalances and their causes."""
    from gis_service.ledger.cli_books_views import reconciliation_tables
    from gis_service.services.ledger_checks import LedgerCheckService, reconciliation_json

    settings = get_settings()
    report = LedgerCheckService(_engine(settings)).reconciliation()
    if as_json:
        _print_json(reconciliation_json(report, with_assets=False))
        return
    for table in reconciliation_tables(report, _zh(settings)):
        out.print(table)


def progress(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date of the summary YYYY-MM-DD (default today).")]
    = None,
    as_json: AsJson = False,
) -> None:
    """Progress: by status, village, lead unit and mode; overdue plans; milestones per village."""
    from gis_service.ledger.cli_books_views import progress_tables
    from gis_service.services.ledger_progress import LedgerProgressService, progress_json

    settings = get_settings()
    with _rejecting():
        report = LedgerProgressService(_engine(settings), settings.milestone_year).progress(_date(as_of, "--as-of"))
    if as_json:
        _print_json(progress_json(report, settings.language))
        return
    for table in progress_tables(report, settings.language):
        out.print(table)


# ---------------------------------------------------------------------- milestones


@milestones_app.command("list")
def milestones_list(as_json: AsJson = False) -> None:
    """The four milestones and their due dates (set, or the notice's default)."""
    from gis_service.services.ledger_progress import LedgerProgressService

    settings = get_settings()
    items = LedgerProgressService(_engine(settings), settings.milestone_year).milestones()
    if as_json:
        _print_json(items)
        return
    zh = _zh(settings)
    out.print(_table("工作节点" if zh else "Milestones", (("节点代码", "key"), ("名称", "name"), ("完成时限", "due"),
                                                         ("来源", "source")),
                     [[m.key, m.label(settings.language), m.due, _source(m.source, zh)] for m in items], zh))


@milestones_app.command("set")
def milestones_set(
    key: Annotated[str, typer.Argument(help="inventory, transfer, plans or revitalisation.")],
    due: Annotated[str, typer.Argument(help="Due date YYYY-MM-DD.")],
    actor: Actor = None,
) -> None:
    """Set a milestone's due date."""
    from gis_service.services.ledger_progress import LedgerProgressService

    settings = get_settings()
    with _rejecting():
        when = _date(due, "DUE")
        assert when is not None
        item = LedgerProgressService(_engine(settings), settings.milestone_year).set_milestone(key, when, _admin(actor))
    out.print(f"{item.label(settings.language)} ({item.key}): {item.due.isoformat()}")


def _source(source: str, zh: bool) -> str:
    if zh:
        return "已设定" if source == "set" else "默认(通知)"
    return source
