"""Reasons in words (Chinese and English) for a siting score: the factors that made it, and what held it back.

A recommendation carries its top factors by weighted contribution (``TOP_FACTORS``) in words with the measured
quantity ("1.5公里内尚未覆盖的人口 1,240 人 / 1,240 people within 1.5 km not yet covered"), then its weakest
considered factor when that is poor (value below ``DRAWBACK_BELOW``). A use the plan forbids says so first; one
it permits only under a condition quotes the condition after the top factors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gis_service.analysis.siting_result import SitingResult
from gis_service.analysis.siting_uses import FACTORS, UseProfile
from gis_service.layers.codelists import label

Words = Callable[[SitingResult, int, UseProfile, float], tuple[str, str]]
TOP_FACTORS = 3
DRAWBACK_BELOW = 0.25
_DEMAND = {"population": ("人口", "people"), "elderly": ("老年人", "elderly people"),
           "children": ("儿童", "children")}


@dataclass(frozen=True)
class Reason:
    """One reason: the factor it speaks of, and the words."""

    factor: str
    zh: str
    en: str


def reasons(result: SitingResult, i: int, j: int) -> list[Reason]:
    """Why asset ``i`` scores what it does for use column ``j``: a planning veto first, then its top
    factors, then its worst drawback."""
    use = result.uses[j]
    out: list[Reason] = []
    verdict = result.permitted[i, j]
    if verdict.permitted is False:
        out.append(Reason("planning", f"规划不允许:{verdict.reason_zh}".rstrip(":"),
                          f"forbidden by the plan: {verdict.reason_en}".rstrip(": ")))
    if result.unsafe[i, j]:
        out.append(Reason("condition", "危房,须先加固或重建才能使用", "unsafe building: repair or rebuild it first"))
    considered = [name for name in FACTORS if math.isfinite(result.values[name][i, j])]
    best = sorted(considered, key=lambda name: -result.contributions[name][i, j])
    for name in best[:TOP_FACTORS]:
        if result.contributions[name][i, j] > 0:
            out.append(describe(result, i, j, name, use))
    if verdict.conditional:
        out.append(Reason("planning", f"规划有条件允许:{verdict.reason_zh}".rstrip(":"),
                          f"the plan allows it on condition: {verdict.reason_en}".rstrip(": ")))
    # Priority and former use are not defects of the asset: they never count as drawbacks.
    defects = [name for name in considered if name not in ("priority", "former_use")]
    worst = min(defects, key=lambda name: result.values[name][i, j], default=None)
    if worst is not None and worst not in best[:TOP_FACTORS] and result.values[worst][i, j] < DRAWBACK_BELOW:
        drawback = describe(result, i, j, worst, use)
        out.append(Reason(worst, f"不足:{drawback.zh}", f"against: {drawback.en}"))
    return out


def describe(result: SitingResult, i: int, j: int, name: str, use: UseProfile) -> Reason:
    """One factor of (asset ``i``, use ``j``) in words, with its measured quantity."""
    raw = float(result.raw[name][i, j])
    zh, en = _WORDS[name](result, i, use, raw)
    return Reason(name, zh, en)


def _reach(use: UseProfile) -> tuple[str, str]:
    std = use.standard
    if std is None:
        return "", ""
    if std.metres is not None:
        return f"{std.metres / 1000:g}公里", f"{std.metres / 1000:g} km"
    return f"步行{std.limit:g}分钟", f"a {std.limit:g}-minute walk"


def _distance(value: float, minutes: bool = False) -> tuple[str, str]:
    if minutes:
        return f"步行{value:.0f}分钟", f"{value:.0f} min on foot"
    if value >= 1000:
        return f"{value / 1000:.1f}公里", f"{value / 1000:.1f} km"
    return f"{value:.0f}米", f"{value:.0f} m"


def _demand(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    zh_reach, en_reach = _reach(use)
    who = _DEMAND.get(use.standard.demand if use.standard else "", ("人口", "people"))
    return f"{zh_reach}内{who[0]}{raw:,.0f}人", f"{raw:,.0f} {who[1]} within {en_reach}"


def _gain(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    zh_reach, en_reach = _reach(use)
    who = _DEMAND.get(use.standard.demand if use.standard else "", ("人口", "people"))
    return (f"{zh_reach}内尚未覆盖的{who[0]}{raw:,.0f}人",
            f"{raw:,.0f} {who[1]} within {en_reach} not yet covered")


def _nearest(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    kind_zh, kind_en = label("target_use", use.code), label("target_use", use.code, "en")
    if not math.isfinite(raw):
        return f"附近没有{kind_zh}", f"no {kind_en} reachable"
    minutes = use.standard is not None and use.standard.metres is None
    zh, en = _distance(raw, minutes)
    return f"最近的同类设施({kind_zh}){zh}", f"nearest {kind_en} {en} away"


def _road(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    road_class = result.measurements.road_class[i]
    if road_class is None or not math.isfinite(raw):
        return "附近没有道路", "no road nearby"
    zh, en = _distance(raw)
    return (f"临{label('road_class', road_class)}(相距{zh})",
            f"by a {label('road_class', road_class, 'en')} ({en} away)")


def _area(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    land = result.assets["subject"].iloc[i] == "land"
    what = ("土地面积", "land area") if land else ("建筑面积", "floor area")
    return (f"{what[0]}{raw:,.0f}㎡(需{use.min_area_m2:,.0f}㎡)",
            f"{what[1]} {raw:,.0f} m² (needs {use.min_area_m2:,.0f} m²)")


def _condition(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    code = result.measurements.condition[i] or ""
    return f"房屋状况{label('building_condition', code)}", f"building {label('building_condition', code, 'en')}"


def _place(zh_name: str, en_name: str) -> Words:
    def words(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
        if raw == 0:
            return f"位于{zh_name}内", f"inside {en_name}"
        zh, en = _distance(raw)
        return f"距{zh_name}{zh}", f"{en} from {en_name}"
    return words


def _priority(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    if use.priority >= 1:
        return "公益用途优先(方案§二(四)、(五))", "public-welfare use comes first (plan 2 §2(4), (5))"
    if use.priority >= 0.7:
        return ("支持产业发展、集体经济(方案§二(四)三、(五)三)",
                "industry and the collective economy (plan 2 §2(4)3, (5)3)")
    return "市场运营开发(方案§二(五)四)", "market operation (plan 2 §2(5)4)"


def _former(result: SitingResult, i: int, use: UseProfile, raw: float) -> tuple[str, str]:
    category = result.measurements.category[i] or ""
    kind_zh, kind_en = label("asset_category", category), label("asset_category", category, "en")
    if category in use.suits:
        return f"原为{kind_zh},适合改作此用途", f"a former {kind_en}, suited to this use"
    return f"原为{kind_zh}", f"a former {kind_en}"


_WORDS: dict[str, Words] = {
    "demand": _demand, "coverage_gain": _gain, "nearest_same_kind": _nearest, "road_access": _road,
    "area": _area, "condition": _condition,
    "centre": _place("镇中心", "the town centre"),
    "scenic": _place("林地、水域或生态红线", "forest, water or the ecological red line"),
    "industrial": _place("城镇开发边界", "the town development boundary"),
    "priority": _priority, "former_use": _former,
}
