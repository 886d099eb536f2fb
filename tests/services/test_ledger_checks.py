"""The inventory check and the reconciliation end to end from the database, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from gis_service.errors import InvalidInputError
from gis_service.ledger.reconciliation import Imbalance, Totals
from gis_service.repositories.ledger_books import ASSETS
from gis_service.services.ledger_checks import LedgerCheckService, reconciliation_json
from tests.ledger_books_town import F1, F3, V1, V2, add_transfer, load


def test_inventory_check_from_the_database(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path)
    result = LedgerCheckService(engine).inventory_check(20.0)
    check = result.check
    assert [(m.code, m.reasons) for m in check.missing_location] == [("JT-002", ("no_footprint",)),
                                                                    ("JT-005", ("no_location_text",))]
    assert [d.codes for d in check.duplicate_names] == [("JT-001", "jt-001")]
    assert abs(check.duplicate_names[0].distance_m - 10.0) < 0.01  # through EPSG:4490 storage and back
    assert [(o.code, o.containing, o.distance_m) for o in check.outside_village] == [("JT-005", V1, 800.0)]
    assert sorted(result.flagged["code"]) == ["JT-001", "JT-002", "JT-005", "jt-001"]
    assert result.flagged.crs.to_epsg() == 4490


@pytest.mark.parametrize("within_m", [10_000.0, 500.01, -1.0])
def test_within_m_outside_0_to_500_m_is_refused(engine: Engine, within_m: float) -> None:
    with pytest.raises(InvalidInputError, match="within_m: must be between 0 and 500 metres"):
        LedgerCheckService(engine).inventory_check(within_m)


def test_reconciliation_balanced_then_planted_imbalance(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path)
    add_transfer(engine, "JT-001", F1, V1, status="pending")
    service = LedgerCheckService(engine)
    report = service.reconciliation()
    assert report.balanced
    assert report.town_before == Totals(5, 4600, 1200, 165, 97, 5, 10)
    assert report.pending_transfers[0]["asset_code"] == "JT-001"
    with engine.begin() as conn:  # plant: F3's warehouse recorded as owned by V1
        conn.execute(update(ASSETS).where(ASSETS.c.code == "JT-003").values(owner_code=V1))
    planted = service.reconciliation()
    assert Imbalance(V2, "original_value", 40.0, 0.0) in planted.imbalances
    assert [(c.subject, c.former_village, c.held_by) for c in planted.causes] == [("JT-003", F3, V1)]
    body = reconciliation_json(planted)
    assert body["balanced"] is False and len(body["assets"]) == 6
    assert next(a for a in body["assets"] if a["code"] == "GY-001")["origin"] is None
