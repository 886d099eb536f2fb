"""``gis-service analyze``: analyses stored as runs, their tables, and ``analyze runs list|show|rerun``.

Every analysis the command line makes is stored as a run, like those of the API (``created_by`` is
``cli:<user>``). Tables are printed in Chinese by default, in English with ``GIS_LANGUAGE=en``; ``--json`` prints
the stored result as JSON instead.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from gis_service.cli_support import say
from gis_service.settings import get_settings

runs_app = typer.Typer(help="Stored analysis runs: list, show, run again.", no_args_is_help=True)
out = Console(width=None if sys.stdout.isatty() else 140)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

_LABELS = {
    "village": ("村(社区)", "village"), "settlements": ("居民点", "settlements"), "uncovered": ("未覆盖", "uncovered"),
    "covered": ("覆盖", "covered"), "share": ("覆盖率", "share"), "name": ("名称", "name"),
    "centre": ("中心阵地", "centre"), "stations": ("代办站", "stations"), "centre only": ("仅中心", "centre only"),
    "all": ("合计", "all"), "river split": ("河流分隔", "river split"), "verdict": ("结论", "verdict"),
    "asset": ("资产", "asset"), "id": ("编号", "id"), "kind": ("类型", "kind"), "status": ("状态", "status"),
    "started": ("开始", "started"), "seconds": ("秒", "seconds"), "by": ("执行人", "by"),
    "parameters": ("参数", "parameters"), "town": ("全镇", "town"), "population": ("人口", "population"),
    "elderly": ("60岁以上老人", "elderly"), "children": ("0-14岁儿童", "children"),
}
# Values shown in the tables: how distances were measured, the placement models, run kinds and statuses.
_WORDS = {
    "network": ("路网", "network"), "straight": ("直线", "straight"), "auto": ("自动", "auto"),
    "mclp": ("最大覆盖", "mclp"), "lscp": ("最少站点全覆盖", "lscp"), "pmedian": ("P中位", "pmedian"),
    "pcenter": ("P中心", "pcenter"), "capacitated": ("容量约束", "capacitated"),
    "coverage": ("覆盖分析", "coverage"), "one_plus_n": ('"1+N"诊断', "one_plus_n"),
    "placement": ("选址", "placement"), "scenario": ("方案评估", "scenario"),
    "ok": ("完成", "ok"), "failed": ("失败", "failed"),
}


def label(key: str) -> str:
    """A column header in the language of the settings."""
    zh, en = _LABELS.get(key, (key, key))
    return zh if get_settings().language == "zh" else en


def word(value: str) -> str:
    """A method, model, run kind or status in the language of the settings (unknown values as given)."""
    zh, en = _WORDS.get(value, (value, value))
    return say(zh, en)


def verdict_text(diagnosis: dict[str, Any]) -> str:
    """The "1+N" verdict of a village in words, from its ``has_centre`` and ``stations_needed``.

    Results stored before ``stations_needed`` existed keep their stored (English) verdict.
    """
    needed = diagnosis.get("stations_needed")
    if needed is None or "has_centre" not in diagnosis:
        return str(diagnosis.get("verdict", ""))
    if get_settings().language != "zh":
        return str(diagnosis["verdict"])
    parts = ([] if diagnosis["has_centre"] else ["缺中心阵地"]) + ([f"需增设{needed}个代办站"] if needed else [])
    return "；".join(parts) or "达标"


def actor() -> str:
    """Who the command line runs as, recorded on runs (and in history as the scenario actor)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in containers without a passwd entry
        return "cli"


def engine() -> Engine:
    from gis_service.cli_support import open_engine as _engine

    return _engine(get_settings())


def print_json(value: Any) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def run_and_show(kind: str, parameters: dict[str, Any], as_json: bool) -> None:
    """Run an analysis as a stored run and print its result."""
    from gis_service.services.runs import RunService

    run = RunService(engine()).run(kind, parameters, actor())
    show_result(run.kind, run.result or {}, as_json)
    if not as_json:
        out.print(say(f"分析记录 {run.id}(用时 {run.seconds:.2f} 秒)", f"run {run.id} ({run.seconds:.2f} s)"),
                  highlight=False)


def show_result(kind: str, result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
    elif kind == "coverage":
        out.print(coverage_table(result))
    elif kind == "one_plus_n":
        out.print(one_plus_n_table(result))
    elif kind == "placement":
        out.print(placement_table(result))
    else:
        from gis_service.scenarios_cli import evaluation_tables

        for table in evaluation_tables(result):
            out.print(table)


def coverage_table(result: dict[str, Any]) -> Table:
    standard = result["standard"]
    if get_settings().language == "zh":
        limit = f"{standard['metres']:g} 米" if standard["metres"] else f"{standard['minutes']:g} 分钟"
        title = f"{standard['label']}({standard['key']}){limit}内覆盖,{word(result['method'])}"
    else:
        limit = f"{standard['metres']:g} m" if standard["metres"] else f"{standard['minutes']:g} min"
        title = f"{standard['label']} ({standard['key']}) within {limit}, {result['method']}"
    table = Table(title=title)
    for header in ("village", "settlements", "uncovered", standard["demand"], "covered", "share"):
        table.add_column(label(header), justify="left" if header == "village" else "right")
    for row in (*result["villages"], result["town"]):
        share = "—" if row["share"] is None else f"{row['share']:.1%}"
        table.add_row(row["village_code"] or label("town"), f"{row['settlements']:,}",
                      f"{row['uncovered_settlements']:,}", f"{row['demand']:,.0f}",
                      f"{row['covered_demand']:,.0f}", share)
    return table


def one_plus_n_table(result: dict[str, Any]) -> Table:
    table = Table(title=say('"1+N"诊断', '"1+N" diagnosis'))
    for header in ("village", "name", "centre", "stations", "centre only", "all", "river split", "verdict"):
        table.add_column(label(header))
    yes, no = say("有", "yes"), say("无", "NO")
    for d in result["villages"]:
        table.add_row(d["village_code"], d["name"], yes if d["has_centre"] else no, str(d["stations"]),
                      _share(d["share_centre"], 0), _share(d["share_all"], 0),
                      say("是", "yes") if d["river_split"] else "", verdict_text(d))
    return table


def placement_headline(result: dict[str, Any]) -> str:
    """What the placement achieves, in one line: how many sites of which standard, and the share before and after."""
    from gis_service.analysis.standards import FACILITY_THRESHOLDS

    n, key = len(result["new_sites"]), result["standard"]
    before, after = f"{result['share_before']:.1%}", f"{result['share_after']:.1%}"
    if get_settings().language != "zh":
        return (f"{n} new site(s) for {key}, {result['method']}, {result['model']}: "
                f"{before} -> {after} covered")
    known = FACILITY_THRESHOLDS.get(key)
    return (f"新增 {n} 处{known.label if known else ''}({key},{word(result['method'])},"
            f"{word(result['model'])}):覆盖率 {before} -> {after}")


def placement_table(result: dict[str, Any]) -> Group:
    """The headline on its own line (a table title would wrap with the narrow table), then the new sites."""
    table = Table(title=say("新增站点", "new sites"))
    for header in ("asset", "name", "village"):
        table.add_column(label(header))
    for site in result["new_sites"]:
        table.add_row(str(site["code"]), str(site["name"]), str(site["village_code"]))
    return Group(Text(placement_headline(result)), table)


def _share(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


@runs_app.command("list")
def runs_list(
    kind: Annotated[str | None, typer.Option(help="coverage, one_plus_n, placement or scenario.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Stored runs, newest first."""
    from gis_service.services.runs import RunService

    runs, total = RunService(engine()).page(kind, limit, offset)
    if as_json:
        print_json({"numberMatched": total, "runs": [_summary(r) for r in runs]})
        return
    table = Table(title=say(f"分析记录(显示 {len(runs)} 条,共 {total} 条)", f"analysis runs ({len(runs)} of {total})"))
    for header in ("id", "kind", "status", "started", "seconds", "by", "parameters"):
        table.add_column(label(header))
    for r in runs:
        table.add_row(str(r.id), word(r.kind), word(r.status), f"{r.started_at:%Y-%m-%d %H:%M:%S}", f"{r.seconds:.2f}",
                      r.created_by, orjson.dumps(r.parameters).decode())
    out.print(table)


@runs_app.command("show")
def runs_show(run_id: Annotated[int, typer.Argument(help="Run id.")], as_json: JsonOption = False) -> None:
    """One run: parameters, inputs, solver, timing and its result."""
    from gis_service.services.runs import RunService

    run = RunService(engine()).get(run_id)
    if as_json:
        print_json({**_summary(run), "result": run.result})
        return
    started = f"{run.started_at:%Y-%m-%d %H:%M:%S}"
    out.print(say(f"分析记录 {run.id}:{word(run.kind)},{word(run.status)},{started},用时 {run.seconds:.2f} 秒,"
                  f"执行人 {run.created_by}",
                  f"run {run.id}: {run.kind}, {run.status}, {started}, {run.seconds:.2f} s, by {run.created_by}"),
              highlight=False)
    out.print(f"{say('参数', 'parameters')} {orjson.dumps(run.parameters).decode()}", highlight=False, markup=False)
    out.print(f"{say('输入', 'inputs')} {orjson.dumps(run.inputs).decode()} "
              f"({say('哈希', 'hash')} {run.input_hash[:12]})", highlight=False, markup=False)
    if run.solver:
        out.print(say(f"求解器 {run.solver},目标值 {run.objective}", f"solver {run.solver}, objective {run.objective}"),
                  highlight=False)
    if run.error:
        out.print(f"{say('错误', 'error')}: {run.error}", highlight=False, markup=False)
    if run.result is not None:
        show_result(run.kind, run.result, False)


@runs_app.command("rerun")
def runs_rerun(run_id: Annotated[int, typer.Argument(help="Run id.")], as_json: JsonOption = False) -> None:
    """Run again with the stored parameters; say whether inputs changed and outputs are equal."""
    from gis_service.services.runs import RunService

    again = RunService(engine()).rerun(run_id, actor())
    report = {"previous": again.previous.id, "run": again.run.id, "inputs_changed": again.inputs_changed,
              "changed_layers": {k: list(v) for k, v in again.changed_layers.items()},
              "outputs_equal": again.outputs_equal}
    if as_json:
        print_json(report)
        return
    inputs = say("输入已变化", "inputs changed") if again.inputs_changed else say("输入未变", "inputs unchanged")
    outputs = say("结果相同", "outputs equal") if again.outputs_equal else say("结果不同", "outputs differ")
    changed = ", ".join(again.changed_layers)
    changed_text = f" ({changed})" if changed else ""
    out.print(say(f"分析记录 {again.run.id}(重算 {again.previous.id}):{inputs}{changed_text},{outputs}",
                  f"run {again.run.id} (rerun of {again.previous.id}): {inputs}{changed_text}, {outputs}"),
              highlight=False)


def _summary(run: Any) -> dict[str, Any]:
    return {"id": run.id, "kind": run.kind, "status": run.status, "parameters": run.parameters,
            "inputs": run.inputs, "input_hash": run.input_hash, "solver": run.solver, "objective": run.objective,
            "started_at": run.started_at.isoformat(), "seconds": run.seconds, "created_by": run.created_by,
            "error": run.error}
