"""The notice's rules for the asset ledger, as pure functions (no database, no HTTP).

Source: plan 2 of the notice, 盘活用好镇村公有资产工作方案 (``../shared/mission/``): §(一) inventory by
31 March, §(二) transfer by 31 May, §(三) plans by 30 June ("清单制+责任制+销号制", 盘活一宗销号一宗),
§(四) the five modes for town assets (五个一批), §(五) the four modes for village positions and assets
(四个一批), revitalisation by 31 December, and §(六) the four registration pathways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# §(四) town state-owned assets and §(五) village-collective assets.
MODES_BY_OWNERSHIP: dict[str, frozenset[str]] = {
    "town_state": frozenset({"office_use", "public_welfare", "industry", "market_disposal", "state_capital"}),
    "village_collective": frozenset(
        {"convenience_service", "welfare_rebuild", "collective_economy", "market_operation"}),
}

# Use statuses that need a revitalisation plan; an asset in use or leased needs none.
NEEDS_PLAN = frozenset({"idle", "partly_idle"})

# Plan status changes a clerk may make; striking off is final (a struck-off plan is reopened only by
# restoring an earlier version from its history, which is recorded too).
PLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"pending", "in_progress", "struck_off"}),
    "in_progress": frozenset({"in_progress", "pending", "struck_off"}),
    "struck_off": frozenset({"struck_off"}),
}


@dataclass(frozen=True)
class MilestoneRule:
    """A deadline of the notice: its key, labels, and the default month and day (the year is configured)."""

    key: str
    zh: str
    en: str
    month: int
    day: int


MILESTONES: tuple[MilestoneRule, ...] = (
    MilestoneRule("inventory", "资产清查", "inventory", 3, 31),
    MilestoneRule("transfer", "资产移交", "transfer", 5, 31),
    MilestoneRule("plans", "制定盘活方案", "revitalisation plans", 6, 30),
    MilestoneRule("revitalisation", "闲置资产盘活", "revitalisation", 12, 31),
)


def default_milestones(year: int) -> dict[str, date]:
    """The notice's four deadlines in ``year`` (the notice set them for 2021)."""
    return {rule.key: date(year, rule.month, rule.day) for rule in MILESTONES}


def mode_fits_ownership(mode: str, ownership: str | None) -> bool:
    """Whether revitalisation ``mode`` is one the notice allows for assets of ``ownership``."""
    return mode in MODES_BY_OWNERSHIP.get(ownership or "", frozenset())


def needs_plan(use_status: str | None) -> bool:
    """Idle and partly idle assets need a revitalisation plan; assets in use or leased do not."""
    return use_status in NEEDS_PLAN


def is_overdue(deadline: date, status: str, as_of: date) -> bool:
    """A plan not struck off after its deadline is overdue."""
    return status != "struck_off" and deadline < as_of


@dataclass(frozen=True)
class Pathway:
    """One asset's registration pathway (§六) and why."""

    pathway: str  # change_registration | register | joint_approval | plan_first
    reason_zh: str
    reason_en: str


def registration_pathway(certificate_no: str | None, documents_status: str | None,
                         conforming: bool | None) -> Pathway:
    """Sort an asset into one of the notice's four registration pathways.

    Parameters
    ----------
    certificate_no
        The title certificate number, if the asset is already registered.
    documents_status
        ``complete`` (land source, planning and completion documents all present), ``incomplete`` or ``none``.
    conforming
        Whether the asset conforms to current land use and planning (from the overlay with planning zones);
        ``None`` when unknown (no planning data where the asset lies), which is treated as not conforming.

    Returns
    -------
    Pathway
        The pathway code and the reason in Chinese and English.
    """
    if certificate_no and certificate_no.strip():
        return Pathway("change_registration", f"已有不动产权证({certificate_no.strip()}),办理变更(转移)登记",
                       f"already certificated ({certificate_no.strip()}): change registration")
    if documents_status == "complete":
        return Pathway("register", "用地来源、规划、竣工等手续齐全,直接办理登记",
                       "land source, planning and completion documents complete: register")
    if conforming:
        return Pathway("joint_approval", "手续不全,但符合土地利用现状和规划,经联合审查后办理登记",
                       "documents incomplete but conforming to land use and planning: register after joint approval")
    why_zh = "无规划数据,按不符合处理" if conforming is None else "不符合土地利用现状和规划"
    why_en = "no planning data here, treated as not conforming" if conforming is None else \
        "not conforming to land use and planning"
    return Pathway("plan_first", f"手续不全且{why_zh}:先纳入乡镇(村)规划,规划批准后6个月内办理登记",
                   f"documents incomplete and {why_en}: enter the township/village plan first, "
                   "register within six months of its approval")


def plan_state(status: str | None, deadline: date | None, as_of: date) -> str:
    """What a supervisor sees of an idle asset's plan: ``no_plan``, ``overdue``, or the plan's status."""
    if status is None:
        return "no_plan"
    if deadline is not None and is_overdue(deadline, status, as_of):
        return "overdue"
    return status
