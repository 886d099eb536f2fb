"""Analysis runs: every run stored with inputs, parameters, solver, timings and outputs; listed and re-run."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
