"""Edge cases of file import and export found in review: nothing lost, nothing outside the export touched."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point
from sqlalchemy import Engine

from gis_service.errors import ImportRejectedError, InvalidInputError
from gis_service.services.layers import LayerService

HEADER = "居民点编码,居民点名称,所在村代码,人口,户数,经度,纬度\n"


def _load(engine: Engine, tmp_path: Path, names: list[str], households: list[int | None]) -> LayerService:
    frame = gpd.GeoDataFrame(
        {"code": [f"S{i}" for i in range(len(names))], "name": names, "village_code": ["510923100201"] * len(names),
         "population": [10] * len(names), "households": households},
        geometry=[Point(105.25 + i / 1000, 30.59) for i in range(len(names))], crs=4490)
    pyogrio.write_dataframe(frame, tmp_path / "in.gpkg")
    service = LayerService(engine)
    service.import_file(tmp_path / "in.gpkg", "settlements")
    return service


def test_shapefile_export_touches_only_its_own_files(engine: Engine, tmp_path: Path) -> None:
    service = _load(engine, tmp_path, ["甲", "乙"], [3, 4])
    out = tmp_path / "out"
    out.mkdir()
    (out / "s.xlsx").write_text("keep me")
    service.export("settlements", "shp", out / "s.shp")
    service.export("settlements", "shp", out / "s.shp")  # again, over the first export
    assert (out / "s.xlsx").read_text() == "keep me"


def test_text_too_long_for_a_shapefile_is_refused_not_cut(engine: Engine, tmp_path: Path) -> None:
    service = _load(engine, tmp_path, ["张家院子" * 40, "乙"], [3, 4])
    with pytest.raises(InvalidInputError, match="S0 \\(name\\)"):
        service.export("settlements", "shp", tmp_path / "s.shp")
    assert not (tmp_path / "s.shp").exists()
    service.export("settlements", "gpkg", tmp_path / "s.gpkg")  # GeoPackage holds it
    assert pyogrio.read_dataframe(tmp_path / "s.gpkg")["name"][0] == "张家院子" * 40


def test_integer_fields_with_gaps_stay_integers(engine: Engine, tmp_path: Path) -> None:
    service = _load(engine, tmp_path, ["甲", "乙"], [3, None])
    service.export("settlements", "csv", tmp_path / "s.csv")
    rows = list(csv.DictReader((tmp_path / "s.csv").open(encoding="utf-8-sig")))
    assert [row["户数"] for row in rows] == ["3", ""]
    service.export("settlements", "gpkg", tmp_path / "s.gpkg")
    info = pyogrio.read_info(tmp_path / "s.gpkg")
    assert info["dtypes"][list(info["fields"]).index("households")].startswith("int")


def test_text_that_looks_like_a_formula_stays_text_in_excel(engine: Engine, tmp_path: Path) -> None:
    service = _load(engine, tmp_path, ["=1+1", "乙"], [3, 4])
    service.export("settlements", "xlsx", tmp_path / "s.xlsx")
    service.import_file(tmp_path / "s.xlsx", "settlements", mode="replace")
    assert service.read("settlements")["name"].tolist() == ["=1+1", "乙"]


def test_control_characters_are_rejected(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "ctl.csv"
    path.write_text(HEADER + "A1,甲\x01,510923100201,10,3,105.25,30.59\n", encoding="utf-8")
    with pytest.raises(ImportRejectedError, match="control characters"):
        LayerService(engine).import_file(path, "settlements")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "the file is empty"), (HEADER + "A1,甲,510923100201,10,3,105.25,30.59,extra\n", "8 fields")],
)
def test_broken_csv_is_rejected(engine: Engine, tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportRejectedError, match=expected) as caught:
        LayerService(engine).import_file(path, "settlements")
    assert caught.value.problems[0].row in (None, 2)


def test_csv_row_numbers_count_blank_lines(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text(HEADER + "A1,甲,510923100201,10,3,105.25,30.59\n\n\nA2,乙,510923100201,x,3,105.25,30.59\n",
                    encoding="utf-8")
    with pytest.raises(ImportRejectedError) as caught:
        LayerService(engine).import_file(path, "settlements")
    assert [(p.row, p.field) for p in caught.value.problems] == [(5, "人口")]


def test_geopackage_table_without_geometry_is_rejected(engine: Engine, tmp_path: Path) -> None:
    import pandas as pd

    pyogrio.write_dataframe(pd.DataFrame({"code": ["A"], "name": ["甲"]}), tmp_path / "t.gpkg")
    with pytest.raises(ImportRejectedError, match="no geometry"):
        LayerService(engine).import_file(tmp_path / "t.gpkg", "settlements")
