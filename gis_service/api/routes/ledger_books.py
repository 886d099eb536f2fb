"""The ledger's books: transfers after the merger, claims and debts, the inventory check, reconciliation,
progress and milestones."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
