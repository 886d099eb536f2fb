"""`gis-service ledger` books commands as a user runs them: a real process on each backend, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from tests.conftest import ROOT
from tests.ledger_books_town import F1, V1, load

CLI = [sys.executable, "-m", "gis_service", "ledger"]


def run(engine: Engine, *args: str, language: str = "zh") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "GIS_LANGUAGE": language}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_transfer_claim_and_reports(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path)
    added = run(engine, "transfers", "add", "JT-001", "--from", F1, "--to", V1, "--actor", "clerk", "--json")
    assert added.returncode == 0, added.stderr
    transfer = json.loads(added.stdout)
    assert (transfer["status"], transfer["recorded_by"]) == ("pending", "clerk")
    refused = run(engine, "transfers", "complete", str(transfer["id"]), "--date", "2021-05-20")
    assert refused.returncode == 2 and "approval" in refused.stderr
    done = run(engine, "transfers", "complete", str(transfer["id"]), "--date", "2021-05-20", "--approval", "蓬府1号")
    assert done.returncode == 0, done.stderr
    assert "已移交" in done.stdout
    assert "已移交" in run(engine, "transfers", "list").stdout
    to_unit = json.loads(run(engine, "transfers", "add", "JT-002", "--from", V1, "--to", "12510923MB0001234X",
                             "--json").stdout)
    unknown = run(engine, "transfers", "complete", str(to_unit["id"]), "--date", "2021-05-20", "--approval", "蓬府2号")
    assert unknown.returncode == 0 and "名称未登记" in unknown.stdout, unknown.stdout
    claim = run(engine, "claims", "add", F1, "--kind", "债务", "--counterparty", "信用社", "--amount", "3")
    assert claim.returncode == 0 and "债务" in claim.stdout
    check = run(engine, "check", language="en")
    assert check.returncode == 0 and "Outside the stated village" in check.stdout and "JT-005" in check.stdout
    too_far = run(engine, "check", "--within-m", "10000")
    assert too_far.returncode == 2 and "500" in too_far.stderr, too_far.stderr
    reconcile = json.loads(run(engine, "reconcile", "--json").stdout)
    assert reconcile["balanced"] is True
    progress = run(engine, "progress", "--as-of", "2021-10-15")
    assert progress.returncode == 0 and "按使用状态" in progress.stdout and "节点:资产清查" in progress.stdout
    assert run(engine, "progress", "--as-of", "15/10/2021").returncode == 2


def test_milestones(engine: Engine) -> None:
    assert "2021-05-31" in run(engine, "milestones", "list").stdout
    assert run(engine, "milestones", "set", "transfer", "2021-06-15").returncode == 0
    listed = json.loads(run(engine, "milestones", "list", "--json").stdout)
    assert {m["key"]: (m["due"], m["source"]) for m in listed}["transfer"] == ("2021-06-15", "set")
    unknown = run(engine, "milestones", "set", "harvest", "2021-06-15")
    assert unknown.returncode == 2 and "no milestone 'harvest'" in unknown.stderr
