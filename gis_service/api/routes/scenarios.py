"""Planning scenarios: facilities added, moved or removed without touching the base layers; before/after."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
