"""``gis-service analyze siting``: the top use of every idle asset with its reasons, or one asset's ranking.

Tables in Chinese by default, English with ``GIS_LANGUAGE=en``; ``--json`` prints the same JSON as the API.
"""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.settings import get_settings

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)
_HEADERS = {"asset": ("资产", "asset"), "name": ("名称", "name"), "use": ("建议用途", "recommended use"),
            "score": ("得分", "score"), "reasons": ("理由", "reasons"), "rank": ("名次", "rank"),
            "assigned": ("全镇统筹", "town plan"), "step": ("步骤", "step"), "served": ("新增覆盖", "new coverage")}


def register(analyze_app: typer.Typer) -> None:
    """Add ``siting`` to the ``analyze`` command group."""
    analyze_app.command("siting")(analyze_siting)


def analyze_siting(
    asset: Annotated[str | None, typer.Option("--asset", help="Only this idle asset: all its uses ranked.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (as the API does).")] = False,
    assign: Annotated[bool, typer.Option("--assign", help="Also assign the town: one use per asset, the same "
                                                           "people never given to two assets.")] = False,
    use: Annotated[list[str] | None, typer.Option("--use", help="Use to score (code or label; repeat).")] = None,
    weight: Annotated[list[str] | None, typer.Option(
        "--weight", help="Factor weight, e.g. coverage_gain=4 (repeat).")] = None,
    method: Annotated[str, typer.Option(help="auto (roads where they exist), network or straight.")] = "auto",
) -> None:
    """What each idle asset is best suited to become (service station, day care, workshop…), and why."""
    from gis_service.cli_support import open_engine as _engine
    from gis_service.services.conformance import table_from
    from gis_service.services.siting import SitingRequest, SitingService, only_asset, parse_weights
    from gis_service.services.siting_outputs import siting_json

    settings = get_settings()
    try:
        request = SitingRequest(tuple(use) if use else None, parse_weights(weight), assign, method)  # type: ignore[arg-type]
        outcome = SitingService(_engine(settings), table_from(settings)).siting(request)
        body = siting_json(outcome, only_asset(outcome, asset), settings.language)
    except (InvalidInputError, NotFoundError) as exc:  # rejected input: exit 2 (other errors: the CLI's 1)
        err.print(("错误: " if settings.language == "zh" else "error: ") + exc.detail, highlight=False, markup=False)
        raise typer.Exit(2) from None
    if as_json:
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    zh = settings.language == "zh"
    out.print(_ranking_table(body, zh) if asset else _top_table(body, zh))
    if "assignment" in body:
        out.print(_assignment_table(body["assignment"], zh))


def _header(key: str, zh: bool) -> str:
    return _HEADERS[key][0 if zh else 1]


def _reasons(entry: dict[str, object] | None, zh: bool) -> str:
    items = entry.get("reasons", []) if entry else []
    return ";".join(str(r["zh"] if zh else r["en"]) for r in items) if isinstance(items, list) else ""


def _top_table(body: dict[str, object], zh: bool) -> Table:
    table = Table(title="闲置资产盘活选址建议" if zh else "Revitalisation siting: top use of each idle asset")
    for key in ("asset", "name", "use", "score", "reasons"):
        table.add_column(_header(key, zh), justify="right" if key == "score" else "left")
    for asset in body["assets"]:  # type: ignore[attr-defined]
        top = asset["top"]
        table.add_row(asset["code"], asset["name"] or "", top["label"] if top else "—",
                      f"{top['score']:.2f}" if top else "", _reasons(top, zh))
    return table


def _ranking_table(body: dict[str, object], zh: bool) -> Table:
    asset = body["assets"][0]  # type: ignore[index]
    table = Table(title=f"{asset['code']} {asset['name'] or ''}")
    for key in ("rank", "use", "score", "reasons"):
        table.add_column(_header(key, zh), justify="right" if key in ("rank", "score") else "left")
    for entry in asset["ranking"]:
        table.add_row(str(entry["rank"]), entry["label"], f"{entry['score']:.2f}", _reasons(entry, zh))
    return table


def _assignment_table(assignment: dict[str, object], zh: bool) -> Table:
    table = Table(title="全镇统筹安排" if zh else "Town plan (one use per asset)")
    for key in ("step", "asset", "name", "use", "score", "served"):
        table.add_column(_header(key, zh), justify="right" if key in ("step", "score", "served") else "left")
    for step in assignment["steps"]:  # type: ignore[attr-defined]
        table.add_row(str(step["step"]), step["asset_code"], step["name"] or "", step["label"],
                      f"{step['score']:.2f}", f"{step['new_coverage']:,.0f}")
    return table
