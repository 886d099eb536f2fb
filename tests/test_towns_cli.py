"""``gis-service towns`` and ``--town`` as an office or county staff would type them, on PostGIS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gis_service.db.engine import admin_transaction
from tests.conftest import DEMO_DIR, make_engine

CLI = [sys.executable, "-m", "gis_service"]
ROOT = Path(__file__).resolve().parent.parent


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIS_DATABASE_URL": url, "GIS_LANGUAGE": "en"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_a_county_adds_a_town_and_works_on_it(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    engine = make_engine("postgis", request, tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    added = run(url, "towns", "add", "510923101", "--name", "回马镇")
    assert added.returncode == 0, added.stderr
    assert "partitions of 21 tables" in added.stdout
    assert run(url, "towns", "add", "510923101", "--name", "回马镇").returncode == 1  # already there
    listing = run(url, "towns", "list").stdout
    assert "510923100" in listing and "回马镇" in listing
    # Import into the new town only, then read each town's count.
    imported = run(url, "--town", "510923101", "layers", "import", str(DEMO_DIR / "villages.geojson"),
                   "--layer", "villages")
    assert imported.returncode == 0, imported.stderr
    with admin_transaction(engine) as conn:
        counts = dict(conn.exec_driver_sql("SELECT town_code, count(*) FROM villages GROUP BY 1").all())
    assert counts == {"510923101": counts["510923101"]} and counts["510923101"] > 0
    # A key for that town; a village editor there; a town nobody serves is refused.
    key = run(url, "--town", "510923101", "users", "add", "huima_clerk", "--role", "editor")
    assert key.returncode == 0, key.stderr
    users = run(url, "users", "list").stdout
    assert "huima_clerk" in users and "510923101" in users
    refused = run(url, "users", "add", "nobody", "--role", "viewer", "--town", "510923199")
    assert refused.returncode == 1 and "510923199" in refused.stderr
    bad = run(url, "--town", "5109", "towns", "list")
    assert bad.returncode != 0
    unserved = run(url, "--town", "510923199", "layers", "list")  # never an empty answer for a town not here
    assert unserved.returncode == 1 and "serves no town 510923199" in unserved.stderr
    # Removing a town needs --yes; the own town cannot go.
    assert run(url, "towns", "drop", "510923101").returncode == 1
    assert run(url, "towns", "drop", "510923100", "--yes").returncode == 1
    dropped = run(url, "towns", "drop", "510923101", "--yes")
    assert dropped.returncode == 0, dropped.stderr
    with admin_transaction(engine) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM villages").scalar() == 0
    engine.dispose()


def test_a_spatialite_file_refuses_another_town(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'penglai.sqlite'}"
    assert run(url, "layers", "list").returncode == 0
    other = run(url, "--town", "510923101", "backup", "--out", str(tmp_path / "x.backup"))
    assert other.returncode == 1 and "serves no town 510923101" in other.stderr
    assert not (tmp_path / "x.backup").exists()
