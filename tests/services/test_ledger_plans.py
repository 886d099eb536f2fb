"""Revitalisation plans on both backends: every rule of the notice, rights, versions, history, evidence."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gis_service.access import ANONYMOUS
from gis_service.errors import (
    AuthenticationRequiredError,
    ConflictError,
    LedgerInputRejectedError,
    LedgerRuleError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
)
from gis_service.services.ledger_documents import DocumentService, DocumentStore, StagedUpload
from gis_service.services.ledger_plans import PlanQuery, PlanService
from tests.ledger_plans_data import (
    ADMIN,
    EDITOR_A,
    IDLE_A,
    IDLE_B,
    IN_USE,
    LEASED,
    PLANNER,
    TOWN_IDLE,
    VIEWER,
    add_assets,
    image,
    pdf,
    plan_fields,
)


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "uploads", max_bytes=2**20, quota_bytes=10 * 2**20)


@pytest.fixture
def plans(engine: Engine, store: DocumentStore) -> PlanService:
    add_assets(engine)
    return PlanService(engine, store)


def _evidence(store: DocumentStore, content: bytes | None = None, name: str = "验收照片.jpg") -> StagedUpload:
    return store.stage([content or image()], name, None)


# ---------------------------------------------------------------------- creating


def test_create_stores_codes_from_labels_and_records_history(plans: PlanService) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    assert (plan.mode, plan.target_use, plan.status, plan.version) == ("convenience_service", "agency_station",
                                                                        "pending", 1)
    assert (plan.village_code, plan.ownership, plan.planned_on) == ("510923100201", "village_collective",
                                                                     date(2021, 6, 1))
    [created] = plans.history(plan.id)
    assert (created.action, created.actor, created.before) == ("create", "zhang_admin", None)
    assert created.after is not None and created.after["mode"] == "convenience_service"


def test_town_modes_fit_town_assets_and_village_modes_village_assets(plans: PlanService) -> None:
    town = plans.create(plan_fields(TOWN_IDLE, mode="改作公益用房"), ADMIN)
    assert town.mode == "public_welfare"
    with pytest.raises(LedgerRuleError, match="不适用于村集体资产") as caught:
        plans.create(plan_fields(IDLE_B, mode="public_welfare"), ADMIN)
    assert "convenience_service" in caught.value.detail  # names the modes that would fit
    with pytest.raises(LedgerRuleError, match="does not fit asset GY510923100-901"):
        plans.create(plan_fields(TOWN_IDLE, mode="集体经济发展使用"), ADMIN)


@pytest.mark.parametrize("asset", [IN_USE, LEASED])
def test_an_asset_in_use_or_leased_needs_no_plan(plans: PlanService, asset: str) -> None:
    with pytest.raises(LedgerRuleError, match="only idle or partly idle assets need a revitalisation plan"):
        plans.create(plan_fields(asset), ADMIN)
    assert plans.find(PlanQuery()) == []


def test_partly_idle_asset_gets_a_plan_and_only_one(plans: PlanService) -> None:
    plans.create(plan_fields(IDLE_B), ADMIN)
    with pytest.raises(ConflictError, match="has a revitalisation plan already"):
        plans.create(plan_fields(IDLE_B, mode="市场运营开发"), ADMIN)


def test_unknown_asset_is_404_and_bad_fields_are_named(plans: PlanService) -> None:
    with pytest.raises(NotFoundError, match="JT-NOPE"):
        plans.create(plan_fields("JT-NOPE"), ADMIN)
    with pytest.raises(LedgerInputRejectedError) as caught:
        plans.create(plan_fields(mode="盖大楼", deadline="明年", colour="red", lead_unit=" "), ADMIN)
    fields = {p.field for p in caught.value.problems}
    assert fields == {"mode", "deadline", "colour", "lead_unit"}
    with pytest.raises(LedgerInputRejectedError, match="before the plan was made"):
        plans.create(plan_fields(deadline="2021-05-01"), ADMIN)
    assert plans.find(PlanQuery()) == []


def test_roles_and_village_scope(plans: PlanService) -> None:
    with pytest.raises(AuthenticationRequiredError):
        plans.create(plan_fields(), ANONYMOUS)
    for reader in (VIEWER, PLANNER):
        with pytest.raises(PermissionDeniedError, match="needs the editor or admin role"):
            plans.create(plan_fields(), reader)
    with pytest.raises(PermissionDeniedError, match="belongs to 510923100202"):
        plans.create(plan_fields(IDLE_B), EDITOR_A)
    with pytest.raises(PermissionDeniedError, match="belongs to the whole town"):
        plans.create(plan_fields(TOWN_IDLE, mode="office_use"), EDITOR_A)
    own = plans.create(plan_fields(IDLE_A), EDITOR_A)
    other = plans.create(plan_fields(IDLE_B), ADMIN)
    with pytest.raises(PermissionDeniedError):
        plans.update(other.id, {"note": "越权"}, EDITOR_A, None)
    assert plans.update(own.id, {"note": "本村"}, EDITOR_A, None).note == "本村"


# ---------------------------------------------------------------------- changing


def test_status_changes_follow_the_transitions_and_are_recorded(plans: PlanService) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    started = plans.update(plan.id, {"status": "实施中"}, ADMIN, ['"1"'])
    assert (started.status, started.version) == ("in_progress", 2)
    back = plans.update(plan.id, {"status": "pending", "lead_unit": "村委会"}, ADMIN, [started.etag])
    assert back.status == "pending"
    history = plans.history(plan.id)
    assert [v.action for v in history] == ["create", "status", "status"]
    assert history[1].before is not None and history[1].after is not None
    assert (history[1].before["status"], history[1].after["status"]) == ("pending", "in_progress")
    assert history[2].after is not None and history[2].after["lead_unit"] == "村委会"


def test_update_without_change_writes_nothing_and_mode_is_rechecked(plans: PlanService) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    same = plans.update(plan.id, {"mode": "convenience_service", "deadline": "2021-12-31"}, ADMIN, None)
    assert same.version == 1 and len(plans.history(plan.id)) == 1
    with pytest.raises(LedgerRuleError, match="market_disposal"):
        plans.update(plan.id, {"mode": "市场化处置变现"}, ADMIN, None)
    with pytest.raises(LedgerInputRejectedError, match="asset_code"):
        plans.update(plan.id, {"asset_code": IDLE_B}, ADMIN, None)
    with pytest.raises(NotFoundError):
        plans.update(9999, {"note": "x"}, ADMIN, None)


def test_stale_version_is_refused(plans: PlanService) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    plans.update(plan.id, {"note": "第一次"}, ADMIN, [plan.etag])
    with pytest.raises(PreconditionFailedError, match="has changed since you read it"):
        plans.update(plan.id, {"note": "第二次"}, ADMIN, [plan.etag])
    assert plans.get(plan.id).note == "第一次"
    assert plans.update(plan.id, {"note": "强制"}, ADMIN, ["*"]).version == 3


def test_threaded_race_on_one_version_has_exactly_one_winner(plans: PlanService) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            plans.update(plan.id, {"note": f"writer {n}"}, ADMIN, [plan.etag])
            outcomes.append(f"won {n}")
        except PreconditionFailedError:
            outcomes.append("412")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1 and outcomes.count("412") == 5
    stored = plans.get(plan.id)
    assert stored.version == 2 and stored.note == f"writer {winners[0].split()[1]}"
    assert [v.action for v in plans.history(plan.id)] == ["create", "update"]


# ---------------------------------------------------------------------- striking off


def test_no_strike_off_without_evidence(plans: PlanService, store: DocumentStore) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    with pytest.raises(LedgerRuleError, match="cannot be struck off without evidence"):
        plans.strike_off(plan.id, ADMIN, None, note="已改作代办站")
    with pytest.raises(LedgerRuleError, match="without evidence"):
        plans.update(plan.id, {"status": "struck_off"}, ADMIN, None)
    stored = plans.get(plan.id)
    assert (stored.status, stored.version, stored.struck_off_on) == ("pending", 1, None)
    assert len(plans.history(plan.id)) == 1


def test_strike_off_with_upload_in_one_call(plans: PlanService, store: DocumentStore) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    staged = [_evidence(store), store.stage([pdf()], "验收单.pdf", "application/pdf")]
    done = plans.strike_off(plan.id, ADMIN, [plan.etag], on=date(2021, 11, 30), note="已建成便民服务代办站",
                            uploads=staged)
    assert (done.status, done.struck_off_on, done.evidence_note) == ("struck_off", date(2021, 11, 30),
                                                                      "已建成便民服务代办站")
    assert len(done.evidence) == 2
    last = plans.history(plan.id)[-1]
    assert last.action == "strike_off" and last.after is not None
    assert last.after["status"] == "struck_off" and last.after["evidence"] == list(done.evidence)
    assert store.temp_files() == []
    with pytest.raises(ConflictError, match="struck off on 2021-11-30"):
        plans.strike_off(plan.id, ADMIN, None, uploads=[_evidence(store, image(colour=(1, 2, 3)))])
    with pytest.raises(LedgerRuleError, match="only its note may change"):
        plans.update(plan.id, {"status": "in_progress"}, ADMIN, None)
    assert plans.update(plan.id, {"note": "复查通过"}, ADMIN, None).note == "复查通过"
    assert store.temp_files() == []


def test_strike_off_with_documents_uploaded_before(plans: PlanService, store: DocumentStore, engine: Engine) -> None:
    documents = DocumentService(engine, store)
    photo = documents.upload(IDLE_A, _evidence(store), "照片", ADMIN)  # a photo is not evidence
    other = plans.create(plan_fields(IDLE_B), ADMIN)
    foreign = documents.upload(IDLE_B, _evidence(store, image(colour=(0, 90, 0))), "evidence", ADMIN)
    assert foreign.plan_id == other.id  # evidence goes to the asset's plan at once
    plan = plans.create(plan_fields(), ADMIN)
    with pytest.raises(LedgerInputRejectedError) as caught:
        plans.strike_off(plan.id, ADMIN, None, document_ids=[photo.id, foreign.id, 999])
    messages = [p.message for p in caught.value.problems]
    assert any("not as strike-off evidence" in m for m in messages)
    assert any("belongs to asset JT510923100202-901" in m for m in messages)
    assert any("999 does not exist" in m for m in messages)
    evidence = documents.upload(IDLE_A, _evidence(store, pdf("验收"), "验收.pdf"), "销号佐证", ADMIN)
    assert evidence.plan_id == plan.id
    done = plans.strike_off(plan.id, ADMIN, None)
    assert done.evidence == (evidence.id,) and done.struck_off_on == date.today()


def test_strike_off_date_is_checked_and_failure_stores_nothing(plans: PlanService, store: DocumentStore,
                                                               engine: Engine) -> None:
    plan = plans.create(plan_fields(), ADMIN)
    tomorrow = date.today() + timedelta(days=1)
    for day in (tomorrow, date(2021, 5, 1)):
        staged = _evidence(store)
        with pytest.raises(LedgerInputRejectedError, match="struck_off_on"):
            plans.strike_off(plan.id, ADMIN, None, on=day, uploads=[staged])
    with pytest.raises(PreconditionFailedError):
        plans.strike_off(plan.id, ADMIN, ['"7"'], uploads=[_evidence(store)])
    assert store.usage() == 0 and store.temp_files() == []
    assert DocumentService(engine, store).for_asset(IDLE_A) == []
    assert plans.get(plan.id).status == "pending"


# ---------------------------------------------------------------------- listing


def test_filters(plans: PlanService, store: DocumentStore) -> None:
    a = plans.create(plan_fields(IDLE_A, deadline="2021-09-30", lead_unit="蓬莱镇党政办"), ADMIN)
    b = plans.create(plan_fields(IDLE_B, mode="market_operation", target_use="民宿", lead_unit="村委会"), ADMIN)
    town = plans.create(plan_fields(TOWN_IDLE, mode="industry", target_use="workshop", deadline="2022-03-31"), ADMIN)
    plans.strike_off(b.id, ADMIN, None, on=date(2021, 10, 1), uploads=[_evidence(store)])

    def ids(**query: object) -> list[int]:
        return [p.id for p in plans.find(PlanQuery(**query))]  # type: ignore[arg-type]

    assert ids() == [a.id, b.id, town.id]  # by deadline
    assert ids(status="已销号") == [b.id]
    assert ids(village_code="510923100201") == [a.id]
    assert ids(lead_unit="党政") == [a.id, town.id]
    assert ids(mode="市场运营开发") == [b.id]
    assert ids(asset_code=TOWN_IDLE) == [town.id]
    assert ids(overdue_as_of=date(2022, 1, 1)) == [a.id]  # b is struck off, town's deadline not passed
    assert ids(overdue_as_of=date(2022, 4, 1)) == [a.id, town.id]
    with pytest.raises(LedgerInputRejectedError, match="status"):
        ids(status="finished")


def test_evidence_cannot_be_added_to_a_struck_off_plan(plans: PlanService, store: DocumentStore,
                                                       engine: Engine) -> None:
    documents = DocumentService(engine, store)
    plan = plans.create(plan_fields(), ADMIN)
    done = plans.strike_off(plan.id, ADMIN, None, on=date(2021, 11, 30), uploads=[_evidence(store)])
    with pytest.raises(ConflictError, match="evidence is closed"):
        documents.upload(IDLE_A, _evidence(store, pdf("补充"), "补充.pdf"), "销号佐证", ADMIN)
    assert [d.purpose for d in documents.for_asset(IDLE_A)] == ["evidence"] and store.temp_files() == []
    contract = documents.upload(IDLE_A, _evidence(store, pdf("租赁合同"), "合同.pdf"), "contract", ADMIN)
    assert contract.plan_id is None  # other purposes stay allowed, attached to no plan
    after = plans.get(plan.id)
    assert (after.version, after.etag, after.evidence) == (done.version, done.etag, done.evidence)
    assert [v.action for v in plans.history(plan.id)] == ["create", "strike_off"]
