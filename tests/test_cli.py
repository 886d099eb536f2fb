"""The gis-service command as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point

from tests.conftest import ROOT

CLI = [sys.executable, "-m", "gis_service"]


def run(args: list[str], db: Path, *extra_env: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIS_DATABASE_URL": f"sqlite:///{db}", **dict(extra_env)}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def _settlements(path: Path, population: list[object]) -> Path:
    frame = gpd.GeoDataFrame(
        {"code": [f"S{i}" for i in range(len(population))], "name": ["王家湾"] * len(population),
         "village_code": ["510923100201"] * len(population), "population": population},
        geometry=[Point(105.25 + i / 1000, 30.59) for i in range(len(population))], crs=4490)
    pyogrio.write_dataframe(frame, path)
    return path


def _demo_feature_count() -> int:
    """Features in the bundled demo town's layers (the files hold one feature per line)."""
    files = (ROOT / "layers" / "demo").glob("*.geojson")
    return sum(path.read_text(encoding="utf-8").count('{"type":"Feature",') for path in files)


def test_import_list_export(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    good = _settlements(tmp_path / "good.gpkg", [10, 20])
    result = run(["layers", "import", str(good), "--layer", "settlements"], db)
    assert result.returncode == 0, result.stderr
    assert "导入 2 个要素到图层 settlements" in result.stdout
    listing = run(["layers", "list"], db)
    assert listing.returncode == 0
    line = next(row for row in listing.stdout.splitlines() if "settlements" in row)
    assert "POINT" in line and " 2 " in line
    out = tmp_path / "out" / "settlements.shp"
    exported = run(["layers", "export", "settlements", "--format", "shp", "--out", str(out), "--crs", "EPSG:4544"], db)
    assert exported.returncode == 0, exported.stderr
    assert out.with_suffix(".cpg").read_text().upper() == "GBK"
    assert pyogrio.read_info(out)["crs"] == "EPSG:4544"


def test_rejected_import_exits_2_and_names_row_and_field(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    bad = _settlements(tmp_path / "bad.gpkg", [10, "很多"])
    result = run(["layers", "import", str(bad), "--layer", "settlements"], db)
    assert result.returncode == 2
    assert "bad.gpkg, row 2, field '人口': '很多' is not a whole number" in result.stderr
    assert "nothing was imported" in result.stderr
    listing = run(["layers", "list"], db)
    line = next(row for row in listing.stdout.splitlines() if "settlements" in row)
    assert " 0 " in line


def test_other_errors_exit_1(tmp_path: Path) -> None:
    result = run(["layers", "export", "nosuch", "--format", "gpkg", "--out", str(tmp_path / "x.gpkg")],
                 tmp_path / "cli.sqlite")
    assert result.returncode == 1
    assert "unknown layer 'nosuch'" in result.stderr


def test_english_headers_by_setting(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite"
    run(["layers", "import", str(_settlements(tmp_path / "s.gpkg", [5])), "--layer", "settlements"], db)
    out = tmp_path / "s.csv"
    result = run(["layers", "export", "settlements", "--format", "csv", "--out", str(out)], db, ("GIS_LANGUAGE", "en"))
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8-sig").splitlines()[0].startswith("settlement code,name,village code")


def test_serve_starts_the_api(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GIS_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}"}
    process = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                landing = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert landing.status_code == 200
        assert {link["rel"] for link in landing.json()["links"]} >= {"service-desc", "data", "conformance"}
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_users_add_list_revoke(tmp_path: Path) -> None:
    """A key is printed once and works; the stored form is only a hash; a revoked key stops working."""
    from gis_service.db.engine import create_db_engine
    from gis_service.errors import AuthenticationRequiredError
    from gis_service.services.users import UserService
    from gis_service.settings import Settings

    db = tmp_path / "cli.sqlite"
    assert run(["demo", "--no-serve"], db).returncode == 0
    added = run(["users", "add", "chen_cadre", "--role", "editor", "--village", "510923100201"], db)
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert key.startswith("gs_") and len(key) > 40
    assert run(["users", "add", "chen_cadre", "--role", "viewer"], db).returncode == 1
    unknown_village = run(["users", "add", "x", "--role", "editor", "--village", "510923100999"], db)
    assert unknown_village.returncode == 1 and "510923100999" in unknown_village.stderr
    listing = run(["users", "list"], db)
    assert "chen_cadre" in listing.stdout and "510923100201" in listing.stdout and key[:10] in listing.stdout
    assert key not in listing.stdout and key not in db.read_bytes().decode("latin-1")
    engine = create_db_engine(Settings(database_url=f"sqlite:///{db}"))
    principal = UserService(engine).authenticate(key)
    assert (principal.name, principal.role, principal.villages) == ("chen_cadre", "editor", ("510923100201",))
    assert run(["users", "revoke", "chen_cadre"], db).returncode == 0
    with pytest.raises(AuthenticationRequiredError, match="revoked"):
        UserService(engine).authenticate(key)
    engine.dispose()


def test_backup_and_restore_commands(tmp_path: Path) -> None:
    db, copy = tmp_path / "town.sqlite", tmp_path / "copy.sqlite"
    assert run(["demo", "--no-serve"], db).returncode == 0
    made = run(["backup", "--out", str(tmp_path / "town.backup")], db)
    assert made.returncode == 0, made.stderr
    assert "assets 283" in " ".join(made.stdout.split())  # the line may wrap anywhere
    assert run(["backup", "--out", str(tmp_path / "town.backup")], db).returncode == 1  # never overwrites
    restored = run(["restore", str(tmp_path / "town.backup")], copy)
    assert restored.returncode == 0, restored.stderr
    listing = run(["layers", "list"], copy)
    assert f"合计 {_demo_feature_count():,}" in listing.stdout
    assert run(["restore", str(tmp_path / "town.backup")], copy).returncode == 1  # not empty any more


def test_analyze_commands(tmp_path: Path) -> None:
    db = tmp_path / "town.sqlite"
    assert run(["demo", "--no-serve"], db).returncode == 0
    diagnosis = run(["analyze", "one-plus-n"], db)
    assert diagnosis.returncode == 0, diagnosis.stderr
    assert sum(line.count("5109231") for line in diagnosis.stdout.splitlines()) == 16
    report = run(["analyze", "coverage", "--standard", "agency_station", "--metres", "2000"], db)
    assert report.returncode == 0, report.stderr
    assert "2000 米内覆盖,路网" in report.stdout and "全镇" in report.stdout
    assert run(["analyze", "coverage", "--standard", "bogus"], db).returncode == 1


def test_analyze_placement_command(tmp_path: Path) -> None:
    db = tmp_path / "town.sqlite"
    assert run(["demo", "--no-serve"], db).returncode == 0
    result = run(["analyze", "placement", "--new-sites", "2"], db)
    assert result.returncode == 0, result.stderr
    assert "新增 2 处便民服务代办站(agency_station,路网,最大覆盖):覆盖率" in result.stdout
    english = run(["analyze", "placement", "--new-sites", "2"], db, ("GIS_LANGUAGE", "en"))
    assert "2 new site(s) for agency_station, network, mclp:" in english.stdout


def test_chinese_by_default_english_by_setting(tmp_path: Path) -> None:
    """The trial's findings: `users add` and `analyze one-plus-n` spoke English to Chinese readers."""
    db = tmp_path / "town.sqlite"
    assert run(["demo", "--no-serve"], db).returncode == 0
    added = run(["users", "add", "张三", "--role", "editor"], db)
    assert added.returncode == 0, added.stderr
    assert "已建立编辑员「张三」。密钥只显示这一次" in added.stderr and "created" not in added.stderr
    assert added.stdout.strip().startswith("gs_")  # the key alone on stdout, for scripts
    english = run(["users", "add", "lisi", "--role", "editor", "--village", "510923100201"], db, ("GIS_LANGUAGE", "en"))
    assert "created editor 'lisi' in villages 510923100201. The key is shown once" in english.stderr
    refused = run(["users", "add", "张三", "--role", "viewer"], db)
    assert refused.returncode == 1 and refused.stderr.startswith("错误: ")

    diagnosis = run(["analyze", "one-plus-n"], db).stdout
    assert '"1+N"诊断' in diagnosis and "达标" in diagnosis and "需增设2个代办站" in diagnosis
    assert not {"yes", "adequate", "needs", "diagnosis"} & set(diagnosis.replace("│", " ").split())
    english = run(["analyze", "one-plus-n"], db, ("GIS_LANGUAGE", "en")).stdout
    assert '"1+N" diagnosis' in english and "adequate" in english and "needs 2 stations" in english
    assert "达标" not in english
    listing = run(["analyze", "runs", "list"], db).stdout
    assert "分析记录(显示 2 条,共 2 条)" in listing and '"1+N"诊断' in listing
