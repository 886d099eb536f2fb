"""Revitalisation plans (盘活方案) and stored documents: list, create, edit, strike off with evidence."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
