"""The demo town's asset ledger (资产台账): ledger fields of every asset, transfers after the merger, claims and
debts of the former villages, revitalisation plans in every state, evidence files and milestones.

The campaign is set in 2026 (inventory by 31 March, transfer by 31 May, plans by 30 June, revitalisation by
31 December, the notice's dates moved to the current year) so that, seen from late 2026, some plans are overdue,
some still running and some struck off. A few mistakes are planted on purpose (``Ledger.planted``) for the
inventory check and the reconciliation to find; everything else balances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from shapely.geometry import Point

TOWN_CODE = "510923100"
YEAR = 2026
MILESTONES = {"inventory": date(YEAR, 3, 31), "transfer": date(YEAR, 5, 31), "plans": date(YEAR, 6, 30),
              "revitalisation": date(YEAR, 12, 31)}
RESOURCE = frozenset({"land", "pond", "forest", "reservoir"})
SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭罗梁宋唐蒋"
GIVEN = ("建国", "志强", "秀英", "德明", "玉兰", "国华", "春梅", "文斌", "光荣", "小军", "丽华", "永福", "海燕", "成刚")
TENANTS = ("大英县蓬源农业专业合作社", "遂宁市涪江藤艺加工厂", "个体工商户", "大英县顺达物流有限公司",
           "蓬莱镇百姓大药房", "大英县绿野种养殖家庭农场", "四川卓成电子科技有限公司")
CLAIM_PARTIES = (("debt", "大英县农村信用合作联社蓬莱分社"), ("debt", "村道硬化工程施工方"),
                 ("claim", "村民承包费欠缴户"), ("claim", "原村集体林地承包方"), ("debt", "原村干部垫付款"),
                 ("claim", "门市承租方欠缴租金"))

# What each kind of idle asset is planned to become: (mode, target use) for town and village assets.
TOWN_USES: dict[str, tuple[tuple[str, str], ...]] = {
    "school": (("public_welfare", "study_base"), ("public_welfare", "kindergarten")),
    "office": (("office_use", "office"), ("office_use", "staff_housing")),
    "clinic": (("public_welfare", "clinic"),),
    "nursing_home": (("public_welfare", "elderly_day_care"),),
}
TOWN_DEFAULT_USES = (("industry", "workshop"), ("market_disposal", "auction"), ("state_capital", "capital_injection"))
VILLAGE_USES: dict[str, tuple[tuple[str, str], ...]] = {
    "village_office": (("convenience_service", "agency_station"), ("welfare_rebuild", "elderly_day_care"),
                       ("welfare_rebuild", "children_home"), ("welfare_rebuild", "culture_room")),
    "school": (("welfare_rebuild", "children_home"), ("market_operation", "study_base")),
    "clinic": (("welfare_rebuild", "clinic"),),
    "culture_room": (("welfare_rebuild", "village_history"),),
}
VILLAGE_DEFAULT_USES = (("collective_economy", "lease"), ("collective_economy", "workshop"),
                        ("market_operation", "warehouse"), ("market_operation", "homestay"))
RESOURCE_USES = (("collective_economy", "farming"), ("collective_economy", "lease"))
TOWN_LEADS = {"school": "社事办", "nursing_home": "社事办", "clinic": "卫健办", "office": "财政办"}


@dataclass
class Ledger:
    """The ledger tables of the demo town, as rows (dicts) ready to write as CSV."""

    transfers: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    milestones: list[dict[str, Any]] = field(default_factory=list)
    planted: dict[str, list[str]] = field(default_factory=dict)  # the mistakes planted on purpose, by kind


def _person(rng: np.random.Generator) -> str:
    return str(SURNAMES[int(rng.integers(len(SURNAMES)))] + GIVEN[int(rng.integers(len(GIVEN)))])


def _day(rng: np.random.Generator, start: date, end: date) -> date:
    return start + timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def _is_building(row: dict[str, Any]) -> bool:
    return row["category"] not in RESOURCE


def _ledger_fields(rng: np.random.Generator, row: dict[str, Any]) -> None:
    """Year built, net value, certificate, documents, condition and lease of one asset."""
    building = _is_building(row)
    row["year_built"] = int(rng.integers(1975, 2016)) if building else None
    age = YEAR - (row["year_built"] or YEAR)
    original = row.get("original_value") or 0.0
    row["net_value"] = round(original * max(0.05, 1 - 0.025 * age), 2) if building else original
    certified = rng.random() < (0.3 if building else 0.15)
    row["certificate_no"] = f"川({int(rng.integers(2016, 2025))})大英县不动产权第{int(rng.integers(1, 99999)):07d}号" \
        if certified else None
    row["documents_status"] = "complete" if certified else str(rng.choice(["complete", "incomplete", "none"],
                                                                          p=[0.3, 0.5, 0.2]))
    row["building_condition"] = str(rng.choice(["good", "fair", "poor", "dangerous"], p=[0.3, 0.4, 0.22, 0.08])) \
        if building else None
    leased = row["use_status"] == "leased"
    start = _day(rng, date(2019, 1, 1), date(2025, 12, 31)) if leased else None
    row["tenant"] = (_person(rng) if rng.random() < 0.3 else str(rng.choice(TENANTS))) if leased else None
    row["lease_start"] = start
    row["lease_end"] = date(start.year + int(rng.integers(3, 11)), start.month, min(start.day, 28)) if start else None
    row["annual_income"] = round(float(rng.uniform(0.3, 8.0)), 2) if leased else None


def enrich_assets(seed: int, assets: list[dict[str, Any]], villages: dict[str, str],
                  formers: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """Give every asset row its ledger fields and plant the inventory mistakes.

    Parameters
    ----------
    seed
        The demo seed.
    assets
        Asset rows (dicts with the model's columns and ``geometry`` in EPSG:4544), changed in place; one
        duplicate row is appended.
    villages
        Merged village code → name.
    formers
        Former village code → (name, merged village code).

    Returns
    -------
    dict of str to list of str
        The asset codes of each planted mistake (``wrong_village``, ``duplicate``, ``no_location``,
        ``not_inventoried``).
    """
    rng = np.random.default_rng([seed, 40])
    assets.sort(key=lambda r: r["code"])
    late = set(sorted(villages)[3::5])  # these villages finished the inventory after 31 March
    collective_formers = [r for r in assets if r["ownership"] == "village_collective" and r["former_village_code"]]
    pending = {r["code"] for r in collective_formers[5::9]}
    for row in assets:
        _ledger_fields(rng, row)
        if row["ownership"] == "town_state":
            row["owner_code"] = TOWN_CODE
        elif row["code"] in pending:
            row["owner_code"] = row["former_village_code"]
            row["owner_unit"] = f"{formers[row['former_village_code']][0]}股份经济合作社"
        else:
            row["owner_code"] = row["village_code"]
        done = date(YEAR, 4, 20) if row["village_code"] in late else date(YEAR, 3, 28)
        row["inventoried_on"] = _day(rng, date(YEAR, 2, 20), done)
    return _plant_inventory_mistakes(assets, villages)


def _plant_inventory_mistakes(assets: list[dict[str, Any]], villages: dict[str, str]) -> dict[str, list[str]]:
    shops = [r for r in assets if r["category"] == "shop" and r["ownership"] == "village_collective"]
    codes = sorted(villages)
    wrong = [shops[3], shops[11]]
    for row in wrong:  # a clerk typed the neighbouring village's code into 所在村代码
        row["village_code"] = codes[(codes.index(row["village_code"]) + 1) % len(codes)]
    copy_of = shops[7]
    sequence = max(int(r["code"][-3:]) for r in assets if r["code"][:-3] == copy_of["code"][:-3]) + 1
    duplicate = {**copy_of, "code": f"{copy_of['code'][:-3]}{sequence:03d}",
                 "geometry": Point(copy_of["geometry"].x + 3.0, copy_of["geometry"].y - 2.0)}
    assets.append(duplicate)  # the same shop entered twice, 3.6 m apart
    unplaced = [r for r in assets if r["category"] == "warehouse"][2]
    unplaced["location"] = None  # 坐落 left empty
    uninventoried = [r for r in assets if r["category"] == "pond"][4]
    uninventoried["inventoried_on"] = None
    assets.sort(key=lambda r: r["code"])
    return {"wrong_village": [r["code"] for r in wrong], "duplicate": [copy_of["code"], duplicate["code"]],
            "no_location": [unplaced["code"]], "not_inventoried": [uninventoried["code"]]}


def build_ledger(seed: int, assets: list[dict[str, Any]], villages: dict[str, str],
                 formers: dict[str, tuple[str, str]], planted: dict[str, list[str]]) -> Ledger:
    """Transfers, claims and debts, plans, evidence documents and milestones for the enriched ``assets``
    (``planted``: the inventory mistakes :func:`enrich_assets` made, added to the ledger's own)."""
    ledger = Ledger(milestones=[{"key": k, "due": d} for k, d in MILESTONES.items()], planted=dict(planted))
    _transfers(np.random.default_rng([seed, 41]), assets, ledger)
    _claims(np.random.default_rng([seed, 42]), formers, ledger)
    _plans(np.random.default_rng([seed, 43]), assets, villages, ledger)
    return ledger


def _approval(rng: np.random.Generator, office: str) -> str:
    return f"蓬莱镇{office}〔{YEAR}〕{int(rng.integers(1, 60))}号"


def _transfers(rng: np.random.Generator, assets: list[dict[str, Any]], ledger: Ledger) -> None:
    """One transfer per asset of a former village; pending where the asset is still the former village's.
    One such asset has no transfer at all (planted)."""
    moved = [r for r in assets if r["former_village_code"] and r["code"] not in ledger.planted["duplicate"][1:]]
    forgotten = [r for r in moved if r["owner_code"] == r["former_village_code"]][-1]
    ledger.planted["no_transfer"] = [forgotten["code"]]
    for row in moved:
        if row is forgotten:
            continue
        done = row["owner_code"] != row["former_village_code"]
        to_code = row["owner_code"] if done else row["village_code"]
        ledger.transfers.append({
            "asset_code": row["code"], "from_code": row["former_village_code"], "to_code": to_code,
            "status": "completed" if done else "pending",
            "transfer_date": _day(rng, date(YEAR, 4, 1), date(YEAR, 6, 20)) if done else None,
            "approval": _approval(rng, "财" if row["ownership"] == "town_state" else "农综") if done else None,
            "note": "原村学校闲置资产移交镇" if row["ownership"] == "town_state" else None,
            "recorded_by": "demo"})


def _claims(rng: np.random.Generator, formers: dict[str, tuple[str, str]], ledger: Ledger) -> None:
    """One to three claims or debts per former village, most transferred; one sent to the wrong village."""
    merged = sorted({into for _, into in formers.values()})
    for code in sorted(formers):
        name, into = formers[code]
        for k in rng.choice(len(CLAIM_PARTIES), int(rng.integers(1, 4)), replace=False):
            kind, party = CLAIM_PARTIES[int(k)]
            done = rng.random() < 0.85
            ledger.claims.append({
                "former_village_code": code, "kind": kind, "counterparty": party,
                "amount": round(float(rng.uniform(0.3, 25.0)), 2), "description": f"{name}{party}",
                "to_code": into, "status": "completed" if done else "pending",
                "transfer_date": _day(rng, date(YEAR, 4, 1), date(YEAR, 5, 31)) if done else None,
                "approval": _approval(rng, "农综") if done else None, "recorded_by": "demo"})
    wrong = next(c for c in ledger.claims if c["status"] == "completed" and c["kind"] == "debt")
    wrong["to_code"] = merged[(merged.index(wrong["to_code"]) + 1) % len(merged)]
    ledger.planted["claim_wrong_village"] = [f"{wrong['former_village_code']}:{wrong['counterparty']}"]


def _plan_use(rng: np.random.Generator, row: dict[str, Any]) -> tuple[str, str]:
    if row["ownership"] == "town_state":
        options = TOWN_USES.get(row["category"], TOWN_DEFAULT_USES)
    elif row["category"] in RESOURCE:
        options = RESOURCE_USES
    else:
        options = VILLAGE_USES.get(row["category"], VILLAGE_DEFAULT_USES)
    return options[int(rng.integers(len(options)))]


def _plans(rng: np.random.Generator, assets: list[dict[str, Any]], villages: dict[str, str],
           ledger: Ledger) -> None:
    """A plan for most idle and partly idle assets: about a third struck off with evidence, the rest
    pending or in progress, some past their deadline."""
    idle = [r for r in assets if r["use_status"] in ("idle", "partly_idle")]
    without = {r["code"] for r in idle[4::9]}  # no plan yet
    for row in idle:
        if row["code"] in without:
            continue
        mode, use = _plan_use(rng, row)
        planned = _day(rng, date(YEAR, 4, 10), date(YEAR, 7, 25))
        deadline = [date(YEAR, 9, 30), date(YEAR, 12, 31), date(YEAR + 1, 6, 30)][int(rng.integers(3))]
        status = str(rng.choice(["struck_off", "in_progress", "pending"], p=[0.35, 0.35, 0.30]))
        town = row["ownership"] == "town_state"
        lead = TOWN_LEADS.get(row["category"], "经济发展办") if town else \
            f"{villages[row['village_code']]}{'居' if row['village_code'][-3] == '0' else '村'}民委员会"
        struck = _day(rng, planned + timedelta(days=20), min(deadline, date(YEAR, 11, 20))) \
            if status == "struck_off" else None
        ledger.plans.append({
            "asset_code": row["code"], "mode": mode, "target_use": use, "lead_unit": lead,
            "responsible_person": _person(rng), "planned_on": planned, "deadline": deadline, "status": status,
            "struck_off_on": struck,
            "evidence_note": f"已验收投用,见验收照片及协议 ({use})" if struck else None, "note": None})
        if struck:
            ledger.documents.append({"asset_code": row["code"], "purpose": "evidence",
                                     "file": f"evidence/{row['code']}.pdf"})


def evidence_pdf(asset_code: str, plan_text: str) -> bytes:
    """A small, valid one-page PDF standing in for a scanned acceptance record (ASCII text only: the
    standard PDF fonts carry no Chinese)."""
    text = f"Strike-off evidence (demo) - asset {asset_code} - {plan_text}"
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
