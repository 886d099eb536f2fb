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
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

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
    "parameters": ("参数", "parameters"), "town": ("全镇", "town"),
}


def label(key: str) -> str:
    """A column header in the language of the settings."""
    zh, en = _LABELS.get(key, (key, key))
    return zh if get_settings().language == "zh" else en


def actor() -> str:
    """Who the command line runs as, recorded on runs (and in history as the scenario actor)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in containers without a passwd entry
        return "cli"


def engine() -> Engine:
    from gis_service.cli import _engine

    return _engine(get_settings())


def print_json(value: Any) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def run_and_show(kind: str, parameters: dict[str, Any], as_json: bool) -> None:
    """Run an analysis as a stored run and print its result."""
    from gis_service.services.runs import RunService

    run = RunService(engine()).run(kind, parameters, actor())
    show_result(run.kind, run.result or {}, as_json)
    if not as_json:
        out.print(f"run {run.id} ({run.seconds:.2f} s)")


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
    limit = f"{standard['metres']:g} m" if standard["metres"] else f"{standard['minutes']:g} min"
    table = Table(title=f"{standard['label']} ({standard['key']}) within {limit}, {result['method']}")
    for header in ("village", "settlements", "uncovered", standard["demand"], "covered", "share"):
        table.add_column(label(header), justify="left" if header == "village" else "right")
    for row in (*result["villages"], result["town"]):
        share = "—" if row["share"] is None else f"{row['share']:.1%}"
        table.add_row(row["village_code"] or "town", f"{row['settlements']:,}", f"{row['uncovered_settlements']:,}",
                      f"{row['demand']:,.0f}", f"{row['covered_demand']:,.0f}", share)
    return table


def one_plus_n_table(result: dict[str, Any]) -> Table:
    table = Table(title='"1+N" diagnosis')
    for header in ("village", "name", "centre", "stations", "centre only", "all", "river split", "verdict"):
        table.add_column(label(header))
    for d in result["villages"]:
        table.add_row(d["village_code"], d["name"], "yes" if d["has_centre"] else "NO", str(d["stations"]),
                      _share(d["share_centre"], 0), _share(d["share_all"], 0), "yes" if d["river_split"] else "",
                      d["verdict"])
    return table


def placement_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"{len(result['new_sites'])} new site(s) for {result['standard']}, {result['method']}, "
                        f"{result['model']}: {result['share_before']:.1%} -> {result['share_after']:.1%} covered")
    for header in ("asset", "name", "village"):
        table.add_column(label(header))
    for site in result["new_sites"]:
        table.add_row(str(site["code"]), str(site["name"]), str(site["village_code"]))
    return table


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
    table = Table(title=f"analysis runs ({len(runs)} of {total})")
    for header in ("id", "kind", "status", "started", "seconds", "by", "parameters"):
        table.add_column(label(header))
    for r in runs:
        table.add_row(str(r.id), r.kind, r.status, f"{r.started_at:%Y-%m-%d %H:%M:%S}", f"{r.seconds:.2f}",
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
    out.print(f"run {run.id}: {run.kind}, {run.status}, {run.started_at:%Y-%m-%d %H:%M:%S}, {run.seconds:.2f} s, "
              f"by {run.created_by}", highlight=False)
    out.print(f"parameters {orjson.dumps(run.parameters).decode()}", highlight=False, markup=False)
    out.print(f"inputs {orjson.dumps(run.inputs).decode()} (hash {run.input_hash[:12]})", highlight=False,
              markup=False)
    if run.solver:
        out.print(f"solver {run.solver}, objective {run.objective}", highlight=False)
    if run.error:
        out.print(f"error: {run.error}", highlight=False, markup=False)
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
    inputs = _say(("输入已变化", "inputs changed") if again.inputs_changed else ("输入未变", "inputs unchanged"))
    outputs = _say(("结果相同", "outputs equal") if again.outputs_equal else ("结果不同", "outputs differ"))
    changed = ", ".join(again.changed_layers)
    out.print(f"run {again.run.id} (rerun of {again.previous.id}): {inputs}{f' ({changed})' if changed else ''}, "
              f"{outputs}", highlight=False)


def _say(words: tuple[str, str]) -> str:
    return words[0] if get_settings().language == "zh" else words[1]


def _summary(run: Any) -> dict[str, Any]:
    return {"id": run.id, "kind": run.kind, "status": run.status, "parameters": run.parameters,
            "inputs": run.inputs, "input_hash": run.input_hash, "solver": run.solver, "objective": run.objective,
            "started_at": run.started_at.isoformat(), "seconds": run.seconds, "created_by": run.created_by,
            "error": run.error}
