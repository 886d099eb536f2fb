"""Registration pathways (确权登记) and the Excel/GeoPackage ledger: template, import, export."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
