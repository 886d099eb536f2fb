"""``gis-service towns``: the towns one database serves (list, add, drop), and ``--town`` for every command.

On PostGIS one database serves a county or a province: ``towns add 510923101 --name 回马镇`` gives the town its
partition of every table; every other command then works on it with ``gis-service --town 510923101 …``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gis_service.cli_support import open_admin_engine, say
from gis_service.settings import get_settings
from gis_service.towns import check_town_code, set_town

out = Console(width=None if sys.stdout.isatty() else 160)
towns_app = typer.Typer(help="The towns this database serves (PostGIS: many; SpatiaLite: one).",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Mount ``towns`` and the ``--town`` option that every command takes."""
    app.add_typer(towns_app, name="towns")
    app.callback()(choose_town)


def choose_town(
    town: Annotated[str | None, typer.Option(
        "--town", help="Work on this town of the database (9-digit code; default: GIS_TOWN_CODE).")] = None,
) -> None:
    """GIS service for township governments: layers, ledger, analyses and map reports of one town or many."""
    set_town(check_town_code(town) if town else None)


@towns_app.command("list")
def towns_list() -> None:
    """Every town of the database: code, name, county, since when; the service's own town marked."""
    from gis_service.services.towns import TownService

    table = Table(title=say("本库服务的镇", "Towns served"))
    for zh, en in (("镇代码", "code"), ("镇名", "name"), ("县代码", "county"), ("加入时间", "since"), ("", "")):
        table.add_column(say(zh, en))
    for town in TownService(open_admin_engine(get_settings())).list():
        table.add_row(town.code, town.name, town.county_code, f"{town.created_at:%Y-%m-%d %H:%M}",
                      say("本服务默认", "default") if town.default else "")
    out.print(table)


@towns_app.command("add")
def towns_add(
    code: Annotated[str, typer.Argument(help="9-digit NBS township code, e.g. 510923101.")],
    name: Annotated[str, typer.Option("--name", help="The town's name, e.g. 回马镇.")],
) -> None:
    """Serve another town from this (PostGIS) database: its row and its partition of every table, at once."""
    from gis_service.services.towns import TownService

    tables = TownService(open_admin_engine(get_settings())).add(code, name)
    out.print(say(f"已加入{name}({code}),建立了 {len(tables)} 张表的分区",
                  f"added {name} ({code}): partitions of {len(tables)} tables"))


@towns_app.command("drop")
def towns_drop(
    code: Annotated[str, typer.Argument(help="The town to remove, with every row it has.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this deletes the town's data.")] = False,
) -> None:
    """Stop serving a town and delete all of its data (its partitions). Make a backup first."""
    from gis_service.errors import InvalidInputError
    from gis_service.services.towns import TownService

    if not yes:
        raise InvalidInputError(say(f"删除镇 {code} 会删除它的全部数据;确认请加 --yes(先做备份)",
                                    f"removing town {code} deletes all of its data; add --yes to confirm "
                                    "(make a backup first)"))
    TownService(open_admin_engine(get_settings())).drop(code)
    out.print(say(f"已删除镇 {code}", f"removed town {code}"))
