"""`gis-service analyze conformance` and `gis-service planning import/export` as a user runs them: real processes
on each backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyogrio
from sqlalchemy import Engine

from tests import conformance_town
from tests.conftest import ROOT
from tests.services.test_planning_io import conventional_layers


def run(engine: Engine, *args: str, language: str = "zh", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "GIS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
                   "GIS_LANGUAGE": language, **env}
    return subprocess.run([sys.executable, "-m", "gis_service", *args], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=300)


def test_conformance_table_json_and_override(engine: Engine, tmp_path: Path) -> None:
    conformance_town.load(engine, tmp_path)
    table = run(engine, "analyze", "conformance")
    assert table.returncode == 0, table.stderr
    assert "规划符合性" in table.stdout and "T-AB" in table.stdout and "不符合规划" in table.stdout
    body = json.loads(run(engine, "analyze", "conformance", "--use", "homestay", "--code", "T-C", "--json",
                          language="en").stdout)
    assert [(row["code"], row["verdict"]) for row in body["features"]] == [("T-C", "conditional")]
    override = tmp_path / "uses.csv"
    override.write_text("key,use,level\n0703,homestay,yes\n", encoding="utf-8")
    changed = json.loads(run(engine, "analyze", "conformance", "--use", "homestay", "--code", "T-C", "--json",
                             GIS_PERMITTED_USES_FILE=str(override)).stdout)
    assert changed["features"][0]["verdict"] == "conforming"
    bad = run(engine, "analyze", "conformance", "--use", "sauna")
    assert bad.returncode == 2 and "unknown use" in bad.stderr


def test_planning_import_and_export(engine: Engine, tmp_path: Path) -> None:
    gpkg = tmp_path / "plan.gpkg"
    for name, frame in conventional_layers().items():
        pyogrio.write_dataframe(frame, gpkg, layer=name, append=gpkg.exists())
    done = run(engine, "planning", "import", str(gpkg), "--plan-name", "测试规划", language="en")
    assert done.returncode == 0, done.stderr
    assert "imported 7 planning zones" in done.stdout
    again = run(engine, "planning", "import", str(gpkg))
    assert again.returncode == 2 and "plan.gpkg:DLTB" in again.stderr  # codes already stored
    out = tmp_path / "package"
    exported = run(engine, "planning", "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert (out / "onemap_4544.gpkg").exists() and (out / "shp" / "CZKFBJ.shp").exists()
    replaced = run(engine, "planning", "import", str(out / "onemap_4544.gpkg"), "--replace", language="en")
    assert replaced.returncode == 0 and "replaced 7" in replaced.stdout
