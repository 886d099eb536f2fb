"""Progress and milestones on the hand-made town, worked out by hand, on both backends."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from gis_service.access import Principal, Role
from gis_service.errors import NotFoundError, PermissionDeniedError
from gis_service.ledger.progress import Summary
from gis_service.repositories.ledger_books import ASSETS
from gis_service.services.ledger_progress import LedgerProgressService, progress_json
from tests.ledger_books_town import F2, F3, V1, V2, add_plan, add_transfer, load

AS_OF = date(2021, 10, 15)
ADMIN = Principal("zhang", Role.ADMIN)


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> LedgerProgressService:
    """The town with two plans (JT-001 pending and overdue; jt-001 struck off, planned late) and two transfers
    (JT-002 on time, JT-003 late)."""
    load(engine, tmp_path)
    add_plan(engine, "JT-001", "collective_economy", "2021-06-01", "2021-09-30")
    add_plan(engine, "jt-001", "market_operation", "2021-07-05", "2021-12-31", "struck_off", "2021-10-01")
    add_transfer(engine, "JT-002", F2, V1, when="2021-05-20")
    add_transfer(engine, "JT-003", F3, V2, when="2021-06-10")
    return LedgerProgressService(engine, 2021)


def test_groups(service: LedgerProgressService) -> None:
    report = service.progress(AS_OF)
    by_use = {s.key: s for s in report.by_use_status}
    assert by_use["idle"] == Summary("idle", 2, 4000, 1900, 250, 180)  # JT-001 + GY-001
    assert by_use["in_use"] == Summary("in_use", 2, 2100, 100, 25, 12)  # JT-002 + JT-005
    assert {s.key: s.count for s in report.by_plan_status} == {"pending": 1, "struck_off": 1, "none": 1}
    (unit,) = report.by_lead_unit
    assert (unit.key, unit.plans, unit.pending, unit.struck_off, unit.overdue) == ("农业综合服务中心", 2, 1, 1, 1)
    assert {g.key: g.overdue for g in report.by_mode} == {"collective_economy": 1, "market_operation": 0}
    (late,) = report.overdue
    assert (late.asset_code, late.days_overdue, late.village_code) == ("JT-001", 15, V1)
    villages = {v.code: v for v in report.by_village}
    assert (villages[V1].assets.count, villages[V1].needing_plan, villages[V1].plans, villages[V1].overdue) == (
        4, 3, 2, 1)
    assert villages[V2].assets.count == 2  # JT-003 and JT-005 (which states V2)


def _completion(report, key):  # type: ignore[no-untyped-def]
    milestone = next(m for m in report.milestones if m.key == key)
    return {c.code: (c.done, c.total, c.state) for c in (*milestone.villages, milestone.town)}


def test_milestones_per_village(service: LedgerProgressService) -> None:
    report = service.progress(AS_OF)
    assert _completion(report, "inventory") == {V1: (2, 4, "missed"), V2: (2, 2, "met"), "town": (4, 6, "missed")}
    # transfer: V1 has JT-001, JT-005, jt-001 (F1), JT-002 (F2) and F1's debt; V2 has JT-003 (late) and F3's claim.
    assert _completion(report, "transfer") == {V1: (1, 5, "missed"), V2: (1, 2, "missed"),
                                               "town": (2, 7, "missed")}
    assert _completion(report, "plans") == {V1: (1, 3, "missed"), V2: (0, 0, "met"), "town": (1, 3, "missed")}
    assert _completion(report, "revitalisation") == {V1: (1, 2, "open"), V2: (0, 0, "met"), "town": (1, 2, "open")}


def test_progress_before_any_plan_was_made(service: LedgerProgressService) -> None:
    """On 1 April no plan existed yet (made 1 June and 5 July): nothing planned, nothing struck off."""
    report = service.progress(date(2021, 4, 1))
    assert {s.key: s.count for s in report.by_plan_status} == {"none": 3}  # JT-001, GY-001, jt-001
    assert (report.by_lead_unit, report.by_mode, report.overdue) == ((), (), ())
    assert [(v.plans, v.struck_off, v.overdue) for v in report.by_village] == [(0, 0, 0), (0, 0, 0)]
    assert _completion(report, "inventory") == {V1: (2, 4, "missed"), V2: (2, 2, "met"), "town": (4, 6, "missed")}
    # JT-002's transfer (20 May) and F3's claim (1 May) came after 1 April; the due date (31 May) is still ahead.
    assert _completion(report, "transfer") == {V1: (0, 5, "open"), V2: (0, 2, "open"), "town": (0, 7, "open")}
    assert _completion(report, "plans") == {V1: (0, 3, "open"), V2: (0, 0, "met"), "town": (0, 3, "open")}
    assert _completion(report, "revitalisation") == {V1: (0, 0, "met"), V2: (0, 0, "met"), "town": (0, 0, "met")}


def test_plan_struck_off_later_is_open_before(service: LedgerProgressService) -> None:
    """On 15 September jt-001 (struck off 1 October) was still open and JT-001 (deadline 30 September) not late."""
    report = service.progress(date(2021, 9, 15))
    assert {s.key: s.count for s in report.by_plan_status} == {"pending": 1, "in_progress": 1, "none": 1}
    (unit,) = report.by_lead_unit
    assert (unit.plans, unit.pending, unit.in_progress, unit.struck_off, unit.overdue) == (2, 1, 1, 0, 0)
    assert report.overdue == ()
    assert _completion(report, "plans") == {V1: (1, 3, "missed"), V2: (0, 0, "met"), "town": (1, 3, "missed")}
    assert _completion(report, "revitalisation") == {V1: (0, 2, "open"), V2: (0, 0, "met"), "town": (0, 2, "open")}
    assert [(p.asset_code, p.days_overdue) for p in service.progress(date(2021, 10, 1)).overdue] == [("JT-001", 1)]


def test_plans_made_in_the_future_do_not_count_yet(service: LedgerProgressService) -> None:
    """By 15 June only JT-001's plan (1 June) was made; jt-001's (5 July) did not exist yet."""
    report = service.progress(date(2021, 6, 15))
    assert _completion(report, "plans") == {V1: (1, 3, "open"), V2: (0, 0, "met"), "town": (1, 3, "open")}
    assert {s.key: s.count for s in report.by_plan_status} == {"pending": 1, "none": 2}
    assert _completion(report, "transfer")["town"] == (2, 7, "missed")  # JT-002 (20 May) and F3's claim (1 May)


def test_set_milestone_moves_the_due_date(service: LedgerProgressService) -> None:
    assert [(m.key, m.due, m.source) for m in service.milestones()][:1] == [("inventory", date(2021, 3, 31),
                                                                            "default")]
    service.set_milestone("revitalisation", date(2021, 9, 30), ADMIN)
    service.set_milestone("revitalisation", date(2021, 9, 30), ADMIN)  # setting twice keeps one row
    assert next(m for m in service.milestones() if m.key == "revitalisation").source == "set"
    assert _completion(service.progress(AS_OF), "revitalisation")[V1] == (0, 2, "missed")
    with pytest.raises(NotFoundError, match="no milestone"):
        service.set_milestone("harvest", date(2021, 9, 30), ADMIN)
    with pytest.raises(PermissionDeniedError, match="whole town"):
        service.set_milestone("plans", date(2021, 9, 30), Principal("chen", Role.EDITOR, (V1,)))


def test_inventory_completion_follows_the_data(service: LedgerProgressService, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(ASSETS).where(ASSETS.c.code.in_(["JT-002", "GY-001"])).values(
            inventoried_on=date(2021, 3, 30)))
    assert _completion(service.progress(AS_OF), "inventory")[V1] == (4, 4, "met")
    body = progress_json(service.progress(AS_OF), "zh")
    assert body["byUseStatus"][0]["label"] in ("闲置", "在用", "出租", "部分闲置")
    assert body["milestones"][0]["villages"][0]["met"] is True
