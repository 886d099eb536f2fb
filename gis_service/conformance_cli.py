"""``gis-service analyze conformance``: the planning verdict of every feature of a layer, or of a placement's
proposed stations, with the reasons.

A table in Chinese by default, English with ``GIS_LANGUAGE=en``; ``--json`` prints the same JSON as the API.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.settings import get_settings

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)
_HEADERS = (("编码", "code"), ("名称", "name"), ("用途", "use"), ("结论", "verdict"), ("理由", "reasons"))


def register(analyze_app: typer.Typer) -> None:
    """Add ``conformance`` to the ``analyze`` command group."""
    analyze_app.command("conformance")(analyze_conformance)


def analyze_conformance(
    layer: Annotated[str, typer.Option(help="assets, service_points, schools or facilities.")] = "assets",
    use: Annotated[str | None, typer.Option(help="Intended use for every feature (code or label, e.g. homestay "
                                                 "or 民宿); default: each feature's own.")] = None,
    code: Annotated[str | None, typer.Option(help="Only the feature with this code.")] = None,
    placement: Annotated[int | None, typer.Option(help="Instead: the stations proposed by this stored placement "
                                                       "run (gis-service analyze runs list).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (as the API does).")] = False,
) -> None:
    """Whether features may take their (intended) use under the plan: conforming, conditional or not."""
    from gis_service.cli_support import open_engine as _engine
    from gis_service.services.conformance import ConformanceService, judged_json, table_from

    settings = get_settings()
    try:
        service = ConformanceService(_engine(settings), table_from(settings))
        judged = service.placement(placement) if placement is not None else \
            service.layer(layer, use=use, code=code)
    except (InvalidInputError, NotFoundError) as exc:  # rejected input: exit 2 (other errors: the CLI's 1)
        err.print(("错误: " if settings.language == "zh" else "error: ") + exc.detail, highlight=False, markup=False)
        raise typer.Exit(2) from None
    body = judged_json(judged, settings.language)
    if as_json:
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    out.print(_table(body, settings.language == "zh"))


def _table(body: dict[str, Any], zh: bool) -> Table:
    counts = ", ".join(f"{body['verdicts'][k]} {n}" for k, n in body["counts"].items())
    table = Table(title=("规划符合性" if zh else "Planning conformance"), caption=counts)
    for header in _HEADERS:
        table.add_column(header[0 if zh else 1])
    for row in body["features"]:
        table.add_row(row["code"], row["name"] or "", row["use_label"], row["verdict_label"],
                      ";".join(row["reasons"]))
    return table
