"""SQL for stored analysis runs (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, func, insert, select

from gis_service.db.analysis_records import AnalysisRun

RUNS = cast(Table, AnalysisRun.__table__)
# The columns of a run without its outputs (a list of runs does not carry every result).
SUMMARY_COLUMNS = [c for c in RUNS.columns if c.name != "outputs"]


class RunRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, values: dict[str, Any]) -> int:
        return int(self.conn.execute(insert(RUNS).values(**values)).inserted_primary_key[0])  # type: ignore[index]

    def get(self, run_id: int) -> Row[Any] | None:
        return self.conn.execute(select(RUNS).where(RUNS.c.id == run_id)).one_or_none()

    def page(self, kind: str | None, limit: int, offset: int) -> tuple[Sequence[Row[Any]], int]:
        """Runs without their outputs, newest first, and how many match."""
        conditions = [] if kind is None else [RUNS.c.kind == kind]
        total = int(self.conn.execute(select(func.count()).select_from(RUNS).where(*conditions)).scalar_one())
        statement = (select(*SUMMARY_COLUMNS).where(*conditions)
                     .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(limit).offset(offset))
        return self.conn.execute(statement).all(), total

    def with_inputs(self, kind: str, digest: str, limit: int = 20) -> Sequence[Row[Any]]:
        """Successful runs of ``kind`` whose ``input_hash`` is ``digest``, newest first (with outputs)."""
        statement = (select(RUNS).where(RUNS.c.kind == kind, RUNS.c.input_hash == digest, RUNS.c.status == "ok")
                     .order_by(RUNS.c.id.desc()).limit(limit))
        return self.conn.execute(statement).all()
