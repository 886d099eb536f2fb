"""Code lists (字典): the stored code of each enumerated field and its Chinese and English labels.

Codes are stored and served by the API; office formats (Excel, CSV) show the labels, and imports
accept a code or either label.
"""

from __future__ import annotations

Labels = tuple[str, str]  # (zh, en)

CODELISTS: dict[str, dict[str, Labels]] = {
    "village_kind": {
        "village": ("村", "village"),
        "community": ("社区", "community"),
    },
    "ownership": {
        "town_state": ("镇国有", "town state-owned"),
        "village_collective": ("村集体", "village collective"),
    },
    "asset_class": {
        "resource": ("资源性", "resource"),
        "operating": ("经营性", "operating"),
        "non_operating": ("非经营性", "non-operating"),
    },
    "asset_category": {
        "village_office": ("村办公用房", "village office"),
        "school": ("学校校舍", "school building"),
        "clinic": ("卫生室", "clinic"),
        "nursing_home": ("敬老院", "nursing home"),
        "office": ("镇办公用房", "town office"),
        "shop": ("门市", "shop"),
        "factory": ("厂房", "factory building"),
        "warehouse": ("仓库", "warehouse"),
        "culture_room": ("文化室", "culture room"),
        "land": ("土地", "land"),
        "pond": ("堰塘", "pond"),
        "forest": ("林地", "forest"),
        "reservoir": ("山坪塘水库", "small reservoir"),
        "other": ("其他", "other"),
    },
    "use_status": {
        "in_use": ("在用", "in use"),
        "idle": ("闲置", "idle"),
        "partly_idle": ("部分闲置", "partly idle"),
        "leased": ("出租", "leased"),
    },
    "service_point_kind": {
        "centre": ("中心阵地", "central position"),
        "agency_station": ("便民服务代办站", "agency station"),
    },
    "school_level": {
        "kindergarten": ("幼儿园", "kindergarten"),
        "primary": ("小学", "primary school"),
        "junior": ("初中", "junior middle school"),
        "nine_year": ("九年一贯制学校", "nine-year school"),
    },
    "school_status": {
        "open": ("在办", "open"),
        "closed": ("已撤销", "closed"),
        "merged": ("已合并", "merged"),
    },
    "facility_kind": {
        "health_centre": ("乡镇卫生院", "township health centre"),
        "village_clinic": ("村卫生室", "village clinic"),
        "elderly_day_care": ("日间照料中心", "elderly day-care centre"),
        "nursing_home": ("敬老院", "nursing home"),
        "culture_room": ("文化室", "culture room"),
    },
    "road_class": {
        "county": ("县道", "county road"),
        "township": ("乡道", "township road"),
        "village": ("村道", "village road"),
        "track": ("机耕道/步道", "track or footpath"),
    },
    "bridge_kind": {
        "road": ("公路桥", "road bridge"),
        "foot": ("人行桥", "footbridge"),
    },
    "zone_type": {
        "permanent_farmland": ("永久基本农田", "permanent basic farmland"),
        "ecological_redline": ("生态保护红线", "ecological red line"),
        "development_boundary": ("城镇开发边界", "town development boundary"),
        "village_construction": ("村庄建设用地", "village construction land"),
        "general_farmland": ("一般耕地", "general farmland"),
        "forest": ("林地", "forest land"),
        "water": ("水域", "water"),
        "other": ("其他用地", "other land"),
    },
}


def label(codelist: str, code: str, language: str = "zh") -> str:
    """Label of ``code`` in ``codelist`` in ``language`` (``zh`` or ``en``); unknown codes come back as given."""
    labels = CODELISTS[codelist].get(code)
    if labels is None:
        return code
    return labels[0] if language == "zh" else labels[1]


def code_lookup(codelist: str) -> dict[str, str]:
    """Map every accepted spelling (code, Chinese label, English label; case-insensitive) to its code."""
    lookup: dict[str, str] = {}
    for code, (zh, en) in CODELISTS[codelist].items():
        for spelling in (code, zh, en):
            lookup[spelling.casefold()] = code
    return lookup
