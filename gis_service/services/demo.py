"""The demo town: create the database and load the bundled Penglai-like layers and asset ledger."""

from __future__ import annotations

import csv
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, Engine, Float, Integer, Table, select

from gis_service.db import ledger  # noqa: F401  (registers the ledger tables on Base.metadata)
from gis_service.db.base import Base
from gis_service.db.engine import write_transaction
from gis_service.db.migrate import upgrade
from gis_service.errors import InvalidInputError
from gis_service.layers.registry import list_layers
from gis_service.repositories.ledger_tables import replace_rows
from gis_service.services.layers import ImportReport, LayerService
from gis_service.services.ledger_documents import DocumentStore, Placement, StagedUpload, insert_documents

# The ledger tables the demo carries as CSV, in load order (documents are stored files, loaded apart).
LEDGER_TABLES: tuple[Table, ...] = tuple(
    Base.metadata.tables[name] for name in ("asset_transfers", "village_claims", "revitalisation_plans",
                                            "ledger_milestones")
)


def demo_files(demo_dir: Path) -> list[tuple[Path, str]]:
    """The bundled file of every layer, ``<layer>.geojson`` in ``demo_dir``."""
    items = [(demo_dir / f"{spec.name}.geojson", spec.name) for spec in list_layers()]
    missing = [str(path) for path, _ in items if not path.exists()]
    if missing:
        raise InvalidInputError(f"demo data missing: {', '.join(missing)}")
    return items


def load_demo(engine: Engine, demo_dir: Path, *, show_progress: bool = False,
              store: DocumentStore | None = None) -> list[ImportReport]:
    """Migrate the schema, replace every layer with the demo town (all layers or none), then replace the
    ledger tables with the demo ledger (all tables or none), when ``demo_dir`` has one.

    With ``store``, the struck-off plans' evidence files go into it and into ``documents``; without, the
    documents table is left empty (the plans still load).
    """
    upgrade(engine)
    service = LayerService(engine, show_progress=show_progress)
    reports = service.import_files(demo_files(demo_dir), mode="replace")
    if (demo_dir / "ledger").is_dir():
        load_demo_ledger(engine, demo_dir / "ledger", store)
    return reports


def load_demo_ledger(engine: Engine, ledger_dir: Path, store: DocumentStore | None = None) -> dict[str, int]:
    """Replace the ledger tables with the CSV files in ``ledger_dir`` (and, with ``store``, the evidence
    files) in one transaction; returns row counts."""
    rows = {table.name: _read_csv(ledger_dir / f"{table.name}.csv", table) for table in LEDGER_TABLES}
    documents = _read_documents(ledger_dir)
    staged = [store.stage([(ledger_dir / d["file"]).read_bytes()], Path(d["file"]).name, None)
              for d in documents] if store is not None else []
    placing = store.placing() if store is not None else nullcontext(None)
    try:
        # The placement holds the transaction (commit included): if anything fails, the files placed go too.
        with placing as placement, write_transaction(engine) as conn:
            counts = {table.name: replace_rows(conn, table, rows[table.name]) for table in LEDGER_TABLES}
            counts["documents"] = replace_rows(conn, Base.metadata.tables["documents"], [])
            if placement is not None:
                counts["documents"] = _store_evidence(conn, placement, documents, staged)
        return counts
    finally:
        for upload in staged:
            upload.discard()  # placed files have moved away; this drops only what is still staged


def _read_documents(ledger_dir: Path) -> list[dict[str, str]]:
    path = ledger_dir / "documents.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _store_evidence(conn: Connection, placement: Placement, documents: list[dict[str, str]],
                    staged: list[StagedUpload]) -> int:
    plans = Base.metadata.tables["revitalisation_plans"]
    plan_ids = {str(code): int(plan_id) for code, plan_id in conn.execute(select(plans.c.asset_code, plans.c.id))}
    for document, upload in zip(documents, staged, strict=True):
        insert_documents(conn, placement, [upload], purpose=document["purpose"], asset_code=document["asset_code"],
                         plan_id=plan_ids.get(document["asset_code"]), actor="demo")
    return len(documents)
def _parser(column_type: Any) -> Callable[[str], Any]:
    if isinstance(column_type, Date):
        return date.fromisoformat
    if isinstance(column_type, Integer):
        return int
    if isinstance(column_type, Float):
        return float
    return str


def _read_csv(path: Path, table: Table) -> list[dict[str, Any]]:
    """Rows of a demo CSV typed by ``table``'s columns; an empty cell is NULL."""
    if not path.exists():
        raise InvalidInputError(f"demo data missing: {path}")
    parsers = {c.name: _parser(c.type) for c in table.columns}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        unknown = set(reader.fieldnames or ()) - set(parsers)
        if unknown:
            raise InvalidInputError(f"{path}: columns not in table {table.name}: {', '.join(sorted(unknown))}")
        return [{k: None if v == "" else parsers[k](v) for k, v in row.items()} for row in reader]
