"""An import killed half-way (SIGKILL: no cleanup runs) leaves the database exactly as it was.

Both imports write in one transaction; the test proves it by killing ``gis-service layers import`` and
``gis-service ledger import`` after they have started writing, then comparing every table, row by row, with
before. Afterwards the same import runs to the end (no lock or half-written state is left behind).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text

from gis_service.repositories.snapshot import read_rows, snapshot_tables
from gis_service.services.layers import LayerService
from gis_service.services.ledger_excel import CLI_PRINCIPAL, LedgerExcelService
from tests.conftest import ROOT
from tests.ops.big_files import ledger_workbook, settlements_file
from tests.ops.processes import CLI

BIG_LAYER_ROWS = 200_000
BIG_LEDGER_ROWS = 12_000
WRITING_TIMEOUT_S = 120.0
# The ledger import writes row by row (each with its history): kill it this long after its write began.
LEDGER_WRITE_S = 1.5


def fingerprint(engine: Engine) -> dict[str, str]:
    """A SHA-256 of every table's rows (geometries as WKB), by table."""
    digests = {}
    with engine.connect() as conn:
        for table in snapshot_tables():
            digest = hashlib.sha256()
            for row in read_rows(conn, table):
                digest.update(repr(tuple(row)).encode())
            digests[table.name] = digest.hexdigest()
    return digests


class StderrWatch(threading.Thread):
    """Collects a process's stderr as it comes (tqdm writes ``\\r`` updates, not lines)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.text = ""

    def run(self) -> None:
        assert self.process.stderr is not None
        while chunk := os.read(self.process.stderr.fileno(), 4096):
            self.text += chunk.decode(errors="replace")


def run_and_kill(engine: Engine, args: list[str], writing: Callable[[StderrWatch], bool]) -> None:
    """Run ``gis-service *args`` on ``engine``'s database; SIGKILL it as soon as ``writing`` says it writes."""
    env = {**os.environ, "GIS_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    process = subprocess.Popen([*CLI, *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    watch = StderrWatch(process)
    watch.start()
    try:
        deadline = time.monotonic() + WRITING_TIMEOUT_S
        while not writing(watch):
            assert process.poll() is None, f"the import ended before it was killed:\n{watch.text[-2000:]}"
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        watch.join(timeout=10)
    assert process.returncode == -signal.SIGKILL, "the import finished before the kill: make its file larger"


def holds_write_lock(engine: Engine) -> bool:
    """Whether another process has an open write transaction: SQLite's write lock is taken, or (PostgreSQL)
    another session has inserted into feature_history or assets and not committed."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        probe = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname IN ('feature_history', 'assets') AND l.mode = 'RowExclusiveLock' "
            "AND l.pid <> pg_backend_pid() AND l.database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())")).scalar_one())


_INSERTED = re.compile(r"import settlements:\s*\d+%\|[^|]*\|\s*([1-9]\d*)/")


def test_killed_layer_import_leaves_the_database_unchanged(engine: Engine, tmp_path: Path) -> None:
    layers = LayerService(engine)
    layers.import_file(settlements_file(tmp_path / "before.gpkg", 3, prefix="OLD"), "settlements")
    before = fingerprint(engine)
    big = settlements_file(tmp_path / "big.gpkg", BIG_LAYER_ROWS)
    # --mode replace deletes the three stored settlements first: the kill comes after rows were inserted too.
    run_and_kill(engine, ["layers", "import", str(big), "--layer", "settlements", "--mode", "replace"],
                 lambda watch: _INSERTED.search(watch.text) is not None)
    assert fingerprint(engine) == before
    assert layers.summary("settlements").stats.count == 3
    report = layers.import_file(settlements_file(tmp_path / "small.gpkg", 50), "settlements")
    assert report.imported == 50 and layers.summary("settlements").stats.count == 53


def test_killed_ledger_import_leaves_the_database_unchanged(engine: Engine, tmp_path: Path) -> None:
    ledger = LedgerExcelService(engine, "zh")
    ledger.import_file(ledger_workbook(ledger, tmp_path / "before.xlsx", 2, prefix="OLD-"), CLI_PRINCIPAL)
    before = fingerprint(engine)
    big = ledger_workbook(ledger, tmp_path / "big.xlsx", BIG_LEDGER_ROWS)
    since: list[float] = []

    def writing_for_a_while(_watch: StderrWatch) -> bool:
        if not since and holds_write_lock(engine):
            since.append(time.monotonic())
        return bool(since) and time.monotonic() - since[0] > LEDGER_WRITE_S

    run_and_kill(engine, ["ledger", "import", str(big)], writing_for_a_while)
    assert fingerprint(engine) == before
    report = ledger.import_file(ledger_workbook(ledger, tmp_path / "small.xlsx", 20), CLI_PRINCIPAL)
    assert report.created == 20

