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
    "building_condition": {
        "good": ("完好", "good"),
        "fair": ("一般", "fair"),
        "poor": ("较差", "poor"),
        "dangerous": ("危房", "unsafe"),
    },
    "documents_status": {
        "complete": ("手续齐全", "documents complete"),
        "incomplete": ("手续不全", "documents incomplete"),
        "none": ("无手续", "no documents"),
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
    # The ledger (plan 2 of the notice): revitalisation plans, transfers, debts, documents, registration.
    "revitalisation_mode": {
        "office_use": ("充实办公用房", "office and staff housing"),
        "public_welfare": ("改作公益用房", "public-welfare use"),
        "industry": ("支持产业发展", "support for industry"),
        "market_disposal": ("市场化处置变现", "market disposal"),
        "state_capital": ("补充国有资本", "injection into state capital"),
        "convenience_service": ("便民服务提升", "convenience services"),
        "welfare_rebuild": ("公益事业改建", "public-welfare rebuilding"),
        "collective_economy": ("集体经济发展使用", "collective economy"),
        "market_operation": ("市场运营开发", "market operation"),
    },
    "target_use": {
        "agency_station": ("便民服务代办站", "convenience agency station"),
        "elderly_day_care": ("老年日间照料中心", "elderly day care"),
        "children_home": ("留守儿童之家", "left-behind children's home"),
        "kindergarten": ("幼儿园", "kindergarten"),
        "clinic": ("卫生室", "clinic"),
        "culture_room": ("文化室", "culture room"),
        "village_history": ("村史馆", "village history museum"),
        "study_base": ("研学实践基地", "study and labour-education base"),
        "party_centre": ("党群活动阵地", "party and community centre"),
        "office": ("办公用房", "office"),
        "staff_housing": ("干部周转房", "staff housing"),
        "agri_service": ("农业服务设施", "agricultural services"),
        "workshop": ("产业车间", "industry workshop"),
        "homestay": ("民宿", "homestay"),
        "warehouse": ("仓储", "warehousing"),
        "lease": ("出租", "lease"),
        "farming": ("农业生产", "farming"),
        "auction": ("公开拍卖", "public auction"),
        "capital_injection": ("注入县属国企", "injection into a county state company"),
    },
    "plan_status": {
        "pending": ("待实施", "pending"),
        "in_progress": ("实施中", "in progress"),
        "struck_off": ("已销号", "struck off"),
    },
    "transfer_status": {
        "pending": ("待移交", "pending"),
        "completed": ("已移交", "completed"),
    },
    "claim_kind": {
        "claim": ("债权", "claim"),
        "debt": ("债务", "debt"),
    },
    "document_purpose": {
        "photo": ("照片", "photo"),
        "evidence": ("销号佐证", "strike-off evidence"),
        "certificate": ("权属证书", "title certificate"),
        "contract": ("合同协议", "contract"),
        "approval": ("批复文件", "approval"),
        "other": ("其他", "other"),
    },
    "registration_pathway": {
        "change_registration": ("已办证,办理变更登记", "certificated: change registration"),
        "register": ("手续齐全,直接登记", "documents complete: register"),
        "joint_approval": ("手续不全但符合规划,联审后登记", "incomplete but conforming: register after joint approval"),
        "plan_first": ("不符合规划,先纳入规划再登记", "not conforming: enter the plan first"),
    },
    # Planning conformance (issue 6): the verdict of a feature for an intended use.
    "conformance_verdict": {
        "conforming": ("符合规划", "conforming"),
        "conditional": ("有条件符合", "conforming with conditions"),
        "not_conforming": ("不符合规划", "not conforming"),
        "unknown": ("无法判断", "unknown"),
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
