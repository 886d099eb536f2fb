"""Transfers and claims: the rules, the owner change with its history, rights, on both backends."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from gis_service.access import Principal, Role
from gis_service.errors import (
    AuthenticationRequiredError,
    ConflictError,
    InvalidInputError,
    LedgerRuleError,
    NotFoundError,
    PermissionDeniedError,
)
from gis_service.repositories.history import HISTORY
from gis_service.repositories.ledger_books import ASSETS
from gis_service.repositories.ledger_transfers import ClaimFilter, TransferFilter
from gis_service.services.ledger_transfers import (
    Handover,
    NewClaim,
    NewTransfer,
    TransferService,
    owner_unit_warning,
)
from tests.ledger_books_town import F1, F2, F3, TOWN, V1, V2, load

EDITOR = Principal("li_editor", Role.EDITOR)
DONE = Handover(date(2021, 5, 20), "蓬府〔2021〕12号")


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> TransferService:
    load(engine, tmp_path)
    return TransferService(engine)


def _owner(engine: Engine, code: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(ASSETS.c.owner_code, ASSETS.c.owner_unit).where(ASSETS.c.code == code)).one()
    return row.owner_code, row.owner_unit


def test_complete_changes_owner_and_records_history(service: TransferService, engine: Engine) -> None:
    recorded = service.record_transfer(NewTransfer("JT-001", F1, V1, note="随人员移交"), EDITOR)
    assert recorded["status"] == "pending" and recorded["recorded_by"] == "li_editor"
    assert _owner(engine, "JT-001")[0] == F1  # nothing moves until completed
    done = service.complete_transfer(recorded["id"], DONE, EDITOR)
    assert (done["status"], done["transfer_date"], done["approval"]) == ("completed", DONE.transfer_date,
                                                                        DONE.approval)
    assert _owner(engine, "JT-001") == (V1, "东风村股份经济合作联合社")
    with engine.connect() as conn:
        entry = conn.execute(select(HISTORY).where(HISTORY.c.layer == "assets")).one()
    assert (entry.action, entry.actor, entry.version) == ("update", "li_editor", 1)
    assert entry.before["properties"]["owner_code"] == F1 and entry.after["properties"]["owner_code"] == V1
    with pytest.raises(ConflictError, match="cannot be completed again"):
        service.complete_transfer(recorded["id"], DONE, EDITOR)


def _give_owner_unit(engine: Engine, code: str, unit: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(ASSETS).where(ASSETS.c.code == code).values(owner_unit=unit))


def test_transfer_to_the_town_names_the_town_government(service: TransferService, engine: Engine) -> None:
    _give_owner_unit(engine, "JT-002", "东风村股份经济合作联合社")
    transfer = service.record_transfer(NewTransfer("JT-002", V1, TOWN), EDITOR)
    done = service.complete_transfer(transfer["id"], DONE, EDITOR)
    assert _owner(engine, "JT-002") == (TOWN, "蓬莱镇人民政府")
    assert (done["owner_unit"], done["owner_unit_kept"]) == ("蓬莱镇人民政府", False)
    assert owner_unit_warning(done, "zh") is None
    with engine.connect() as conn:
        entry = conn.execute(select(HISTORY).where(HISTORY.c.layer == "assets")).one()
    assert (entry.before["properties"]["owner_unit"], entry.after["properties"]["owner_unit"]) == (
        "东风村股份经济合作联合社", "蓬莱镇人民政府")


def test_transfer_to_an_unknown_unit_keeps_owner_unit_and_says_so(service: TransferService, engine: Engine) -> None:
    _give_owner_unit(engine, "JT-002", "东风村股份经济合作联合社")
    unit = "12510923MB0001234X"  # a unit's social credit code: allowed as receiver, but its name is not known
    transfer = service.record_transfer(NewTransfer("JT-002", V1, unit), EDITOR)
    done = service.complete_transfer(transfer["id"], DONE, EDITOR)
    assert _owner(engine, "JT-002") == (unit, "东风村股份经济合作联合社")
    assert (done["owner_unit"], done["owner_unit_kept"]) == ("东风村股份经济合作联合社", True)
    assert "产权单位仍为“东风村股份经济合作联合社”" in (owner_unit_warning(done, "zh") or "")
    assert f"receiving unit {unit} is not known" in (owner_unit_warning(done, "en") or "")


@pytest.mark.parametrize(("new", "error", "message"), [
    (NewTransfer("JT-001", F2, V1), LedgerRuleError, "is owned by '510923100221'"),
    (NewTransfer("JT-001", F1, F3), LedgerRuleError, "former \\(dissolved\\) village.*510923100202"),
    (NewTransfer("JT-001", F1, "510923100299"), LedgerRuleError, "no merged village has it"),
    (NewTransfer("JT-001", F1, F1), LedgerRuleError, "giving owner itself"),
    (NewTransfer("NOPE", F1, V1), NotFoundError, "no asset with code 'NOPE'"),
    (NewTransfer(" ", F1, V1), InvalidInputError, "asset_code: required"),
])
def test_record_rules(service: TransferService, new: NewTransfer, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        service.record_transfer(new, EDITOR)
    assert service.transfers(TransferFilter())[1] == 0


def test_one_pending_transfer_per_asset(service: TransferService) -> None:
    first = service.record_transfer(NewTransfer("JT-001", F1, V1), EDITOR)
    with pytest.raises(ConflictError, match=f"pending transfer {first['id']}"):
        service.record_transfer(NewTransfer("JT-001", F1, V2), EDITOR)


@pytest.mark.parametrize(("handover", "message"), [
    (Handover(date(2021, 5, 20), None), "approval"),
    (Handover(None, "蓬府〔2021〕12号"), "transfer_date"),
    (Handover(date.today() + timedelta(days=2), "蓬府〔2021〕12号"), "in the future"),
])
def test_complete_needs_date_and_approval_and_writes_nothing_otherwise(
        service: TransferService, engine: Engine, handover: Handover, message: str) -> None:
    transfer = service.record_transfer(NewTransfer("JT-001", F1, V1), EDITOR)
    with pytest.raises(LedgerRuleError, match=message):
        service.complete_transfer(transfer["id"], handover, EDITOR)
    assert _owner(engine, "JT-001")[0] == F1
    assert service.transfer(transfer["id"])["status"] == "pending"


def test_owner_changed_since_recording_is_a_conflict(service: TransferService, engine: Engine) -> None:
    stale = service.record_transfer(NewTransfer("JT-002", V1, V2), EDITOR)
    with engine.begin() as conn:  # the owner changed behind the transfer's back (e.g. an edit in QGIS)
        conn.execute(update(ASSETS).where(ASSETS.c.code == "JT-002").values(owner_code=TOWN))
    with pytest.raises(ConflictError, match="now owned by '510923100'"):
        service.complete_transfer(stale["id"], DONE, EDITOR)
    assert _owner(engine, "JT-002")[0] == TOWN


def test_rights(service: TransferService) -> None:
    with pytest.raises(AuthenticationRequiredError):
        service.record_transfer(NewTransfer("JT-001", F1, V1), Principal("anonymous", None))
    with pytest.raises(PermissionDeniedError, match="viewer"):
        service.record_transfer(NewTransfer("JT-001", F1, V1), Principal("wang", Role.VIEWER))
    with pytest.raises(PermissionDeniedError, match="510923100201"):
        service.record_transfer(NewTransfer("JT-001", F1, V1), Principal("chen", Role.EDITOR, (V2,)))
    with pytest.raises(PermissionDeniedError, match="510923100"):  # a village cadre cannot hand over to the town
        service.record_transfer(NewTransfer("JT-002", V1, TOWN), Principal("zhao", Role.EDITOR, (V1,)))
    mine = service.record_transfer(NewTransfer("JT-001", F1, V1), Principal("zhao", Role.EDITOR, (V1,)))
    assert mine["recorded_by"] == "zhao"


def test_claims_record_and_transfer_to_the_merged_village(service: TransferService) -> None:
    debt = service.record_claim(NewClaim(F2, "债务", "农商银行", 12.5, "修路借款"), EDITOR)
    assert (debt["kind"], debt["status"], debt["to_code"]) == ("debt", "pending", None)
    moved = service.transfer_claim(debt["id"], None, DONE, EDITOR)
    assert (moved["status"], moved["to_code"], moved["approval"]) == ("completed", V1, DONE.approval)
    with pytest.raises(ConflictError, match="already transferred"):
        service.transfer_claim(debt["id"], None, DONE, EDITOR)
    items, total = service.claims(ClaimFilter(former_village_code=F2))
    assert total == 1 and items[0]["id"] == debt["id"]


@pytest.mark.parametrize(("claim", "error", "message"), [
    (NewClaim(F1, "gift", "某人", 1.0), InvalidInputError, "kind"),
    (NewClaim(F1, "claim", "某人", 0.0), InvalidInputError, "amount"),
    (NewClaim("510923100299", "claim", "某人", 1.0), NotFoundError, "no former village"),
])
def test_claim_rules(service: TransferService, claim: NewClaim, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        service.record_claim(claim, EDITOR)


def test_claim_goes_only_to_a_merged_village(service: TransferService) -> None:
    claim = service.record_claim(NewClaim(F1, "claim", "养殖户", 3.0), EDITOR)
    with pytest.raises(LedgerRuleError, match="not a merged village"):
        service.transfer_claim(claim["id"], F2, DONE, EDITOR)
    with pytest.raises(NotFoundError):
        service.transfer_claim(9999, None, DONE, EDITOR)
