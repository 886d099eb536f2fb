"""``gis-service scenarios``: planning scenarios from the command line (mounted by ``gis_service.cli``).

The command line acts as an admin named ``cli:<user>`` unless ``--user`` names an API user, whose role and
villages then apply (a planner cannot promote) and whose name the history records.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from gis_service.access import ALL_TOWNS, Principal, Role
from gis_service.runs_cli import (
    JsonOption,
    actor,
    engine,
    label,
    out,
    print_json,
    run_and_show,
    say,
    verdict_text,
    word,
)
from gis_service.settings import get_settings

scenarios_app = typer.Typer(help="Planning scenarios: add, move or remove facilities on paper, compare before and "
                                 "after, promote into the base layers.", no_args_is_help=True)
UserOption = Annotated[str | None, typer.Option("--user", help="Act as this API user (role and villages apply).")]
Ref = Annotated[str, typer.Argument(help="Scenario id or name.")]
Layer = Annotated[str, typer.Argument(help="service_points, schools or facilities.")]
X = Annotated[float, typer.Option("--x", help="Longitude (or easting in --crs).")]
Y = Annotated[float, typer.Option("--y", help="Latitude (or northing in --crs).")]
CrsOption = Annotated[str, typer.Option("--crs", help="CRS of --x/--y, e.g. EPSG:4544 (default CRS84 lon/lat).")]


def _principal(user: str | None) -> Principal:
    if user is None:
        return Principal(actor(), Role.ADMIN, towns=(ALL_TOWNS,))
    from gis_service.errors import NotFoundError
    from gis_service.services.users import UserService
    from gis_service.settings import get_settings
    from gis_service.towns import current_town

    town = current_town(get_settings().town_code) or get_settings().town_code
    for info in UserService(engine()).list():
        if info.name == user and info.revoked_at is None:
            principal = Principal(info.name, info.role, info.villages, info.towns)
            if principal.serves(town):
                return principal
    raise NotFoundError(say(f"没有有效的 API 用户「{user}」(见 gis-service users list)",
                            f"no active API user '{user}' (gis-service users list)"))


def _service() -> Any:
    from gis_service.services.scenarios import ScenarioService

    return ScenarioService(engine())


def _point(x: float, y: float, crs: str) -> tuple[dict[str, Any], Any]:
    """A GeoJSON point in ``crs``'s own axis order (as the edit API takes it), and the CRS."""
    from gis_service.crs import north_first, parse_crs

    parsed = parse_crs(crs)
    return {"type": "Point", "coordinates": [y, x] if north_first(parsed) else [x, y]}, parsed


def _properties(pairs: list[str] | None) -> dict[str, str]:
    from gis_service.errors import InvalidInputError

    properties = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(say(f"--set 的格式是 字段=值,而不是「{pair}」",
                                        f"--set takes field=value, not '{pair}'"))
        properties[name.strip()] = value.strip()
    return properties


@scenarios_app.command("create")
def create(name: Annotated[str, typer.Argument(help="A unique name.")],
           description: Annotated[str | None, typer.Option(help="What the scenario tries.")] = None,
           user: UserOption = None) -> None:
    """Create an empty draft scenario."""
    scenario = _service().create(name, description, _principal(user))
    out.print(say(f"已建立方案 {scenario.id}「{scenario.name}」", f"scenario {scenario.id} '{scenario.name}' created"),
              highlight=False)


@scenarios_app.command("list")
def list_scenarios(as_json: JsonOption = False) -> None:
    """Every scenario, newest first."""
    scenarios, total = _service().page(1000, 0)
    if as_json:
        print_json([_json(s) for s in scenarios])
        return
    table = Table(title=say(f"规划方案 ({total})", f"scenarios ({total})"))
    for header in ("id", "name", "status", "changes", "by"):
        table.add_column(label(header) if header != "changes" else say("变更数", "changes"))
    for s in scenarios:
        table.add_row(str(s.id), s.name, _status(s.status), str(s.change_count), s.created_by)
    out.print(table)


@scenarios_app.command("show")
def show(ref: Ref, as_json: JsonOption = False) -> None:
    """A scenario and its changes (stale: the base changed under the change)."""
    scenario = _service().get(ref)
    if as_json:
        print_json(_json(scenario))
        return
    table = Table(title=say(f"方案 {scenario.id}「{scenario.name}」({_status(scenario.status)})",
                            f"scenario {scenario.id} '{scenario.name}' ({scenario.status})"))
    for zh, en in (("编号", "id"), ("图层", "layer"), ("操作", "action"), ("编码", "code"), ("已过时", "stale")):
        table.add_column(say(zh, en))
    for c in scenario.changes or ():
        table.add_row(str(c.id), c.layer, _action(c.action), c.feature_code, say("基础数据已变", "STALE") if c.stale
                      else "")
    out.print(table)


@scenarios_app.command("add")
def add(ref: Ref, layer: Layer, code: Annotated[str, typer.Option(help="Code of the new facility.")],
        name: Annotated[str, typer.Option(help="Its name.")], x: X, y: Y,
        field: Annotated[list[str] | None, typer.Option("--set", help="field=value (e.g. kind=agency_station, "
                                                        "village_code=510923100201); repeat.")] = None,
        crs: CrsOption = "CRS84", user: UserOption = None) -> None:
    """Add a facility to the scenario (validated like an edit: code lists, required fields)."""
    geometry, parsed = _point(x, y, crs)
    feature = {"type": "Feature", "geometry": geometry, "properties": {"code": code, "name": name,
                                                                          **_properties(field)}}
    change = _service().add(ref, layer, feature, parsed, _principal(user))
    out.print(_change_line(change.id, "add", layer, change.feature_code), highlight=False)


@scenarios_app.command("move")
def move(ref: Ref, layer: Layer, code: Annotated[str, typer.Argument(help="Facility code.")], x: X, y: Y,
         crs: CrsOption = "CRS84", user: UserOption = None) -> None:
    """Move a facility (of the base, or one added in the scenario)."""
    geometry, parsed = _point(x, y, crs)
    change = _service().move(ref, layer, code, geometry, parsed, _principal(user))
    out.print(_change_line(change.id, "move", layer, code), highlight=False)


@scenarios_app.command("remove")
def remove(ref: Ref, layer: Layer, code: Annotated[str, typer.Argument(help="Facility code.")],
           user: UserOption = None) -> None:
    """Remove a facility (removing one added in the scenario drops the addition)."""
    change = _service().remove(ref, layer, code, _principal(user))
    out.print(say(f"已撤销新增的「{code}」", f"dropped the addition of '{code}'") if change is None
              else _change_line(change.id, "remove", layer, code), highlight=False)


@scenarios_app.command("evaluate")
def evaluate(ref: Ref,
             standard: Annotated[list[str] | None, typer.Option(help="Standard key; repeat (default: those of the "
                                                                "layers the scenario changes).")] = None,
             method: Annotated[str, typer.Option(help="auto, network or straight.")] = "auto",
             metres: Annotated[float | None, typer.Option(help="Another distance threshold.")] = None,
             minutes: Annotated[float | None, typer.Option(help="Another travel-time threshold.")] = None,
             as_json: JsonOption = False, user: UserOption = None) -> None:
    """Coverage per village and town before and after, and the 1+N diagnosis (stored as a run)."""
    from gis_service.services.scenarios import require_planning

    require_planning(_principal(user))
    scenario = _service().get(ref)
    run_and_show("scenario", {"scenario_id": scenario.id, "standards": standard, "method": method,
                              "metres": metres, "minutes": minutes}, as_json)


@scenarios_app.command("promote")
def promote(ref: Ref, user: UserOption = None) -> None:
    """Write the changes into the base layers (editors and admins), with history, in one transaction."""
    promotion = _service().promote(ref, _principal(user))
    for edit in promotion.edits:
        out.print(say(f"{_action(edit['action'])} {edit['layer']}「{edit['code']}」-> 要素 {edit['feature_id']},"
                      f"版本 {edit['version']}",
                      f"{edit['action']} {edit['layer']} '{edit['code']}' -> feature {edit['feature_id']} "
                      f"version {edit['version']}"), highlight=False)
    name, by = promotion.scenario.name, promotion.scenario.promoted_by
    out.print(say(f"方案「{name}」已由 {by} 实施到基础图层", f"scenario '{name}' promoted by {by}"), highlight=False)


@scenarios_app.command("delete")
def delete(ref: Ref, user: UserOption = None) -> None:
    """Delete a draft scenario."""
    _service().delete(ref, _principal(user))
    out.print(say(f"已删除方案「{ref}」", f"scenario '{ref}' deleted"), highlight=False)


def evaluation_tables(result: dict[str, Any]) -> list[Table]:
    """Before/after per village and for the town, one table per standard, and the 1+N villages that change."""
    zh = get_settings().language == "zh"
    tables = []
    for compared in result["standards"]:
        standard = compared["standard"]
        table = Table(title=f"{result['scenario']['name']}: {standard['label']} ({standard['key']}), "
                            f"{word(compared['method'])}")
        for header in ("village", "before", "after", "change"):
            table.add_column(label(header) if header == "village" else _word(header, zh),
                             justify="left" if header == "village" else "right")
        for row in (*compared["villages"], {"village_code": label("town"), **compared["town"]}):
            table.add_row(row["village_code"], _covered(row["before"]), _covered(row["after"]),
                          f"{row['covered_change']:+,.0f}")
        tables.append(table)
    changed = [v for v in result.get("one_plus_n") or [] if v["before"] != v["after"]]
    if changed:
        table = Table(title='"1+N"')
        for header in ("village", "before", "after"):
            table.add_column(label(header) if header == "village" else _word(header, zh))
        for v in changed:
            table.add_row(v["village_code"], verdict_text(v["before"]), verdict_text(v["after"]))
        tables.append(table)
    return tables


def _status(status: str) -> str:
    return say(*{"draft": ("草稿", "draft"), "promoted": ("已实施", "promoted")}.get(status, (status, status)))


def _action(action: str) -> str:
    words = {"add": ("新增", "add"), "move": ("移动", "move"), "remove": ("删除", "remove"),
             "create": ("新增", "create"), "update": ("修改", "update"), "delete": ("删除", "delete")}
    return say(*words.get(action, (action, action)))


def _change_line(change_id: int, action: str, layer: str, code: str) -> str:
    return say(f"变更 {change_id}:{_action(action)} {layer}「{code}」",
               f"change {change_id}: {action} {layer} '{code}'")


def _word(key: str, zh: bool) -> str:
    return {"before": "现状", "after": "方案", "change": "变化"}[key] if zh else key


def _covered(summary: dict[str, Any]) -> str:
    share = "—" if summary["share"] is None else f"{summary['share']:.1%}"
    return f"{summary['covered_demand']:,.0f}/{summary['demand']:,.0f} ({share})"


def _json(scenario: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from gis_service.services.analysis_outputs import json_safe

    body: dict[str, Any] = json_safe(asdict(scenario))
    return body
