"""Words on the reports in Chinese (default) and English, and the number and date formats people read.

Field aliases and code-list labels are not repeated here: they come from the layer registry and the code
lists, so a report says what the import templates and the API say.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from numbers import Real
from typing import Any

import pandas as pd

from gis_service.errors import InvalidInputError
from gis_service.layers.codelists import label
from gis_service.layers.registry import get_layer

LANGUAGES = ("zh", "en")

# Reports are read in Sichuan: times are shown in Beijing time, whatever the server's clock zone.
REPORT_TZ = timezone(timedelta(hours=8))

MISSING = "—"

MESSAGES: dict[str, tuple[str, str]] = {
    # page shell
    "town": ("蓬莱镇", "Penglai town"),
    "built_at": ("编制时间", "Built"),
    "data_version": ("数据版本", "Data version"),
    "crs_note": ("坐标系 CGCS2000 (EPSG:4490)", "CRS CGCS2000 (EPSG:4490)"),
    "tz_note": ("北京时间", "UTC+8"),
    "all_maps": ("全部地图", "All maps"),
    "summary": ("概况", "Summary"),
    "legend": ("图例", "Legend"),
    "offline_note": ("本页离线可用；设置了在线底图时，底图需联网。",
                     "Works offline; an online base map, when one is set, needs internet."),
    "fullscreen": ("全屏", "Full screen"),
    "exit_fullscreen": ("退出全屏", "Exit full screen"),
    "unit_items": ("项", ""),
    "unit_people": ("人", "people"),
    # index page
    "index_title": ("地图报告", "Map reports"),
    "index_intro": ("各报告可在任何浏览器中打开，无需联网。", "Each report opens in any browser, without internet."),
    "report_file": ("文件", "File"),
    # context layers
    "villages_layer": ("村(社区)界", "Village boundaries"),
    "rivers_layer": ("河流", "Rivers"),
    "roads_layer": ("道路", "Roads"),
    # assets report
    "assets_title": ("公有资产分布图", "Public assets map"),
    "assets_description": ("镇村公有资产的位置、种类、权属与使用状态，闲置资产突出显示。",
                           "Where the town and village public assets are, by category, ownership and use "
                           "status; idle assets stand out."),
    "assets_total": ("资产总数", "Assets"),
    "assets_idle": ("闲置", "Idle"),
    "assets_partly_idle": ("部分闲置", "Partly idle"),
    "idle_floor_area": ("闲置建筑面积(㎡)", "Idle floor area (m²)"),
    "original_value_total": ("原值合计(万元)", "Original value (10k CNY)"),
    "assets_by_village": ("各村(社区)资产使用状态", "Use status of assets by village"),
    "footprints_layer": ("资产占地范围", "Asset footprints"),
    "assets_layer": ("公有资产", "Public assets"),
    "search_placeholder": ("资产名称或编码", "Asset name or code"),
    "search_not_found": ("未找到", "Not found"),
    "search_cancel": ("取消", "Cancel"),
    "shown_assets": ("显示资产", "Assets shown"),
    "filter_hint": ("勾选以筛选地图上的资产", "Tick to filter the assets on the map"),
    "all": ("全选", "All"),
    "none": ("全不选", "None"),
    # merger report
    "merger_title": ("村级建制调整图", "Village merger map"),
    "merger_description": ("2020年村级建制调整：撤并村(原村)边界叠加合并后的村(社区)，及各原村的去向。",
                           "The 2020 village merger: former village boundaries over the merged villages and "
                           "communities, and which former villages went where."),
    "merged_layer": ("合并后村(社区)", "Merged villages and communities"),
    "former_layer": ("撤并村(原村)", "Former villages"),
    "units_before": ("调整前村(社区)", "Villages before"),
    "units_after": ("调整后村(社区)", "Villages after"),
    "former_count": ("撤并村", "Former villages"),
    "population_total": ("户籍人口", "Registered population"),
    "mean_population_before": ("调整前村均人口", "Mean population before"),
    "mean_population_after": ("调整后村均人口", "Mean population after"),
    "population_by_village": ("合并后各村人口及来源原村", "Population of merged villages by former village"),
    "merger_table": ("撤并对照表", "Where the former villages went"),
    "merged_village": ("合并后村(社区)", "Merged village"),
    "former_villages": ("原村", "Former villages"),
    "unchanged": ("未调整", "unchanged"),
    "legend_merged": ("合并后村(社区)界", "Merged village boundary"),
    "legend_former": ("撤并村(原村)界", "Former village boundary"),
    "legend_unchanged": ("未调整的村(社区)", "Village or community not merged"),
    # coverage report
    "coverage_title": ("便民服务覆盖图", "1+N service coverage map"),
    "coverage_description": ("\"1+N\"中心阵地与便民服务代办站的服务范围、居民点是否覆盖、各村覆盖率，"
                             "以及在闲置资产中增设代办站的建议。",
                             "Central positions and agency stations with their service areas, settlements covered or "
                             "not, coverage by village, and proposed new stations in idle assets."),
    "coverage_share": ("人口覆盖率", "Population covered"),
    "centre_share": ("中心阵地覆盖率", "Covered by the centre"),
    "uncovered_settlements": ("未覆盖居民点", "Settlements not covered"),
    "uncovered_population": ("未覆盖人口", "People not covered"),
    "centres": ("中心阵地", "Centres"),
    "stations": ("代办站", "Stations"),
    "stations_needed": ("需增设代办站", "Stations needed"),
    "station_share_after": ("增设后代办站覆盖率", "Station coverage, before → after"),
    "covered": ("已覆盖", "covered"),
    "uncovered": ("未覆盖", "not covered"),
    "coverage_by_village": ("各村(社区)人口覆盖情况", "People covered by village"),
    "centre_point": ("中心阵地 (3公里)", "Central position (3 km)"),
    "station_point": ("便民服务代办站 (1.5公里)", "Agency station (1.5 km)"),
    "proposed_station": ("建议增设代办站", "Proposed station"),
    "settlement_covered": ("居民点(已覆盖)", "Settlement, covered"),
    "settlement_uncovered": ("居民点(未覆盖)", "Settlement, not covered"),
    "area_centre": ("中心阵地服务范围", "Centre service area"),
    "area_station": ("代办站服务范围", "Station service area"),
    "village_share": ("村覆盖率", "Village coverage"),
    "verdict": ("结论", "Verdict"),
    "one_plus_n_table": ("\"1+N\"诊断", "1+N diagnosis"),
    "yes": ("有", "yes"),
    "no": ("无", "no"),
    "needs_centre": ("缺中心阵地", "needs a centre"),
    "needs_stations": ("需增设{n}个代办站", "needs {n} station(s)"),
    "adequate": ("达标", "adequate"),
    "village_share_layer": ("各村覆盖率", "Coverage by village"),
    "service_areas_layer": ("服务范围 (沿道路)", "Service areas (along roads)"),
    "settlements_layer": ("居民点", "Settlements"),
    "service_points_layer": ("中心阵地与代办站", "Centres and stations"),
    "proposed_layer": ("建议增设代办站 (闲置资产)", "Proposed stations (idle assets)"),
    "population": ("人口", "Population"),
    "coverage_state": ("覆盖情况", "Coverage"),
    "distance_nearest": ("至最近服务点距离", "Distance to the nearest point"),
    "nearest_point": ("最近服务点", "Nearest point"),
    "kind": ("类型", "Kind"),
    "code": ("编码", "Code"),
    "services": ("服务事项", "Services"),
    "proposal_basis": ("依据", "Basis"),
    "proposal_note": ("最大覆盖选址模型 (MCLP)：保留现有服务点，在闲置资产中选址，使1.5公里内覆盖人口最多",
                      "Maximal covering location (MCLP): existing points kept, sites among idle assets, most people "
                      "within 1.5 km"),
    "unreachable": ("道路不可达", "not reachable by road"),
    # schools report
    "schools_title": ("学校布局图", "School layout map"),
    "schools_description": ("学校按学段与办学状态分布、小学与幼儿园沿道路的服务范围、超出就学距离的儿童，"
                            "以及撤并学校的闲置校舍。",
                            "Schools by level and status, the catchments of primary schools and kindergartens "
                            "along the roads, children beyond reach, and closed schools' idle buildings."),
    "schools_open": ("在办学校", "Open schools"),
    "schools_closed": ("撤并学校", "Closed or merged"),
    "children_total": ("0-14岁儿童", "Children 0-14"),
    "children_beyond_primary": ("小学2.5公里外儿童", "Children beyond 2.5 km of a primary"),
    "children_beyond_kindergarten": ("幼儿园1公里外儿童", "Children beyond 1 km of a kindergarten"),
    "idle_school_buildings": ("闲置校舍", "Idle school buildings"),
    "within_reach": ("就学距离内", "within reach"),
    "beyond_reach": ("超出就学距离", "beyond reach"),
    "children_by_village": ("各村(社区)儿童与小学距离", "Children and primary-school reach by village"),
    "school_closed_marker": ("已撤并学校", "Closed or merged school"),
    "idle_school_asset": ("闲置校舍(资产)", "Idle school building (asset)"),
    "children_beyond_marker": ("超出就学距离的居民点", "Settlement beyond reach"),
    "catchment": ("学校服务范围 (沿道路)", "School catchment (along roads)"),
    "school": ("学校", "School"),
    "level": ("学段", "Level"),
    "status": ("状态", "Status"),
    "capacity": ("学位", "Places"),
    "enrolment": ("在校生", "Pupils"),
    "utilisation": ("使用率", "Use"),
    "school_table": ("学校一览", "Schools"),
    "catchments_layer": ("学校服务范围", "School catchments"),
    "children": ("0-14岁儿童", "Children 0-14"),
    "distance_primary": ("至最近小学", "To the nearest primary"),
    "distance_kindergarten": ("至最近幼儿园", "To the nearest kindergarten"),
    "beyond_primary_layer": ("小学2.5公里外的儿童", "Children beyond 2.5 km of a primary"),
    "beyond_kindergarten_layer": ("幼儿园1公里外的儿童", "Children beyond 1 km of a kindergarten"),
    "use_status": ("使用状态", "Use status"),
    "floor_area": ("建筑面积(㎡)", "Floor area (m²)"),
    "idle_schools_layer": ("闲置校舍", "Idle school buildings"),
    "schools_layer": ("学校", "Schools"),
    # revitalisation report
    "revitalisation_title": ("闲置资产盘活图", "Idle asset revitalisation map"),
    "revitalisation_description": ("闲置、部分闲置资产的盘活方案状态(未制定、待实施、实施中、已销号、逾期)、"
                                   "责任单位与责任人，及逾期清单。",
                                   "Idle and partly idle assets with the state of their revitalisation plans, who "
                                   "answers for them, and the overdue list."),
    "idle_assets": ("闲置及部分闲置资产", "Idle and partly idle assets"),
    "with_plan": ("已制定方案", "With a plan"),
    "struck_off": ("已销号", "Struck off"),
    "overdue": ("逾期", "Overdue"),
    "no_plan": ("未制定方案", "No plan"),
    "plans_by_village": ("各村(社区)盘活进度", "Plans by village"),
    "overdue_table": ("逾期方案清单", "Overdue plans"),
    "asset": ("资产", "Asset"),
    "lead_unit": ("牵头单位", "Lead unit"),
    "responsible_person": ("责任人", "Responsible"),
    "deadline": ("完成时限", "Deadline"),
    "days_overdue": ("逾期天数", "Days late"),
    "plan_state": ("方案状态", "Plan"),
    "mode": ("盘活方式", "Mode"),
    "target_use": ("拟用途", "Target use"),
    "struck_off_on": ("销号日期", "Struck off on"),
    "idle_assets_layer": ("闲置资产及盘活方案", "Idle assets and plans"),
    "recommended_use": ("推荐用途", "Recommended use"),
    "score": ("适宜度", "Score"),
    "recommendation_table": ("未制定方案资产的推荐用途", "Recommended uses of assets without a plan"),
    # planning report
    "planning_title": ("规划管控图", "Planning control map"),
    "planning_description": ("国土空间规划分区与三条控制线(永久基本农田、生态保护红线、城镇开发边界)，"
                             "与之冲突的公有资产及其确权登记路径。",
                             "Planning zones and the three control lines, the public assets in conflict with them "
                             "and their registration pathways."),
    "hectares": ("(公顷)", " (ha)"),
    "assets_conflict": ("不符合规划的资产", "Assets in conflict"),
    "assets_unknown": ("无规划数据的资产", "Assets without planning data"),
    "assets_conforming": ("符合规划的资产", "Conforming assets"),
    "pathways_by_village": ("各村(社区)资产确权登记路径", "Registration pathways by village"),
    "pathway_change_registration": ("变更登记", "Change registration"),
    "pathway_register": ("直接登记", "Register"),
    "pathway_joint_approval": ("联审后登记", "After joint approval"),
    "pathway_plan_first": ("先纳入规划", "Plan first"),
    "asset_conflict": ("不符合规划", "In conflict"),
    "asset_unknown": ("无规划数据", "No planning data"),
    "asset_conforming": ("符合规划", "Conforming"),
    "conflict_table": ("不符合规划的资产", "Assets in conflict with the plan"),
    "conflict_with": ("冲突", "Conflict"),
    "not_construction_land": ("非建设用地", "not on construction land"),
    "pathway": ("登记路径", "Pathway"),
    "land_use_layer": ("规划用地", "Planned land use"),
    "area_ha": ("面积(公顷)", "Area (ha)"),
    "category": ("资产种类", "Category"),
    "conformance": ("规划符合性", "Conformance"),
    "reason": ("理由", "Reason"),
    "assets_planning_layer": ("公有资产(规划符合性)", "Public assets (conformance)"),
}


def t(key: str, language: str) -> str:
    """The text of message ``key`` in ``language`` (``zh`` or ``en``)."""
    zh, en = MESSAGES[key]
    return zh if language == "zh" else en


def town_title(title: str, language: str, town: str | None = None) -> str:
    """``蓬莱镇公有资产分布图`` / ``Penglai town: Public assets map``; another town of the database by its
    name (``回马镇公有资产分布图``, and in English ``回马镇: Public assets map``: names are not translated)."""
    name = t("town", language) if town in (None, "", t("town", "zh")) else str(town)
    return f"{name}{title}" if language == "zh" else f"{name}: {title}"


def check_language(language: str) -> str:
    """``language`` if the reports speak it; :class:`InvalidInputError` otherwise."""
    if language not in LANGUAGES:
        raise InvalidInputError(f"unknown report language '{language}'; use one of {', '.join(LANGUAGES)}")
    return language


def field_alias(layer: str, field: str, language: str) -> str:
    """A field's name as users know it, e.g. ``use_status`` → 使用状态 / Use status."""
    return capitalized(get_layer(layer).field(field).alias(language))


def code_text(codelist: str, code: str, language: str) -> str:
    """A code's label as a heading or legend row shows it, e.g. ``idle`` → 闲置 / Idle."""
    return capitalized(label(codelist, code, language))


def capitalized(text: str) -> str:
    # English labels in the registry are lower case, for use inside sentences; headings start with a capital.
    return text[:1].upper() + text[1:]


def field_label(layer: str, field: str, value: Any, language: str) -> str:
    """A field value as users read it: code-list labels, thousands separators, ``—`` when missing."""
    if is_missing(value):
        return MISSING
    codelist = get_layer(layer).field(field).info.codelist
    if codelist:
        return label(codelist, str(value), language)
    if isinstance(value, Real) and not isinstance(value, bool):
        return format_number(float(value))
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def is_missing(value: Any) -> bool:
    """``None``, NaN, ``pd.NA`` or ``NaT``: what pandas leaves in an empty cell."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array is a value, not a missing one
        return False


def format_number(value: float, decimals: int | None = None) -> str:
    """``1,435`` for whole numbers, ``115.57`` otherwise (two decimals unless told)."""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    return f"{value:,.{decimals}f}"


def format_metres(value: float | None, language: str) -> str:
    """``1,234 m``, or "unreachable" for a distance that is missing or infinite (no road leads there)."""
    if value is None or not math.isfinite(float(value)):
        return t("unreachable", language)
    return f"{format_number(float(value), 0)} m"


def format_time(moment: datetime, language: str) -> str:
    """A moment in Beijing time, to the minute, with its zone named (naive datetimes are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment.astimezone(REPORT_TZ):%Y-%m-%d %H:%M} ({t('tz_note', language)})"


def format_size(size: int) -> str:
    """A file size for people: ``1.2 MB``, ``340 kB``."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{max(size, 1_000) // 1_000} kB"

