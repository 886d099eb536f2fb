"""Whether an asset conforms to current land use and planning (符合现行土地利用和规划), from the overlay.

Used by registration (notice plan 2, §六: pathways 3 and 4 differ only in conformance). The rules are a
small data table so that the conformance analysis of issue 6 can replace or extend it (per land-use code,
with conditions) without touching the overlay.

Source of the land-use codes: 《国土空间调查、规划、用途管制用地用海分类指南》(自然资源部, 2023). Its first
level: 01 耕地, 02 园地, 03 林地, 04 草地, 05 湿地, 06 农业设施建设用地, 07 居住用地, 08 公共管理与公共服务用地,
09 商业服务业用地, 10 工矿用地, 11 仓储用地, 12 交通运输用地, 13 公用设施用地, 14 绿地与开敞空间用地,
15 特殊用地, 16 留白用地, 17 陆地水域, 23 其他土地. Construction land (建设用地) here is 07–14.

Examples
--------
>>> RULES["pond"].fits("water", None), RULES["pond"].fits("general_farmland", "0101")
(True, False)
>>> BUILT_LAND.fits("other", "0804"), BUILT_LAND.fits("permanent_farmland", "0704")
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gis_service.analysis.planning_overlay import PlanningOverlay
from gis_service.layers.codelists import label

# A footprint "lies on" fitting land when fitting zones cover this share of it: the rest is digitising
# slack between the surveyed outline and the planning parcels.
CONFORMING_SHARE = 0.95

CONSTRUCTION_LAND_CODES = ("07", "08", "09", "10", "11", "12", "13", "14")


@dataclass(frozen=True)
class LandUseRule:
    """Where assets of some categories conform.

    Attributes
    ----------
    zone_types
        Zone types that fit (any land-use code).
    land_use_prefixes
        Land-use codes (用地用海分类) that fit, by prefix: "07" is all residential land, "1704" ponds only.
    forbidden
        Zone types the asset must not touch at all (beyond a sliver); a forbidden zone never fits.
    zh, en
        What fitting land is called, for reasons.
    """

    zone_types: frozenset[str]
    land_use_prefixes: tuple[str, ...]
    forbidden: frozenset[str]
    zh: str
    en: str

    def fits(self, zone_type: str | None, land_use_code: str | None) -> bool:
        """Whether a zone of ``zone_type`` with ``land_use_code`` is land this rule allows."""
        if zone_type in self.forbidden:
            return False
        return zone_type in self.zone_types or bool(land_use_code and land_use_code.startswith(self.land_use_prefixes))


# Buildings and built land: on construction land, never on permanent basic farmland or the ecological red line.
BUILT_LAND = LandUseRule(
    frozenset({"village_construction", "development_boundary"}), CONSTRUCTION_LAND_CODES,
    frozenset({"permanent_farmland", "ecological_redline"}), "建设用地", "construction land")

# Resource assets (资源性资产) conform where the land is what they are. Collective "land" may be farmland,
# orchard or grassland, or collective construction land (集体经营性建设用地).
RULES: dict[str, LandUseRule] = {
    "pond": LandUseRule(frozenset({"water"}), ("17", "0604"), frozenset(), "水域(坑塘水面)", "water (ponds)"),
    "reservoir": LandUseRule(frozenset({"water"}), ("17",), frozenset(), "水域(水库水面)", "water (reservoirs)"),
    "forest": LandUseRule(frozenset({"forest"}), ("03",), frozenset(), "林地", "forest land"),
    "land": LandUseRule(
        frozenset({"permanent_farmland", "general_farmland", "village_construction"}),
        ("01", "02", "04", *CONSTRUCTION_LAND_CODES), frozenset(), "农用地或建设用地", "farmland or construction land"),
}


def rule_for(category: str | None) -> LandUseRule:
    """The rule for an asset category; every category not in :data:`RULES` is a building or built land."""
    return RULES.get(category or "", BUILT_LAND)


@dataclass(frozen=True)
class Conformance:
    """One feature's verdict: ``conforming`` is ``None`` when planning data are missing where it lies."""

    conforming: bool | None
    fitting_share: float
    reason_zh: str
    reason_en: str


def conformance(overlay: PlanningOverlay, categories: list[str | None]) -> list[Conformance]:
    """The verdict for every feature of ``overlay``, whose categories are ``categories`` (same order)."""
    zones = _ZoneTable.of(overlay)
    covered = overlay.covered_share(np.ones(len(overlay.zones), dtype=bool))
    by_rule: dict[LandUseRule, list[int]] = {}
    for i, category in enumerate(categories):
        by_rule.setdefault(rule_for(category), []).append(i)
    # Pairs are sorted by feature: each feature's pairs are one slice.
    features = overlay.pairs["feature"].to_numpy()
    starts = np.searchsorted(features, np.arange(overlay.n_features), side="left")
    stops = np.searchsorted(features, np.arange(overlay.n_features), side="right")
    zone_of = overlay.pairs["zone"].to_numpy()
    area_of = overlay.pairs["area_m2"].to_numpy()
    verdicts: dict[int, Conformance] = {}
    for rule, members in by_rule.items():
        fitting = np.array([rule.fits(t, c) for t, c in zip(zones.types, zones.codes, strict=True)], dtype=bool)
        share = overlay.covered_share(fitting)
        for i in members:
            mine = slice(starts[i], stops[i])
            verdicts[i] = _verdict(zones, zone_of[mine], area_of[mine], rule, float(share[i]), float(covered[i]),
                                   bool(overlay.areas[i] > 0))
    return [verdicts[i] for i in range(len(categories))]


@dataclass(frozen=True)
class _ZoneTable:
    """The zones' types, land-use codes and labels as arrays (reasons are built for every feature)."""

    types: np.ndarray
    codes: list[str | None]
    names_zh: np.ndarray
    names_en: np.ndarray

    @classmethod
    def of(cls, overlay: PlanningOverlay) -> _ZoneTable:
        zones = overlay.zones
        types = zones["zone_type"].astype(object).to_numpy()
        codes = _codes(zones)

        def names(language: str) -> np.ndarray:
            kinds = [label("zone_type", str(t), language) for t in types]
            return np.array([f"{k} {c}" if c else k for k, c in zip(kinds, codes, strict=True)], dtype=object)

        return cls(types, codes, names("zh"), names("en"))


def _codes(zones: pd.DataFrame) -> list[str | None]:
    if "land_use_code" not in zones:
        return [None] * len(zones)
    return [c if isinstance(c, str) and c else None for c in zones["land_use_code"]]


def _verdict(zones: _ZoneTable, mine: np.ndarray, areas: np.ndarray, rule: LandUseRule, share: float,
             covered: float, is_footprint: bool) -> Conformance:
    types = zones.types[mine]
    for forbidden in sorted(rule.forbidden):
        hit = types == forbidden
        if hit.any():
            name, name_en = label("zone_type", forbidden), label("zone_type", forbidden, "en")
            area = float(areas[hit].sum())
            if area:
                return Conformance(False, share, f"占用{name}{area:.1f}㎡", f"overlaps {name_en} by {area:.1f} m²")
            return Conformance(False, share, f"位于{name}内", f"lies in {name_en}")
    where_zh = "、".join(dict.fromkeys(zones.names_zh[mine]))
    where_en = ", ".join(dict.fromkeys(zones.names_en[mine]))
    if share >= CONFORMING_SHARE:
        return Conformance(True, share, f"位于{rule.zh}({where_zh})", f"lies on {rule.en} ({where_en})")
    if covered == 0:
        return Conformance(None, share, "所在位置无规划数据", "no planning zone covers it")
    if share + (1 - covered) >= CONFORMING_SHARE:
        missing = 1 - covered
        return Conformance(None, share, f"{missing:.0%}的范围无规划数据", f"{missing:.0%} of it has no planning data")
    if is_footprint:
        return Conformance(False, share, f"仅{share:.0%}位于{rule.zh}({where_zh})",
                           f"only {share:.0%} lies on {rule.en} ({where_en})")
    return Conformance(False, share, f"不在{rule.zh}上({where_zh})", f"not on {rule.en} ({where_en})")
