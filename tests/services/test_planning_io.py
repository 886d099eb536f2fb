"""Planning one-map import and export on both backends: conventional layers, GBK, CRS, all or nothing."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import MultiPolygon
from sqlalchemy import Engine

from gis_service.errors import ImportRejectedError, PayloadTooLargeError
from gis_service.services.layers import LayerService
from gis_service.services.planning_io import PlanningIOService
from tests.conformance_town import shifted


def conventional_layers(crs: int = 4544) -> dict[str, gpd.GeoDataFrame]:
    """The four conventional layers with conventional fields (Chinese text), in ``crs``."""
    def frame(columns: dict[str, list[object]], boxes: list[tuple[float, float, float, float]]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(columns, geometry=[MultiPolygon([shifted(*b)]) for b in boxes], crs=4544).to_crs(crs)

    return {
        "YJJBNTBHTB": frame({"BSM": ["N1"], "DLBM": ["0101"], "DLMC": ["水田"]}, [(100, 0, 200, 100)]),
        "STBHHX": frame({"BSM": ["H1"], "HXMC": ["龙泉山生态保护红线"]}, [(0, 300, 100, 400)]),
        "CZKFBJ": frame({"BSM": ["K1"]}, [(220, -50, 400, 150)]),
        "DLTB": frame({"BSM": ["T1", "T2", "T3", "T4"], "DLBM": ["0704", "0301", "1704", "0101"],
                       "DLMC": ["农村社区服务设施用地", "乔木林地", "坑塘水面", "水田"]},
                      [(0, 0, 100, 100), (0, 100, 100, 200), (-100, 0, 0, 100), (-100, 100, 0, 200)]),
    }


def shapefile_zip(path: Path) -> Path:
    """The conventional layers as Shapefiles in a .zip at ``path``."""
    folder = path.parent / f"{path.stem}-shp"
    folder.mkdir()
    for name, frame in conventional_layers().items():
        pyogrio.write_dataframe(frame, folder / f"{name}.shp")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for file in sorted(folder.iterdir()):
            zipped.write(file, file.name)
    return path


def zones(engine: Engine) -> pd.DataFrame:
    frame = LayerService(engine).read("planning_zones").to_crs(4544)
    frame["area"] = frame.area.round(1)
    return pd.DataFrame(frame.drop(columns="geometry")).sort_values("code").reset_index(drop=True)


def test_gbk_shapefiles_in_4523_without_cpg(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "received"
    folder.mkdir()
    for name, frame in conventional_layers(4523).items():
        pyogrio.write_dataframe(frame, folder / f"{name}_510923.shp", encoding="GBK")
        (folder / f"{name}_510923.cpg").unlink()  # as national data often come: GBK, no .cpg
    archive = tmp_path / "plan.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in folder.iterdir():
            zipped.write(file, f"三区三线/{file.name}")
    report = PlanningIOService(engine).import_path(archive, plan_name="蓬莱镇国土空间规划(2021-2035年)")
    assert report.imported == 7 and report.ignored_layers == []
    stored = zones(engine).set_index("code")
    assert stored.loc["H1", "name"] == "龙泉山生态保护红线"
    assert stored["zone_type"].to_dict() == {
        "H1": "ecological_redline", "K1": "development_boundary", "N1": "permanent_farmland",
        "T1": "village_construction", "T2": "forest", "T3": "water", "T4": "general_farmland"}
    assert stored.loc["T2", "land_use_name"] == "乔木林地"
    assert stored.loc["T1", "area"] == pytest.approx(10_000, abs=1)  # 4523 → 4490 → 4544: the same square
    assert set(stored["plan_name"]) == {"蓬莱镇国土空间规划(2021-2035年)"}


def test_geopackage_in_4544_and_export_round_trip(engine: Engine, tmp_path: Path) -> None:
    gpkg = tmp_path / "plan.gpkg"
    for name, frame in conventional_layers().items():
        pyogrio.write_dataframe(frame, gpkg, layer=name, append=gpkg.exists())
    pyogrio.write_dataframe(conventional_layers()["CZKFBJ"], gpkg, layer="XZQ", append=True)
    service = PlanningIOService(engine)
    report = service.import_path(gpkg)
    assert report.layers == {"plan.gpkg:YJJBNTBHTB": 1, "plan.gpkg:STBHHX": 1, "plan.gpkg:CZKFBJ": 1,
                             "plan.gpkg:DLTB": 4}
    assert report.ignored_layers == ["plan.gpkg:XZQ"]
    before = zones(engine)
    out = tmp_path / "package"
    files = service.export(out)
    assert {f.relative_to(out).as_posix() for f in files} >= {"onemap_4544.gpkg", "shp/DLTB.shp", "shp/DLTB.cpg",
                                                              "shp/DLTB.prj", "metadata.xlsx"}
    for path in (out / "onemap_4544.gpkg", out / "shp"):
        again = service.import_path(path, replace=True)
        assert again.replaced == 7 and again.imported == 7
        pd.testing.assert_frame_equal(zones(engine), before)
    sheet = pd.read_excel(out / "metadata.xlsx", sheet_name="元数据")
    assert sheet.set_index("图层 layer")["要素数 features"].to_dict() == {"YJJBNTBHTB": 1, "STBHHX": 1, "CZKFBJ": 1,
                                                                        "DLTB": 4}
    assert sheet["坐标系 CRS"].str.startswith("EPSG:4544").all()


def test_export_opens_in_gdal_with_crs_encoding_and_aliases(engine: Engine, tmp_path: Path) -> None:
    gpkg = tmp_path / "plan.gpkg"
    for name, frame in conventional_layers().items():
        pyogrio.write_dataframe(frame, gpkg, layer=name, append=gpkg.exists())
    service = PlanningIOService(engine)
    service.import_path(gpkg)
    out = tmp_path / "package"
    service.export(out)
    info = subprocess.run(["ogrinfo", "-so", str(out / "onemap_4544.gpkg"), "DLTB"], capture_output=True, text=True,
                          check=True).stdout
    assert 'ID["EPSG",4544]' in info and "Feature Count: 4" in info
    for field in ("BSM: String", "DLBM: String", "DLMC: String", "FQLX: String", "TBMJ: Real"):
        assert field in info
    shp = subprocess.run(["ogrinfo", "-al", str(out / "shp" / "STBHHX.shp")], capture_output=True, text=True,
                         check=True).stdout
    assert 'ID["EPSG",4544]' in shp and "MC (String) = 龙泉山生态保护红线" in shp
    assert (out / "shp" / "STBHHX.cpg").read_text().strip() == "GBK"
    with sqlite3.connect(out / "onemap_4544.gpkg") as db:
        aliases = dict(db.execute("SELECT column_name, name FROM gpkg_data_columns WHERE table_name = 'DLTB'"))
    assert aliases["DLBM"] == "地类编码" and aliases["BSM"] == "标识码" and aliases["TBMJ"].startswith("图斑面积")


def test_rejected_import_leaves_the_zones_unchanged(engine: Engine, tmp_path: Path) -> None:
    good = tmp_path / "good.gpkg"
    for name, frame in conventional_layers().items():
        pyogrio.write_dataframe(frame, good, layer=name, append=good.exists())
    PlanningIOService(engine).import_path(good)
    before = zones(engine)
    bad = tmp_path / "bad.gpkg"
    layers = conventional_layers()
    layers["DLTB"].loc[2, "BSM"] = "T1"  # a duplicate code
    layers["STBHHX"]["BSM"] = [None]  # a missing code
    for name, frame in layers.items():
        pyogrio.write_dataframe(frame, bad, layer=name, append=bad.exists())
    with pytest.raises(ImportRejectedError) as caught:
        PlanningIOService(engine).import_path(bad, replace=True)
    where = {(p.file, p.row) for p in caught.value.problems}
    assert ("bad.gpkg:STBHHX", 1) in where and ("bad.gpkg:DLTB", 3) in where
    pd.testing.assert_frame_equal(zones(engine), before)


def _zeros_zip(path: Path, members: dict[str, int]) -> Path:
    """A .zip whose members are ``size`` zero bytes each, deflated (a thousand to one: a zip bomb's shape)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, size in members.items():
            with zipped.open(name, "w") as member:
                for _ in range(size // 2**20):
                    member.write(bytes(2**20))
    return path


@pytest.mark.parametrize(("members", "message"), [
    ({"DLTB.shp": 24 * 2**20}, r"unpacks to 24 MB from [\d,]+ bytes .* possible zip bomb"),
    ({f"DLTB_{i}.shp": 0 for i in range(2_001)}, "holds 2,001 files; at most 2,000"),
])
def test_zip_bombs_are_refused_before_unpacking(engine: Engine, tmp_path: Path, members: dict[str, int],
                                                message: str) -> None:
    PlanningIOService(engine).import_path(shapefile_zip(tmp_path / "good.zip"))
    before = zones(engine)
    with pytest.raises(ImportRejectedError) as caught:
        PlanningIOService(engine).import_path(_zeros_zip(tmp_path / "bomb.zip", members), replace=True)
    [problem] = caught.value.problems
    assert problem.file.startswith("bomb.zip") and re.search(message, problem.message)
    pd.testing.assert_frame_equal(zones(engine), before)


def test_zip_unpacking_to_more_than_allowed_is_refused(engine: Engine, tmp_path: Path) -> None:
    archive = shapefile_zip(tmp_path / "plan.zip")
    unpacked = sum(member.file_size for member in zipfile.ZipFile(archive).infolist())
    with pytest.raises(PayloadTooLargeError, match="unpacks to"):
        PlanningIOService(engine).import_path(archive, max_unpacked=unpacked - 1)
    assert zones(engine).empty
    assert PlanningIOService(engine).import_path(archive, max_unpacked=unpacked).imported == 7


def test_plan_names_stay_text_in_the_metadata_sheet(engine: Engine, tmp_path: Path) -> None:
    name = '=HYPERLINK("http://evil.example/steal","点击查看规划")'
    service = PlanningIOService(engine)
    service.import_path(shapefile_zip(tmp_path / "plan.zip"), plan_name=name)
    out = tmp_path / "package"
    service.export(out)
    with zipfile.ZipFile(out / "metadata.xlsx") as book:
        sheets = [book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
    assert sheets and not any("<f>" in sheet for sheet in sheets)  # no cell holds a formula
    source = pd.read_excel(out / "metadata.xlsx", sheet_name="元数据")["来源 source"]
    assert set(source) == {name}
