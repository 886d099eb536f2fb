"""Rich tables of the books' reports for the command line (Chinese headers by default, English with ``en``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from gis_service.layers.codelists import label
from gis_service.ledger.checks import InventoryCheck
from gis_service.ledger.progress import Progress, Summary
from gis_service.ledger.reconciliation import MEASURES, Reconciliation, Totals
from gis_service.ledger.rules import MILESTONES

REASONS = {"no_location_text": ("坐落为空", "no location text"), "no_point": ("无坐标", "no coordinates"),
           "no_footprint": ("无占地范围", "no surveyed footprint")}
MEASURE_NAMES = {"count": ("数量", "count"), "land_area": ("占地(㎡)", "land m²"),
                 "floor_area": ("建筑(㎡)", "floor m²"),
                 "original_value": ("原值(万元)", "original 10k CNY"), "net_value": ("净值(万元)", "net 10k CNY"),
                 "claims": ("债权(万元)", "claims 10k CNY"), "debts": ("债务(万元)", "debts 10k CNY")}
STATES = {"met": ("已完成", "met"), "missed": ("未按期完成", "missed"), "open": ("进行中", "open")}
MILESTONE_NAMES = {rule.key: (rule.zh, rule.en) for rule in MILESTONES}


def _table(title: str, headers: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], zh: bool) -> Table:
    table = Table(title=title)
    for head in headers:
        table.add_column(head[0] if zh else head[1], overflow="fold")
    for row in rows:
        table.add_row(*("—" if v is None or v == "" else str(v) for v in row))
    return table


def _pick(pair: tuple[str, str], zh: bool) -> str:
    return pair[0] if zh else pair[1]


def check_tables(check: InventoryCheck, zh: bool) -> list[Table]:
    """One table per kind of finding of the inventory check."""
    name_headers = (("资产编码", "asset"), ("资产名称", "name"))
    return [
        _table("无位置的资产" if zh else "Assets without location", (*name_headers, ("问题", "problem")),
               [[m.code, m.name, "、".join(_pick(REASONS[r], zh) for r in m.reasons)] for m in check.missing_location],
               zh),
        _table("编码重复" if zh else "Colliding codes", (("规范化编码", "normalised"), ("编码", "codes")),
               [[c.normalised, ", ".join(c.codes)] for c in check.duplicate_codes], zh),
        _table(f"同名且相距{check.within_m:g}米内" if zh else f"Same name within {check.within_m:g} m",
               (("名称", "name"), ("编码", "codes"), ("距离(米)", "distance m")),
               [[d.name, ", ".join(d.codes), f"{d.distance_m:.1f}"] for d in check.duplicate_names], zh),
        *(_table(title, (*name_headers, ("登记", "stated"), ("实际所在", "containing"), ("距离(米)", "distance m")),
                 [[o.code, o.name, o.stated, o.containing, o.distance_m] for o in items], zh)
          for title, items in ((("不在所登记合并村内" if zh else "Outside the stated village"), check.outside_village),
                               (("不在所登记原村内" if zh else "Outside the stated former village"),
                                check.outside_former_village))),
    ]


def _totals(totals: Totals) -> list[str]:
    return [f"{totals.count:,}", *(f"{getattr(totals, m):,.2f}" for m in MEASURES[1:])]


def reconciliation_tables(report: Reconciliation, zh: bool) -> list[Table]:
    """Books before and after per merged village and the town, imbalances with causes, and the lists."""
    measure_headers = [MEASURE_NAMES[m] for m in MEASURES]
    books = [[v.code, v.name, "前" if zh else "before", *_totals(v.before)] for v in report.villages]
    rows: list[list[Any]] = []
    for village, before in zip(report.villages, books, strict=True):
        rows += [before, ["", "", "后" if zh else "after", *_totals(village.after)]]
    rows += [["town", "全镇" if zh else "town", "前" if zh else "before", *_totals(report.town_before)],
             ["", "", "后" if zh else "after", *_totals(report.town_after)]]
    verdict = ("平衡" if report.balanced else "不平衡") if zh else ("balanced" if report.balanced else "NOT balanced")
    return [
        _table(f"移交对账: {verdict}" if zh else f"Reconciliation: {verdict}",
               (("村级代码", "village"), ("名称", "name"), ("", ""), *measure_headers), rows, zh),
        _table("差额原因" if zh else "Causes of imbalance", (("对象", "subject"), ("原村", "former"),
                                                         ("应归", "expected"), ("现归", "held by"), ("说明", "detail")),
               [[c.subject, c.former_village, c.expected, c.held_by, c.detail_zh if zh else c.detail_en]
                for c in report.causes], zh),
        _table("仍归撤并村所有的资产" if zh else "Assets still owned by a dissolved village",
               (("资产编码", "asset"), ("资产名称", "name"), ("原村", "owner"), ("并入村", "merged into"),
                ("待移交编号", "pending transfer")),
               [[s.code, s.name, s.owner_code, s.merged_into, s.pending_transfer] for s in report.still_owned], zh),
        _table("权属村不包含其位置的资产" if zh else "Assets outside their owning village",
               (("资产编码", "asset"), ("资产名称", "name"), ("权属单位", "owner"), ("实际所在", "containing")),
               [[m.code, m.name, m.owner_code, m.containing] for m in report.misassigned], zh),
    ]


def progress_tables(report: Progress, language: str) -> list[Table]:
    """Progress by status, village, lead unit and mode; overdue plans; milestones."""
    zh = language == "zh"
    size = (("数量", "count"), ("占地(㎡)", "land m²"), ("建筑(㎡)", "floor m²"), ("原值(万元)", "original"),
            ("净值(万元)", "net"))
    plan_headers = (("方案", "plans"), ("待实施", "pending"), ("实施中", "in progress"), ("已销号", "struck off"),
                    ("逾期", "overdue"))

    def summary_rows(items: Sequence[Summary], codelist: str) -> list[list[Any]]:
        return [[label(codelist, s.key, language) if s.key != "none" else ("无方案" if zh else "no plan"),
                 *_summary_values(s)] for s in items]

    tables = [
        _table(f"按使用状态 ({report.as_of})" if zh else f"By use status ({report.as_of})",
               (("使用状态", "use status"), *size), summary_rows(report.by_use_status, "use_status"), zh),
        _table("按盘活方案状态" if zh else "By plan status", (("方案状态", "plan status"), *size),
               summary_rows(report.by_plan_status, "plan_status"), zh),
        _table("按村" if zh else "By village", (("村级代码", "village"), ("名称", "name"), *size,
                                               ("需盘活", "needing plan"), ("方案", "plans"), ("已销号", "struck off"),
                                               ("逾期", "overdue")),
               [[v.code, v.name, *_summary_values(v.assets), v.needing_plan, v.plans, v.struck_off, v.overdue]
                for v in report.by_village], zh),
        *(_table(title, ((head, head_en), *plan_headers),
                 [[label("revitalisation_mode", g.key, language) if codelist else g.key, g.plans, g.pending,
                   g.in_progress, g.struck_off, g.overdue] for g in groups], zh)
          for title, head, head_en, groups, codelist in (
              ("按牵头单位" if zh else "By lead unit", "牵头单位", "lead unit", report.by_lead_unit, False),
              ("按盘活方式" if zh else "By mode", "盘活方式", "mode", report.by_mode, True))),
        _table("逾期方案" if zh else "Overdue plans", (("资产编码", "asset"), ("资产名称", "name"), ("村", "village"),
                                                   ("牵头单位", "lead unit"), ("责任人", "responsible"),
                                                   ("完成时限", "deadline"), ("逾期天数", "days overdue")),
               [[o.asset_code, o.asset_name, o.village_code, o.lead_unit, o.responsible_person, o.deadline,
                 o.days_overdue] for o in report.overdue], zh),
    ]
    for milestone in report.milestones:
        rows = [[c.code, c.name, c.done, c.total, f"{c.share:.0%}", _pick(STATES[c.state], zh)]
                for c in (*milestone.villages, milestone.town)]
        name = _pick(MILESTONE_NAMES.get(milestone.key, (milestone.key, milestone.key)), zh)
        tables.append(_table(f"节点:{name}(时限 {milestone.due})" if zh
                             else f"Milestone: {name} (due {milestone.due})",
                             (("村级代码", "village"), ("名称", "name"), ("已完成", "done"), ("总数", "total"),
                              ("完成率", "share"), ("状态", "state")), rows, zh))
    return tables


def _summary_values(summary: Summary) -> list[str]:
    return [f"{summary.count:,}", f"{summary.land_area:,.0f}", f"{summary.floor_area:,.0f}",
            f"{summary.original_value:,.2f}", f"{summary.net_value:,.2f}"]
