"""Revitalisation siting: what each idle asset is best suited to become, with the factors that made it."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
