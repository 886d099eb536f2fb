"""`gis-service analyze siting` as a user runs it: a real process on each backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from tests import siting_town as town
from tests.conftest import ROOT


def run(engine: Engine, *args: str, language: str = "zh") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "GIS_LANGUAGE": language}
    return subprocess.run([sys.executable, "-m", "gis_service", "analyze", "siting", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def test_siting_table_json_and_assignment(engine: Engine, tmp_path: Path) -> None:
    town.load(engine, tmp_path)
    table = run(engine)
    assert table.returncode == 0, table.stderr
    assert "闲置资产盘活选址建议" in table.stdout and "原A村办公用房" in table.stdout
    english = run(engine, "--assign", language="en")
    assert "Town plan" in english.stdout and "recommended use" in english.stdout
    body = json.loads(run(engine, "--asset", "B", "--json", "--use", "elderly_day_care", "--use", "warehouse",
                          "--weight", "coverage_gain=5").stdout)
    assert [a["code"] for a in body["assets"]] == ["B"] and body["weights"]["coverage_gain"] == 5
    assert body["assets"][0]["top"]["use"] == "elderly_day_care"
    ranking = run(engine, "--asset", "B", language="en")
    assert "elderly day care" in ranking.stdout


def test_bad_input_exits_non_zero(engine: Engine, tmp_path: Path) -> None:
    town.load(engine, tmp_path)
    bad = run(engine, "--weight", "charm=2")
    assert bad.returncode == 2 and "weights" in bad.stderr
    assert run(engine, "--asset", "NOPE").returncode == 2
