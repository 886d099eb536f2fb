"""Bad input is rejected with file, row and field, and the database is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import Engine

from gis_service.errors import ImportRejectedError, InvalidInputError, UnknownCRSError
from gis_service.services.layers import LayerService

VILLAGE = "510923100201"


def settlements(n: int = 3, crs: int = 4490) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "code": [f"JM{i:04d}" for i in range(n)],
            "name": [f"张家院子{i}" for i in range(n)],
            "village_code": [VILLAGE] * n,
            "population": [100 + i for i in range(n)],
            "households": [35 + i for i in range(n)],
        },
        geometry=[Point(105.25 + 0.001 * i, 30.59 + 0.001 * i) for i in range(n)],
        crs=4490,
    )
    return frame.to_crs(crs)


def write(frame: gpd.GeoDataFrame, path: Path, **kwargs: object) -> Path:
    pyogrio.write_dataframe(frame, path, **kwargs)
    return path


def reject(service: LayerService, path: Path, layer: str = "settlements", **kwargs: object) -> ImportRejectedError:
    with pytest.raises(ImportRejectedError) as caught:
        service.import_file(path, layer, **kwargs)
    return caught.value


@pytest.fixture
def service(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> LayerService:
    """A service whose settlements layer already holds one feature, to prove failed imports keep it."""
    svc = LayerService(engine)
    first = settlements(1)
    first["code"] = ["KEEP-1"]
    svc.import_file(write(first, tmp_path_factory.mktemp("keep") / "keep.gpkg"), "settlements")
    return svc


def unchanged(service: LayerService) -> None:
    assert service.read("settlements")["code"].tolist() == ["KEEP-1"]


def test_invalid_geometry_names_row_and_field(service: LayerService, tmp_path: Path) -> None:
    bowtie = Polygon([(105.25, 30.59), (105.26, 30.60), (105.26, 30.59), (105.25, 30.60)])
    frame = gpd.GeoDataFrame({"code": ["Z1", "Z2"], "zone_type": ["permanent_farmland"] * 2},
                             geometry=[bowtie.buffer(0), bowtie], crs=4490)
    error = reject(service, write(frame, tmp_path / "zones.gpkg"), "planning_zones")
    assert [(p.file, p.row) for p in error.problems] == [("zones.gpkg", 2)]
    assert "invalid geometry" in error.problems[0].message
    assert "Self-intersection" in error.problems[0].message
    assert service.read("planning_zones").empty
    unchanged(service)


def test_wrong_geometry_type(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(2)
    frame.loc[1, "geometry"] = LineString([(105.25, 30.59), (105.26, 30.60)])
    path = write(frame, tmp_path / "mixed.geojson", driver="GeoJSON")
    error = reject(service, path)
    assert len(error.problems) == 1
    assert error.problems[0].row == 2
    assert "LineString, expected Point" in error.problems[0].message
    unchanged(service)


def test_empty_geometry(service: LayerService, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("居民点编码,居民点名称,所在村代码,人口,经度,纬度\n"
                    "A1,甲,510923100201,10,105.25,30.59\nA2,乙,510923100201,12,,\n", encoding="utf-8")
    error = reject(service, path)
    rows = {(p.row, p.field) for p in error.problems}
    assert (3, "经度") in rows and (3, "纬度") in rows
    unchanged(service)


def test_swapped_latitude_longitude(service: LayerService, tmp_path: Path) -> None:
    path = tmp_path / "swapped.csv"
    path.write_text("居民点编码,居民点名称,所在村代码,人口,经度,纬度\n"
                    "A1,甲,510923100201,10,105.25,30.59\nA2,乙,510923100201,12,30.6,105.26\n", encoding="utf-8")
    error = reject(service, path)
    assert len(error.problems) == 1
    assert error.problems[0].row == 3
    assert "swapped" in error.problems[0].message
    unchanged(service)


def test_coordinates_outside_china(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(2)
    frame.loc[1, "geometry"] = Point(2.35, 48.85)  # Paris
    error = reject(service, write(frame, tmp_path / "far.gpkg"))
    assert error.problems[0].row == 2
    assert "outside China" in error.problems[0].message
    unchanged(service)


def test_projected_coordinates_with_wrong_crs_are_outside_china(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(2, crs=4544)  # metres
    frame = frame.set_crs(4490, allow_override=True)  # a file that lies about its CRS
    error = reject(service, write(frame, tmp_path / "lying.gpkg"))
    assert {p.row for p in error.problems} == {1, 2}
    unchanged(service)


def test_file_without_crs_needs_src_crs(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(2, crs=4544)
    path = write(frame, tmp_path / "noprj.shp")
    path.with_suffix(".prj").unlink()
    with pytest.raises(UnknownCRSError, match="no CRS"):
        service.import_file(path, "settlements")
    report = service.import_file(path, "settlements", src_crs="EPSG:4544")
    assert report.imported == 2


def test_unknown_crs(service: LayerService, tmp_path: Path) -> None:
    path = write(settlements(1), tmp_path / "s.gpkg")
    with pytest.raises(UnknownCRSError, match="EPSG:999999"):
        service.import_file(path, "settlements", src_crs="EPSG:999999")
    unchanged(service)


def test_xy_columns_without_crs(service: LayerService, tmp_path: Path) -> None:
    path = tmp_path / "xy.csv"
    # Chinese survey convention: X is the northing, Y the easting.
    path.write_text("code,name,village_code,population,X坐标,Y坐标\nA1,甲,510923100201,10,3385000,524000\n",
                    encoding="utf-8")
    with pytest.raises(UnknownCRSError, match="X/Y columns need a CRS"):
        service.import_file(path, "settlements")
    assert service.import_file(path, "settlements", src_crs="EPSG:4544").imported == 1


def test_missing_required_column_and_value(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(3).drop(columns=["village_code"])
    frame.loc[1, "name"] = ""
    error = reject(service, write(frame, tmp_path / "missing.gpkg"))
    messages = {(p.row, p.field): p.message for p in error.problems}
    assert "required column missing" in messages[(None, "所在村代码")]
    assert messages[(2, "居民点名称")] == "required value is empty"
    unchanged(service)


def test_wrong_type_and_bad_code_list_value(service: LayerService, tmp_path: Path) -> None:
    path = tmp_path / "types.csv"
    path.write_text("资产编码,资产名称,权属,资产类别,资产种类,使用状态,建筑面积(㎡),经度,纬度\n"
                    "Z1,原村委会,村集体,非经营性,村办公用房,闲置,一百,105.25,30.59\n"
                    "Z2,校舍,村集体,非经营性,学校校舍,荒废,120,105.26,30.59\n", encoding="utf-8")
    error = reject(service, path, "assets")
    messages = {(p.row, p.field): p.message for p in error.problems}
    assert messages[(2, "建筑面积(㎡)")] == "'一百' is not a number"
    assert "'荒废' is not one of" in messages[(3, "使用状态")] and "闲置" in messages[(3, "使用状态")]
    assert service.read("assets").empty


def test_duplicate_codes_in_file_and_in_database(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(3)
    frame.loc[2, "code"] = "JM0000"
    frame.loc[1, "code"] = "KEEP-1"
    error = reject(service, write(frame, tmp_path / "dups.gpkg"))
    messages = sorted(p.message for p in error.problems)
    assert messages == ["code 'KEEP-1' already exists in the layer (use another code, or replace the layer)",
                        "duplicate code 'JM0000' (also on row 1)"]
    unchanged(service)


def test_village_code_must_have_12_digits(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(1)
    frame["village_code"] = ["5109231002"]
    error = reject(service, write(frame, tmp_path / "short.gpkg"))
    assert error.problems[0].message == "'5109231002' must be 12 digits"


def test_undecodable_csv_names_the_line(service: LayerService, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("code,name,village_code,population,经度,纬度\nA1,abc,510923100201,1,105.25,30.59\n"
                     "A2,张家院子,510923100201,2,105.25,30.59\n".encode("gbk"))
    error = reject(service, path)
    assert error.problems[0].row in (1, 3)  # the header is GBK too: the first bad byte is on line 1
    assert "--encoding gbk" in error.problems[0].message
    assert service.import_file(path, "settlements", encoding="gbk").imported == 2


def test_shapefile_without_cpg_in_gbk_is_not_guessed(service: LayerService, tmp_path: Path) -> None:
    path = write(settlements(2), tmp_path / "gbk.shp", encoding="GBK")
    path.with_suffix(".cpg").unlink()
    error = reject(service, path)
    assert error.problems[0].row == 1 and error.problems[0].field == "name"
    assert "no .cpg" in error.problems[0].message
    report = service.import_file(path, "settlements", encoding="gbk")
    assert report.imported == 2
    assert service.read("settlements")["name"].tolist()[1:] == ["张家院子0", "张家院子1"]


def test_shapefile_with_wrong_cpg(service: LayerService, tmp_path: Path) -> None:
    path = write(settlements(2), tmp_path / "liar.shp", encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    error = reject(service, path)
    assert error.problems[0].row == 1 and "gbk" in error.problems[0].message
    unchanged(service)


def test_all_problems_are_reported_at_once(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(4)
    frame["population"] = pd.Series(["12", "x", "-3", "7.5"], dtype=object)
    error = reject(service, write(frame, tmp_path / "many.gpkg"))
    assert [(p.row, p.field) for p in error.problems] == [(2, "人口"), (3, "人口"), (4, "人口")]


def test_unknown_format_and_layer(service: LayerService, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x")
    with pytest.raises(InvalidInputError, match="suffix"):
        service.import_file(path, "settlements")
    with pytest.raises(Exception, match="unknown layer"):
        service.import_file(write(settlements(1), tmp_path / "s.gpkg"), "nosuchlayer")


def test_failed_layer_in_a_multi_file_import_keeps_nothing(service: LayerService, tmp_path: Path) -> None:
    good = write(settlements(2), tmp_path / "good.gpkg")
    bad_frame = gpd.GeoDataFrame({"code": ["R1"], "name": ["河"]},
                                 geometry=[Point(105.25, 30.59)], crs=4490)
    bad = write(bad_frame, tmp_path / "bad.gpkg")
    with pytest.raises(ImportRejectedError):
        service.import_files([(good, "settlements"), (bad, "rivers")], mode="replace")
    unchanged(service)


def test_numbers_beyond_an_integer_column_are_row_errors(service: LayerService, tmp_path: Path) -> None:
    frame = settlements(2)
    frame["population"] = [10, 3_000_000_000]
    error = reject(service, write(frame, tmp_path / "big.gpkg"))
    assert [(p.row, p.field) for p in error.problems] == [(2, "人口")]
    unchanged(service)


def test_full_width_digits_are_not_a_village_code(service: LayerService, tmp_path: Path) -> None:
    # "５１０９２３１００２０１".isdigit() holds in Python; stored, it would match no village.
    frame = settlements(1)
    frame["village_code"] = ["５１０９２３１００２０１"]
    error = reject(service, write(frame, tmp_path / "wide.gpkg"))
    assert error.problems[0].message == "'５１０９２３１００２０１' must be 12 digits"
