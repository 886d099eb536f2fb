"""`gis-service ledger plans …` and `gis-service ledger documents …`: revitalisation plans and their files.

The command line acts as a local admin named after the operating-system user (recorded in the history as
that name): whoever can run it on the server can already write the database directly.
"""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from gis_service.access import ALL_TOWNS, Principal, Role
from gis_service.errors import GisServiceError
from gis_service.settings import Settings, get_settings

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=160)
P = ParamSpec("P")
R = TypeVar("R")
# Statuses that mean "your input was refused" (exit 2); anything else is exit 1.
REJECTED = frozenset({400, 404, 409, 412, 413, 415, 422, 507})
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ACTOR_HELP = " Acts as a local admin named after your operating-system user."
# What a history entry did (feature_history.action), as the clerk reads it.
ACTIONS = {"create": ("创建", "create"), "update": ("修改", "update"), "status": ("状态变更", "status"),
           "strike_off": ("销号", "strike off")}


def register(app: typer.Typer) -> None:
    """Add the `plans` and `documents` command groups to the `ledger` group."""
    plans_app = typer.Typer(help="Revitalisation plans (盘活方案): list, add, change, strike off (销号)." + ACTOR_HELP,
                            no_args_is_help=True)
    documents_app = typer.Typer(help="Photos and documents of assets (stored once per content)." + ACTOR_HELP,
                                no_args_is_help=True)
    for name, command in (("list", plans_list), ("add", plans_add), ("update", plans_update),
                          ("strike-off", plans_strike_off), ("history", plans_history)):
        plans_app.command(name)(command)
    documents_app.command("add")(documents_add)
    documents_app.command("list")(documents_list)
    app.add_typer(plans_app, name="plans")
    app.add_typer(documents_app, name="documents")


# ---------------------------------------------------------------------- plumbing


def _services(settings: Settings) -> tuple[Any, Any]:
    """The plan and document services on the configured database (migrated) and upload folder."""
    from gis_service.db.engine import create_db_engine
    from gis_service.db.migrate import upgrade
    from gis_service.services.ledger_documents import DocumentService, DocumentStore
    from gis_service.services.ledger_plans import PlanService

    engine = create_db_engine(settings)
    upgrade(engine)
    store = DocumentStore.from_settings(settings)
    return PlanService(engine, store), DocumentService(engine, store)


def _actor() -> Principal:
    return Principal(getpass.getuser(), Role.ADMIN, towns=(ALL_TOWNS,))


def _reporting(command: Callable[P, R]) -> Callable[P, R]:
    """Domain errors become a message on stderr and exit 2 (input refused) or 1 (anything else)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except GisServiceError as exc:
            rejected = exc.status in REJECTED
            settings = get_settings()
            prefix = _say(settings, "已拒绝: ", "rejected: ") if rejected else _say(settings, "错误: ", "error: ")
            err.print(prefix + exc.detail, highlight=False, markup=False)
            raise typer.Exit(2 if rejected else 1) from None

    return run


def _say(settings: Settings, zh: str, en: str) -> str:
    return zh if settings.language == "zh" else en


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _plan_table(settings: Settings, plans: list[Any], as_of: date, title: str) -> Table:
    table = Table(title=title)
    headers = (("编号", "id"), ("资产编码", "asset"), ("资产名称", "name"), ("村代码", "village"), ("盘活方式", "mode"),
               ("目标用途", "target use"), ("牵头单位", "lead unit"), ("责任人", "responsible"),
               ("完成时限", "deadline"), ("状态", "status"), ("逾期", "overdue"), ("版本", "version"))
    for zh, en in headers:
        table.add_column(_say(settings, zh, en))
    for plan in plans:
        row = plan.labelled(settings.language, as_of)
        table.add_row(str(plan.id), plan.asset_code, plan.asset_name or "", plan.village_code or "",
                      row["mode_label"], row["target_use_label"], plan.lead_unit, plan.responsible_person,
                      plan.deadline.isoformat(), row["status_label"], _say(settings, "是", "yes") if row["overdue"]
                      else "", str(plan.version))
    return table


def _show_plan(settings: Settings, plan: Any, as_json: bool, zh: str, en: str) -> None:
    if as_json:
        _print_json(plan.labelled(settings.language, date.today()))
        return
    out.print(f"{_say(settings, zh, en)}: {plan.id} ({plan.asset_code}), "
              f"{_say(settings, '版本', 'version')} {plan.version}")
    out.print(_plan_table(settings, [plan], date.today(), ""))


def _options(**values: Any) -> dict[str, Any]:
    """The options given (``None`` means not given)."""
    return {name: value for name, value in values.items() if value is not None}


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(1 << 16):
            yield chunk


def _stage(store: Any, path: Path) -> Any:
    if not path.is_file():
        raise typer.BadParameter(_say(get_settings(), f"{path} 不是文件", f"{path} is not a file"))
    return store.stage(_file_chunks(path), path.name, None)


# ---------------------------------------------------------------------- plans


@_reporting
def plans_list(
    status: Annotated[str | None, typer.Option(help="pending, in_progress or struck_off (or 待实施, 实施中, 已销号).")
                      ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only plans past their deadline, not struck off.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day overdue is judged on (default today).")] = None,
    village: Annotated[str | None, typer.Option("--village", "-v", help="Only this village (12-digit code).")] = None,
    lead_unit: Annotated[str | None, typer.Option("--lead-unit", help="Part of the lead unit's name.")] = None,
    mode: Annotated[str | None, typer.Option(help="Revitalisation mode (code or label).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List revitalisation plans by deadline."""
    from gis_service.services.ledger_plans import PlanQuery
    from gis_service.services.ledger_plans_fields import parse_date

    settings = get_settings()
    day = parse_date(as_of) if as_of else date.today()
    plans, _ = _services(settings)
    found = plans.find(PlanQuery(status=status, village_code=village, lead_unit=lead_unit, mode=mode,
                                 overdue_as_of=day if overdue else None))
    if as_json:
        _print_json([p.labelled(settings.language, day) for p in found])
        return
    title = _say(settings, f"盘活方案 {len(found)} 个", f"{len(found)} revitalisation plan(s)")
    out.print(_plan_table(settings, found, day, title))


@_reporting
def plans_add(
    asset_code: Annotated[str, typer.Argument(help="Asset ledger code (资产编码) of an idle or partly idle asset.")],
    mode: Annotated[str, typer.Option(help="Revitalisation mode, code or label (e.g. 便民服务提升).")],
    use: Annotated[str, typer.Option("--use", help="Target use, code or label (e.g. 便民服务代办站).")],
    lead_unit: Annotated[str, typer.Option("--lead-unit", help="Lead unit (牵头单位).")],
    person: Annotated[str, typer.Option("--person", help="Responsible person (责任人).")],
    deadline: Annotated[str, typer.Option(help="Deadline, YYYY-MM-DD (完成时限).")],
    planned_on: Annotated[str | None, typer.Option("--planned-on", help="Day the plan was made (default today).")
                          ] = None,
    note: Annotated[str | None, typer.Option(help="Note.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Make the revitalisation plan of an idle asset."""
    settings = get_settings()
    plans, _ = _services(settings)
    fields = _options(asset_code=asset_code, mode=mode, target_use=use, lead_unit=lead_unit,
                      responsible_person=person, deadline=deadline, planned_on=planned_on, note=note)
    plan = plans.create(fields, _actor())
    _show_plan(settings, plan, as_json, "已建立盘活方案", "plan created")


@_reporting
def plans_update(
    plan_id: Annotated[int, typer.Argument(help="Plan id.")],
    mode: Annotated[str | None, typer.Option(help="Revitalisation mode, code or label.")] = None,
    use: Annotated[str | None, typer.Option("--use", help="Target use, code or label.")] = None,
    lead_unit: Annotated[str | None, typer.Option("--lead-unit", help="Lead unit.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Responsible person.")] = None,
    deadline: Annotated[str | None, typer.Option(help="Deadline, YYYY-MM-DD.")] = None,
    planned_on: Annotated[str | None, typer.Option("--planned-on", help="Day the plan was made.")] = None,
    status: Annotated[str | None, typer.Option(help="pending or in_progress (strike off with strike-off).")] = None,
    note: Annotated[str | None, typer.Option(help="Note.")] = None,
    version: Annotated[int | None, typer.Option(help="Refuse the change unless the plan is still at this version.")
                       ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change some fields of a plan (a change of status is recorded in its history)."""
    settings = get_settings()
    plans, _ = _services(settings)
    fields = _options(mode=mode, target_use=use, lead_unit=lead_unit, responsible_person=person, deadline=deadline,
                      planned_on=planned_on, status=status, note=note)
    if not fields:
        raise typer.BadParameter(_say(settings, "请至少给出一个要修改的字段", "name at least one field to change"))
    plan = plans.update(plan_id, fields, _actor(), None if version is None else [f'"{version}"'])
    _show_plan(settings, plan, as_json, "已修改盘活方案", "plan changed")


@_reporting
def plans_strike_off(
    plan_id: Annotated[int, typer.Argument(help="Plan id.")],
    evidence: Annotated[list[Path] | None, typer.Option("--evidence", help="Evidence file (JPEG, PNG, WebP, PDF); "
                                                        "repeat for several.")] = None,
    document: Annotated[list[int] | None, typer.Option("--document", help="Id of evidence uploaded before; "
                                                       "repeat for several.")] = None,
    note: Annotated[str | None, typer.Option(help="What was done (佐证说明).")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Day struck off, YYYY-MM-DD (default today).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Strike a plan off (销号): needs at least one evidence document, stored with it in one step."""
    from gis_service.services.ledger_plans_fields import parse_date

    settings = get_settings()
    plans, _ = _services(settings)
    day = parse_date(on) if on else None
    staged: list[Any] = []
    try:
        for path in evidence or []:
            staged.append(_stage(plans.store, path))
    except BaseException:
        for upload in staged:
            upload.discard()
        raise
    plan = plans.strike_off(plan_id, _actor(), None, on=day, note=note, document_ids=document or [],
                            uploads=staged)
    _show_plan(settings, plan, as_json, "已销号", "struck off")


@_reporting
def plans_history(plan_id: Annotated[int, typer.Argument(help="Plan id.")], as_json: JsonOption = False) -> None:
    """Every recorded change of a plan: who, when, what."""
    settings = get_settings()
    plans, _ = _services(settings)
    versions = plans.history(plan_id)
    if as_json:
        _print_json([{"version": v.version, "action": v.action, "actor": v.actor,
                      "changedAt": v.changed_at.isoformat(), "before": v.before, "after": v.after} for v in versions])
        return
    table = Table(title=_say(settings, f"方案 {plan_id} 的修改记录", f"history of plan {plan_id}"))
    for zh, en in (("版本", "version"), ("操作", "action"), ("操作人", "actor"), ("时间", "when"), ("状态", "status")):
        table.add_column(_say(settings, zh, en))
    for v in versions:
        before = _status_label(settings, (v.before or {}).get("status"))
        after = _status_label(settings, (v.after or {}).get("status"))
        action = ACTIONS.get(v.action, (v.action, v.action))
        table.add_row(str(v.version), _say(settings, *action), v.actor, v.changed_at.isoformat(timespec="seconds"),
                      after if before in ("", after) else f"{before} → {after}")
    out.print(table)


def _status_label(settings: Settings, status: str | None) -> str:
    from gis_service.layers.codelists import label

    return "" if status is None else label("plan_status", status, settings.language)


# ---------------------------------------------------------------------- documents


@_reporting
def documents_add(
    asset_code: Annotated[str, typer.Argument(help="Asset ledger code (资产编码).")],
    file: Annotated[Path, typer.Argument(help="JPEG, PNG, WebP or PDF file.")],
    purpose: Annotated[str, typer.Option(help="photo, evidence, certificate, contract, approval or other "
                                         "(or 照片, 销号佐证…).")],
    as_json: JsonOption = False,
) -> None:
    """Store a photo or document of an asset (strike-off evidence is attached to the asset's plan)."""
    settings = get_settings()
    _, documents = _services(settings)
    document = documents.upload(asset_code, _stage(documents.store, file), purpose, _actor())
    if as_json:
        _print_json(_document_json(document))
        return
    out.print(f"{_say(settings, '已保存', 'stored')}: {document.id} {document.original_name} "
              f"({document.media_type}, {document.size_bytes:,} B, sha256 {document.sha256[:12]}…)")


@_reporting
def documents_list(asset_code: Annotated[str, typer.Argument(help="Asset ledger code.")],
                   as_json: JsonOption = False) -> None:
    """The photos and documents of an asset."""
    from gis_service.layers.codelists import label

    settings = get_settings()
    _, documents = _services(settings)
    found = documents.for_asset(asset_code)
    if as_json:
        _print_json([_document_json(d) for d in found])
        return
    table = Table(title=_say(settings, f"资产 {asset_code} 的文件", f"documents of {asset_code}"))
    for zh, en in (("编号", "id"), ("文件名", "name"), ("用途", "purpose"), ("类型", "type"), ("大小", "size"),
                   ("方案", "plan"), ("上传人", "by")):
        table.add_column(_say(settings, zh, en))
    for d in found:
        table.add_row(str(d.id), d.original_name, label("document_purpose", d.purpose, settings.language),
                      d.media_type, f"{d.size_bytes:,}", "" if d.plan_id is None else str(d.plan_id), d.uploaded_by)
    out.print(table)


def _document_json(document: Any) -> dict[str, Any]:
    return {**document.__dict__, "uploaded_at": document.uploaded_at.isoformat()}
