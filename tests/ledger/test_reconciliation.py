"""Reconciliation of the hand-made town: balanced as built, and each planted imbalance found with its cause."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gis_service.ledger.reconciliation import Imbalance, Totals, reconcile
from tests.ledger_books_town import CLAIM_ROWS, F1, F2, F3, TOWN, V1, V2, frames

TRANSFER_COLUMNS = ["id", "asset_code", "from_code", "to_code", "status", "transfer_date"]


def _claims() -> pd.DataFrame:
    rows = [{**row, "id": i + 1} for i, row in enumerate(CLAIM_ROWS)]
    return pd.DataFrame(rows).reindex(columns=["id", "former_village_code", "kind", "amount", "status", "to_code",
                                               "transfer_date"])


def _transfers(*rows: tuple[Any, ...]) -> pd.DataFrame:
    return pd.DataFrame([(i + 1, *row) for i, row in enumerate(rows)], columns=TRANSFER_COLUMNS)


def _run(assets_change: dict[tuple[int, str], Any] | None = None, transfers: pd.DataFrame | None = None,
         claims: pd.DataFrame | None = None) -> Any:
    town = frames()
    assets = town["assets"].copy()
    for (row, column), value in (assets_change or {}).items():
        assets.loc[row, column] = value
    return reconcile(assets, town["villages"], town["former_villages"],
                     _transfers() if transfers is None else transfers, _claims() if claims is None else claims)


def test_balanced_town_worked_by_hand() -> None:
    report = _run()
    assert report.balanced and report.causes == ()
    # Before: F1 = JT-001 + JT-005 + jt-001 + debt 10; F2 = JT-002; F3 = JT-003 + claim 5. GY-001 is the town's.
    books = {f.code: f.before for f in report.former_villages}
    assert books[F1] == Totals(3, 2100, 900, 105, 62, 0, 10)
    assert books[F2] == Totals(1, 2000, 0, 20, 10, 0, 0)
    assert books[F3] == Totals(1, 500, 300, 40, 25, 5, 0)
    v1 = next(v for v in report.villages if v.code == V1)
    assert v1.before == v1.after == Totals(4, 4100, 900, 125, 72, 0, 10)
    assert v1.owned == Totals(2, 2100, 100, 25, 12, 0, 0)  # JT-002, JT-005
    assert v1.pending == Totals(2, 2000, 800, 100, 60, 0, 10)  # JT-001, jt-001 still with F1, and F1's debt
    assert report.town_before == report.town_after == Totals(5, 4600, 1200, 165, 97, 5, 10)
    assert [s.code for s in report.still_owned] == ["JT-001", "jt-001"]
    assert report.misassigned == ()
    places = report.assets.set_index("code")
    assert places.loc["JT-005", ["in_village", "in_former_village", "origin"]].tolist() == [V1, F2, F1]
    assert pd.isna(places.loc["GY-001", "origin"])


def test_asset_moved_to_another_village_unbalances_both() -> None:
    report = _run({(2, "owner_code"): V1})  # JT-003 of F3 (merged into V2) now owned by V1
    assert not report.balanced
    scopes = {(i.scope, i.measure) for i in report.imbalances}
    assert (V1, "count") in scopes and (V2, "count") in scopes and ("town", "count") not in scopes
    assert Imbalance(V2, "land_area", 500.0, 0.0) in report.imbalances
    (cause,) = report.causes
    assert (cause.kind, cause.subject, cause.former_village, cause.expected, cause.held_by) == (
        "other_village", "JT-003", F3, V2, V1)
    assert [(m.code, m.owner_kind, m.containing) for m in report.misassigned] == [("JT-003", "village", V2)]


def test_unit_owner_needs_a_completed_transfer() -> None:
    moved = {(1, "owner_code"): TOWN}  # JT-002 of F2 now owned by the town
    unbalanced = _run(moved)
    assert Imbalance("town", "count", 5.0, 4.0) in unbalanced.imbalances
    assert [(c.kind, c.subject, c.held_by) for c in unbalanced.causes] == [("unknown_owner", "JT-002", None)]
    balanced = _run(moved, _transfers(("JT-002", F2, TOWN, "completed", None)))
    assert balanced.balanced
    v1 = next(v for v in balanced.villages if v.code == V1)
    assert v1.transferred_out == Totals(1, 2000, 0, 20, 10, 0, 0)


def test_claim_taken_over_by_the_wrong_village() -> None:
    claims = _claims()
    claims.loc[0, ["status", "to_code"]] = ["completed", V2]  # F1's debt went to V2 instead of V1
    report = _run(claims=claims)
    assert Imbalance(V1, "debts", 10.0, 0.0) in report.imbalances
    assert Imbalance(V2, "debts", 0.0, 10.0) in report.imbalances
    assert [(c.kind, c.subject, c.held_by) for c in report.causes] == [("claim_other_village", "claim:1", V2)]


def test_pending_transfer_is_listed_with_the_asset_still_owned() -> None:
    report = _run(transfers=_transfers(("JT-001", F1, V1, "pending", None)))
    assert report.balanced
    assert report.pending_transfers == ({"id": 1, "asset_code": "JT-001", "from_code": F1, "to_code": V1},)
    assert next(s for s in report.still_owned if s.code == "JT-001").pending_transfer == 1
