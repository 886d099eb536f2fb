"""`gis-service ledger plans|documents` as a user runs them: a real process on each backend, real files, exit codes."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from tests.conftest import ROOT
from tests.ledger_plans_data import EXE, IDLE_A, IN_USE, add_assets, image, pdf

CLI = [sys.executable, "-m", "gis_service", "ledger"]


def run(engine: Engine, uploads: Path, *args: str, language: str = "zh") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "GIS_UPLOADS_DIR": str(uploads), "GIS_UPLOAD_MAX_MB": "0.5", "GIS_LANGUAGE": language}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_plan_from_add_to_strike_off(engine: Engine, tmp_path: Path) -> None:
    add_assets(engine)
    uploads = tmp_path / "uploads"
    photo = tmp_path / "竣工照片.jpg"
    photo.write_bytes(image())
    fake = tmp_path / "setup.jpg"
    fake.write_bytes(EXE)

    refused = run(engine, uploads, "plans", "add", IN_USE, "--mode", "便民服务提升", "--use", "便民服务代办站",
                  "--lead-unit", "党政办", "--person", "李明", "--deadline", "2021-12-31")
    assert refused.returncode == 2 and "不需要盘活方案" in refused.stderr
    added = run(engine, uploads, "plans", "add", IDLE_A, "--mode", "便民服务提升", "--use", "便民服务代办站",
                "--lead-unit", "党政办", "--person", "李明", "--deadline", "2021-12-31", "--planned-on", "2021-06-01",
                "--json")
    assert added.returncode == 0, added.stderr
    plan = json.loads(added.stdout)
    assert (plan["mode"], plan["status_label"], plan["version"]) == ("convenience_service", "待实施", 1)
    plan_id = str(plan["id"])

    stale = run(engine, uploads, "plans", "update", plan_id, "--status", "实施中", "--version", "7")
    assert stale.returncode == 2 and "has changed since you read it" in stale.stderr
    started = run(engine, uploads, "plans", "update", plan_id, "--status", "实施中", "--version", "1")
    assert started.returncode == 0 and "实施中" in started.stdout

    no_evidence = run(engine, uploads, "plans", "strike-off", plan_id, "--note", "完成")
    assert no_evidence.returncode == 2 and "without evidence" in no_evidence.stderr
    wrong_type = run(engine, uploads, "plans", "strike-off", plan_id, "--evidence", str(fake))
    assert wrong_type.returncode == 2 and "is not a JPEG, PNG, WebP or PDF file" in wrong_type.stderr
    assert not any(uploads.rglob("*.part"))
    done = run(engine, uploads, "plans", "strike-off", plan_id, "--evidence", str(photo), "--note", "已建成代办站",
               "--date", "2021-11-30", language="en")
    assert done.returncode == 0, done.stderr
    assert "struck off" in done.stdout

    listed = json.loads(run(engine, uploads, "plans", "list", "--json").stdout)
    assert [(p["id"], p["status"], p["struck_off_on"]) for p in listed] == [(plan["id"], "struck_off", "2021-11-30")]
    overdue = run(engine, uploads, "plans", "list", "--overdue", "--as-of", "2022-01-01", "--json")
    assert json.loads(overdue.stdout) == []
    history = json.loads(run(engine, uploads, "plans", "history", plan_id, "--json").stdout)
    assert [(v["action"], v["actor"]) for v in history] == [
        ("create", getpass.getuser()), ("status", getpass.getuser()), ("strike_off", getpass.getuser())]
    table = run(engine, uploads, "plans", "history", plan_id)
    assert "实施中 → 已销号" in table.stdout and "创建" in table.stdout and "状态变更" in table.stdout
    assert "struck_off" not in table.stdout and "strike_off" not in table.stdout
    english = run(engine, uploads, "plans", "history", plan_id, language="en")
    assert "in progress → struck off" in english.stdout and "strike off" in english.stdout


def test_documents_add_and_list(engine: Engine, tmp_path: Path) -> None:
    add_assets(engine)
    uploads = tmp_path / "uploads"
    scan = tmp_path / "批复.pdf"
    scan.write_bytes(pdf())
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * 600 * 1024 + b"\n%%EOF\n")
    added = run(engine, uploads, "documents", "add", IDLE_A, str(scan), "--purpose", "批复文件", "--json")
    assert added.returncode == 0, added.stderr
    document = json.loads(added.stdout)
    assert (document["original_name"], document["purpose"], document["media_type"]) == (
        "批复.pdf", "approval", "application/pdf")
    assert (uploads / document["sha256"][:2] / document["sha256"]).read_bytes() == scan.read_bytes()
    too_big = run(engine, uploads, "documents", "add", IDLE_A, str(big), "--purpose", "other")
    assert too_big.returncode == 2 and "larger than 0.5 MB" in too_big.stderr
    missing = run(engine, uploads, "documents", "list", "JT-NOPE")
    assert missing.returncode == 2 and "JT-NOPE" in missing.stderr
    listed = run(engine, uploads, "documents", "list", IDLE_A, language="en")
    assert listed.returncode == 0 and "批复.pdf" in listed.stdout and "approval" in listed.stdout
    assert len([p for p in uploads.rglob("*") if p.is_file() and p.name != ".lock"]) == 1
