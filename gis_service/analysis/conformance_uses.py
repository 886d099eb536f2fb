"""The permitted-use table of the planning conformance: which intended uses each kind of land allows.

Keys are land-use classification codes by prefix (《国土空间调查、规划、用途管制用地用海分类指南》, 自然资源部
2023: "0704" 农村社区服务设施用地, "09" all 商业服务业用地…) or, for zones that carry no land-use code, a
``zone_type`` code (``village_construction``, ``development_boundary``…). For each use the longest prefix
listing it wins, so a "0704" row overrides a "07" row of the same use. A use is allowed outright (``yes``) or
with a condition (``conditional``) that the verdict's reasons quote; a use no key lists is not allowed there.

The table is data: :data:`PERMITTED_USES` is the built-in one, and :func:`load_permitted_uses` merges an
override file (CSV or JSON, named by the setting ``GIS_PERMITTED_USES_FILE``) into it, row by row: a row
replaces the built-in row of the same key and use, and ``level=no`` forbids the use on that key (also where a
shorter prefix allows it).

Uses are the ``target_use`` codes plus the current uses of the layers' features (:data:`EXTRA_USES`:
school, shop, nursing home, health centre, aquaculture, forestry, reservoir).

Examples
--------
>>> table = PermittedTable.of(PERMITTED_USES)
>>> table.allows("0704", "village_construction", "agency_station")
'yes'
>>> table.allows("0703", "village_construction", "homestay")
'conditional'
>>> table.allows("0101", "permanent_farmland", "workshop") is None
True
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gis_service.errors import InvalidInputError
from gis_service.layers.codelists import CODELISTS, label

Level = Literal["yes", "conditional", "no"]
LEVELS: tuple[Level, ...] = ("yes", "conditional", "no")

# Current uses of features that are not target uses of the ledger (zh, en).
EXTRA_USES: dict[str, tuple[str, str]] = {
    "school": ("学校", "school"),
    "shop": ("商业门市", "shop"),
    "nursing_home": ("敬老院", "nursing home"),
    "health_centre": ("卫生院", "health centre"),
    "aquaculture": ("水产养殖", "aquaculture"),
    "forestry": ("林业经营", "forestry"),
    "reservoir": ("水库蓄水", "reservoir"),
}
# Uses that keep the land as it is (no building is put up or used): permanent basic farmland and the ecological
# red line do not refuse them outright.
LAND_USES = frozenset({"farming", "aquaculture", "forestry", "reservoir", "lease"})
# Uses that belong inside the town development boundary (industry and storage, 《乡村振兴促进法》 and the
# 三区三线 rules); outside it only on collective operating construction land under a village plan.
TOWN_USES = frozenset({"workshop", "warehouse"})
CONSTRUCTION_LAND_CODES = ("07", "08", "09", "10", "11", "12", "13", "14")


def use_codes() -> tuple[str, ...]:
    """Every use the table may name."""
    return (*CODELISTS["target_use"], *EXTRA_USES)


def use_label(use: str, language: str = "zh") -> str:
    """A use's label in ``language`` (the code when unknown)."""
    if use in EXTRA_USES:
        return EXTRA_USES[use][0 if language == "zh" else 1]
    return label("target_use", use, language)


@dataclass(frozen=True)
class Permission:
    """One row of the table: ``use`` on land ``key`` is allowed (``yes``), ``conditional`` (with the note), or
    not (``no``: a row of an override file that forbids what a shorter prefix allows)."""

    key: str
    use: str
    level: Level
    note_zh: str = ""
    note_en: str = ""


def _rows(keys: Iterable[str], level: Level, uses: Iterable[str], zh: str = "", en: str = "") -> list[Permission]:
    return [Permission(key, use, level, zh, en) for key in keys for use in uses]


_RURAL_SERVICES = ("agency_station", "elderly_day_care", "children_home", "culture_room", "clinic", "party_centre",
                   "village_history", "office", "agri_service")
_BUILDING_USES_ANYWHERE = ("agency_station", "elderly_day_care", "children_home", "kindergarten", "clinic",
                           "culture_room", "village_history", "study_base", "party_centre", "office",
                           "staff_housing", "agri_service", "workshop", "homestay", "warehouse", "shop", "school",
                           "nursing_home", "health_centre")
_PLAN_ZH, _PLAN_EN = "须符合村庄规划", "must agree with the village plan"

PERMITTED_USES: tuple[Permission, ...] = tuple([
    # 07 居住用地
    *_rows(("0704",), "yes", _RURAL_SERVICES),
    *_rows(("0704",), "conditional", ("kindergarten",), "仅限村级托幼设施", "village nursery only"),
    *_rows(("0704",), "conditional", ("shop",), "仅限农村商店、小型超市", "village shop or small supermarket only"),
    *_rows(("0702",), "yes", ("agency_station", "elderly_day_care", "children_home", "culture_room", "clinic",
                              "party_centre")),
    *_rows(("0702",), "conditional", ("kindergarten", "shop"), "须为社区配套规模", "at community-service scale"),
    *_rows(("0701",), "yes", ("staff_housing",)),
    *_rows(("0701",), "conditional", ("homestay",), "住宅改民宿须办理经营许可", "needs a lodging licence"),
    *_rows(("0703",), "conditional", ("homestay", "lease"), "盘活闲置宅基地和住宅,须符合村庄规划并经村集体同意",
           "idle rural homestead: village plan and the collective's consent"),
    # 08 公共管理与公共服务用地
    *_rows(("0801",), "yes", ("office", "party_centre", "agency_station")),
    *_rows(("0801",), "conditional", ("staff_housing",), "仅限机关内部周转", "staff turnover housing only"),
    *_rows(("0803",), "yes", ("culture_room", "village_history", "study_base")),
    *_rows(("0803",), "conditional", ("party_centre",), "兼作文化活动", "shared with cultural activities"),
    *_rows(("0804",), "yes", ("kindergarten", "school", "study_base")),
    *_rows(("0804",), "conditional", ("children_home",), "须与教育功能兼容", "compatible with teaching"),
    *_rows(("0806",), "yes", ("clinic", "health_centre")),
    *_rows(("0806",), "conditional", ("elderly_day_care",), "医养结合", "combined care and medicine"),
    *_rows(("0807",), "yes", ("elderly_day_care", "nursing_home", "children_home")),
    # 09 商业服务业用地, 10 工矿用地, 11 仓储用地
    *_rows(("09",), "yes", ("shop", "homestay", "lease")),
    *_rows(("09",), "conditional", ("office",), "仅限商务办公", "business offices only"),
    *_rows(("1001",), "yes", ("workshop",)),
    *_rows(("1001",), "conditional", ("warehouse", "lease"), "限工业配套", "ancillary to industry"),
    *_rows(("11",), "yes", ("warehouse",)),
    *_rows(("11",), "conditional", ("agri_service", "lease"), "限仓储物流用途", "storage and logistics only"),
    # Ownership changes keep the use: allowed on any construction land.
    *_rows(CONSTRUCTION_LAND_CODES, "yes", ("auction", "capital_injection")),
    # 06 农业设施建设用地 and agricultural land
    *_rows(("06",), "yes", ("agri_service", "farming")),
    *_rows(("06",), "conditional", ("warehouse",), "仅限农业生产配套", "for farm produce only"),
    *_rows(("0604",), "yes", ("aquaculture",)),
    *_rows(("01", "02", "04"), "yes", ("farming", "lease")),
    *_rows(("03",), "yes", ("forestry",)),
    *_rows(("03",), "conditional", ("farming", "lease"), "林下经济,不得毁林开垦", "under-forest economy, no clearing"),
    *_rows(("1704",), "yes", ("aquaculture", "lease")),
    *_rows(("1703",), "yes", ("reservoir",)),
    *_rows(("1703",), "conditional", ("aquaculture",), "须符合水功能区划,不得投肥投饵",
           "no feeding; water-quality zoning"),
    # Zones without a land-use code: judged by their type.
    *_rows(("village_construction",), "conditional", _BUILDING_USES_ANYWHERE + ("lease", "auction",
                                                                               "capital_injection"),
           "村庄建设用地未注明用途," + _PLAN_ZH, "village construction land of no stated use: " + _PLAN_EN),
    *_rows(("development_boundary",), "conditional", _BUILDING_USES_ANYWHERE + ("lease", "auction",
                                                                               "capital_injection"),
           "城镇开发边界内,用途以详细规划为准", "inside the development boundary: the detailed plan decides the use"),
    *_rows(("general_farmland",), "yes", ("farming", "lease")),
    *_rows(("permanent_farmland",), "yes", ("farming",)),
    *_rows(("permanent_farmland",), "conditional", ("lease",), "流转后须种植粮食作物,不得改变用途",
           "leased land must keep growing grain"),
    *_rows(("forest",), "yes", ("forestry",)),
    *_rows(("forest",), "conditional", ("farming",), "林下经济,不得毁林开垦", "under-forest economy, no clearing"),
    *_rows(("water",), "yes", ("reservoir",)),
    *_rows(("water",), "conditional", ("aquaculture", "lease"), "须符合水功能区划", "water-quality zoning"),
    *_rows(("ecological_redline",), "conditional", ("forestry", "farming"),
           "生态保护红线内仅允许有限人为活动", "only limited human activity in the ecological red line"),
])


@dataclass(frozen=True)
class PermittedTable:
    """The table indexed for look-ups: ``(key, use)`` → :class:`Permission`."""

    rows: dict[tuple[str, str], Permission]

    @classmethod
    def of(cls, rows: Iterable[Permission]) -> PermittedTable:
        return cls({(row.key, row.use): row for row in rows})

    def level(self, land_use_code: str | None, zone_type: str | None, use: str) -> Permission | None:
        """What ``use`` may do on a zone: the row of the longest prefix of its land-use code that lists the use,
        else (a zone without a code) the row of its zone type; ``None`` or a ``no`` row: not allowed."""
        if land_use_code:
            for end in range(len(land_use_code), 1, -1):
                found = self.rows.get((land_use_code[:end], use))
                if found is not None:
                    return found
            return None
        return self.rows.get((zone_type or "", use))

    def allows(self, land_use_code: str | None, zone_type: str | None, use: str) -> Level | None:
        """``yes``, ``conditional`` or ``None`` (not allowed) for ``use`` on a zone."""
        found = self.level(land_use_code, zone_type, use)
        return None if found is None or found.level == "no" else found.level

    def merged(self, overrides: Iterable[Permission]) -> PermittedTable:
        """This table with ``overrides`` applied, each replacing the row of its key and use."""
        return PermittedTable({**self.rows, **{(item.key, item.use): item for item in overrides}})


def load_permitted_uses(path: Path | None) -> PermittedTable:
    """The built-in table, with the override file ``path`` (CSV or JSON) merged in when given.

    The file has the columns (CSV header, or keys of each JSON object) ``key`` (a land-use code prefix or a
    zone type), ``use`` (a use code), ``level`` (``yes``, ``conditional`` or ``no``) and optionally
    ``condition_zh`` and ``condition_en``.

    Raises
    ------
    InvalidInputError
        When the file cannot be read or a row is wrong (naming the file and row).
    """
    table = PermittedTable.of(PERMITTED_USES)
    if path is None:
        return table
    return table.merged(_parse_rows(path, _read_records(path)))


def _read_records(path: Path) -> list[dict[str, object]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"permitted uses file {path}: cannot be read ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"permitted uses file {path.name}: not valid JSON ({exc})") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InvalidInputError(f"permitted uses file {path.name}: expected a list of objects")
        return records
    return [dict(row) for row in csv.DictReader(text.splitlines())]


def _parse_rows(path: Path, records: list[dict[str, object]]) -> list[Permission]:
    known_uses, zone_types = set(use_codes()), set(CODELISTS["zone_type"])
    parsed: list[Permission] = []
    for number, record in enumerate(records, start=2 if path.suffix.lower() != ".json" else 1):
        key, use, level = (str(record.get(name) or "").strip() for name in ("key", "use", "level"))
        where = f"permitted uses file {path.name}, row {number}"
        if not (key.isdigit() and 2 <= len(key) <= 6) and key not in zone_types:
            raise InvalidInputError(f"{where}: key '{key}' is neither a land-use code prefix nor a zone type")
        if use not in known_uses:
            raise InvalidInputError(f"{where}: unknown use '{use}'")
        if level not in LEVELS:
            raise InvalidInputError(f"{where}: level '{level}' is not one of {', '.join(LEVELS)}")
        parsed.append(Permission(key, use, level,  # checked against LEVELS above
                                 str(record.get("condition_zh") or ""), str(record.get("condition_en") or "")))
    return parsed
