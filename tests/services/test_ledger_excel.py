"""The Excel ledger on both backends: template, a clerk's sheet full of mistakes, round trip, update with
history, and the GeoPackage export."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import shapely
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import Engine, func, select

from gis_service.db.records import FeatureVersion
from gis_service.errors import CellProblem, ImportRejectedError
from gis_service.fileio.ledger_excel import ledger_columns
from gis_service.layers.registry import get_layer
from gis_service.repositories.layers import LayerRepository
from gis_service.services.layers import LayerService
from gis_service.services.ledger_excel import CLI_PRINCIPAL, LedgerExcelService
from tests.services.ledger_registry_data import X0, Y0, asset, four_pathways, load_assets, load_zones
from tests.support import assert_same_layer

HEADERS = [c.header for c in ledger_columns("zh")]
COLUMN = {c.key: get_column_letter(i + 1) for i, c in enumerate(ledger_columns())}
GOOD_ROW = {"code": "NEW-1", "name": "永丰村凉水集体门市", "asset_class": "经营性", "category": "门市",
            "ownership": "村集体", "village_code": "510923100201", "lon": 105.25, "lat": 30.59, "floor_area": 120.5,
            "use_status": "出租", "lease_start": date(2021, 1, 1), "inventoried_on": date(2021, 3, 15)}


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return LayerRepository(conn, get_layer("assets")).count()


def fill(template: Path, rows: dict[int, dict[str, Any]], out: Path) -> Path:
    """The template with ``rows`` (sheet row → values by column key) typed in, as a clerk would."""
    book = load_workbook(template)
    sheet = book.worksheets[0]
    for number, values in rows.items():
        for key, value in values.items():
            sheet[f"{COLUMN[key]}{number}"] = value
    book.save(out)
    return out


@pytest.fixture
def ledger(engine: Engine) -> LedgerExcelService:
    return LedgerExcelService(engine, "zh")


def test_template_has_headers_dropdowns_formats_and_notes(ledger: LedgerExcelService, tmp_path: Path) -> None:
    book = load_workbook(ledger.template(tmp_path / "台账模板.xlsx"))
    assert book.sheetnames[:2] == ["资产台账", "填表说明"]
    sheet = book["资产台账"]
    headers = [c.value for c in sheet[1]]
    assert headers[:12] == ["资产编码", "资产名称", "资产类别", "资产种类", "权属", "产权单位", "产权单位代码", "坐落",
                            "所在村代码", "原村代码", "经度", "纬度"]
    assert headers == HEADERS and sheet.max_row == 1
    assert sheet.freeze_panes == "C2"
    rules = {str(v.sqref).split(":")[0]: v for v in sheet.data_validations.dataValidation}
    use_status = rules[f"{COLUMN['use_status']}2"]
    assert use_status.type == "list"
    lists_sheet, cells = use_status.formula1.split("!")
    labels = [row[0].value for row in book[lists_sheet.strip("'")][cells.replace("$", "")]]
    assert labels == ["在用", "闲置", "部分闲置", "出租"]
    assert rules[f"{COLUMN['inventoried_on']}2"].type == "date"
    assert rules[f"{COLUMN['floor_area']}2"].type == "decimal"
    assert rules[f"{COLUMN['village_code']}2"].type == "textLength"
    assert sheet.column_dimensions[COLUMN["inventoried_on"]].number_format == "yyyy-mm-dd"
    notes = [row[1] for row in book["填表说明"].iter_rows(values_only=True)]
    assert "建筑面积(㎡)" in notes and any("YYYY-MM-DD" in str(r) for r in book["填表说明"].iter_rows(values_only=True))
    # The blank template imports as nothing at all.
    assert ledger.import_file(tmp_path / "台账模板.xlsx", CLI_PRINCIPAL).created == 0


def test_clerks_mistakes_each_reported_by_row_and_column_and_nothing_imported(
        engine: Engine, ledger: LedgerExcelService, tmp_path: Path) -> None:
    load_assets(LayerService(engine), tmp_path, [asset("DUP-DB", shapely.Point(10, 10))])
    template = ledger.template(tmp_path / "t.xlsx")
    rows = {
        2: GOOD_ROW,
        3: {**GOOD_ROW, "code": "BAD-LABEL", "use_status": "半闲置"},
        4: {**GOOD_ROW, "code": "BAD-DATE", "inventoried_on": "2021-02-30"},
        5: {**GOOD_ROW, "code": "BAD-AREA", "floor_area": -5},
        6: {**GOOD_ROW, "code": "NO-NAME", "name": None},
        7: {**GOOD_ROW},  # the code of row 2 again
        # row 8 left blank: skipped, not reported
        9: {**GOOD_ROW, "code": "DUP-DB"},
        10: {**GOOD_ROW, "code": "TEXT-NUMBER", "land_area": "三百"},
        11: {**GOOD_ROW, "code": "OUTSIDE", "lon": 200.0, "lat": 30.59},
        12: {**GOOD_ROW, "code": "SWAPPED", "lon": 30.59, "lat": 105.25},
        13: {**GOOD_ROW, "code": "SHORT-VILLAGE", "village_code": "5109231002"},
    }
    before = count(engine)
    with pytest.raises(ImportRejectedError) as caught:
        ledger.import_file(fill(template, rows, tmp_path / "clerk.xlsx"), CLI_PRINCIPAL)
    problems = [p for p in caught.value.problems if isinstance(p, CellProblem)]
    assert len(problems) == len(caught.value.problems)
    found = {(p.row, p.column) for p in problems}
    assert found == {(3, COLUMN["use_status"]), (4, COLUMN["inventoried_on"]), (5, COLUMN["floor_area"]),
                     (6, COLUMN["name"]), (7, "A"), (9, "A"), (10, COLUMN["land_area"]),
                     (11, f"{COLUMN['lon']}/{COLUMN['lat']}"), (12, f"{COLUMN['lon']}/{COLUMN['lat']}"),
                     (13, COLUMN["village_code"])}
    text = {p.row: str(p) for p in problems}
    assert text[3] == f"clerk.xlsx: 行 3, 列 {COLUMN['use_status']}(使用状态): “半闲置”不在可选值中," \
        "可选:在用(in_use)、闲置(idle)、部分闲置(partly_idle)、出租(leased)"
    assert text[4].endswith("“2021-02-30”不是日期(应为 YYYY-MM-DD)")
    assert text[5].endswith("-5.0 小于最小值 0(不能为负数)")
    assert text[6].endswith("列 B(资产名称): 必填项为空")
    assert text[7].endswith("资产编码“NEW-1”在表中重复(第2行已有)")
    assert "已存在于数据库" in text[9]
    assert text[10].endswith("(占地面积(㎡)): “三百”不是数字")
    assert "不在中国境内" in text[11] and "经度和纬度疑似填反了" in text[12]
    assert text[13].endswith("“5109231002”应为12位数字")
    assert count(engine) == before  # nothing imported


def test_problems_in_english(engine: Engine, tmp_path: Path) -> None:
    ledger = LedgerExcelService(engine, "en")
    sheet = fill(ledger.template(tmp_path / "t.xlsx"), {2: {**GOOD_ROW, "floor_area": "many"}}, tmp_path / "en.xlsx")
    with pytest.raises(ImportRejectedError) as caught:
        ledger.import_file(sheet, CLI_PRINCIPAL)
    [problem] = caught.value.problems
    assert str(problem) == "en.xlsx: row 2, column M (floor area (m²)): 'many' is not a number"


def full_assets() -> list[dict[str, Any]]:
    rows = four_pathways()
    rows[2].update(owner_unit="石桥村股份经济合作联合社", owner_code="510923100233", year_built=1998,
                   original_value=38.6, net_value=12.4, building_condition="fair", tenant="张三(个体户)",
                   lease_start=date(2021, 1, 1), lease_end=date(2025, 12, 31), annual_income=1.2,
                   inventoried_on=date(2021, 3, 15), former_use="村委会办公", location="蓬莱镇永丰村4组",
                   former_village_code="510923100233", floor_area=420.123456, land_area=860.0)
    return rows


def test_round_trip_xlsx_db_xlsx_loses_nothing(engine: Engine, ledger: LedgerExcelService, tmp_path: Path) -> None:
    layers = LayerService(engine)
    load_zones(layers, tmp_path)
    load_assets(layers, tmp_path, full_assets())
    original = layers.read("assets")
    first = ledger.export(tmp_path / "first.xlsx")
    assert ledger.import_file(first, CLI_PRINCIPAL, update=True).unchanged == len(original)  # same as stored
    with engine.begin() as conn:
        LayerRepository(conn, get_layer("assets")).delete_all()
    report = ledger.import_file(first, CLI_PRINCIPAL)
    assert report.created == len(original) and report.ignored_columns == []
    assert_same_layer(get_layer("assets"), original, layers.read("assets"))  # values, dates, within 1 cm
    second = ledger.export(tmp_path / "second.xlsx")
    values = [list(load_workbook(p).worksheets[0].iter_rows(values_only=True)) for p in (first, second)]
    assert values[0] == values[1]
    row = next(r for r in values[0] if r[0] == "R-JOINT")
    assert row[HEADERS.index("承租方")] == "张三(个体户)"
    assert row[HEADERS.index("租期止")].date() == date(2025, 12, 31)
    assert row[-2] == "手续不全但符合规划,联审后登记"  # the computed pathway column


def test_update_upserts_by_code_and_records_history(engine: Engine, ledger: LedgerExcelService,
                                                    tmp_path: Path) -> None:
    load_assets(LayerService(engine), tmp_path, full_assets())
    exported = ledger.export(tmp_path / "ledger.xlsx")
    book = load_workbook(exported)
    sheet = book.worksheets[0]
    target = next(r for r in range(2, sheet.max_row + 1) if sheet[f"A{r}"].value == "R-JOINT")
    sheet[f"{COLUMN['floor_area']}{target}"] = 500
    for key, value in {**GOOD_ROW, "code": "NEW-2"}.items():
        sheet[f"{COLUMN[key]}{sheet.max_row + 1 if key == 'code' else sheet.max_row}"] = value
    book.save(exported)
    report = ledger.import_file(exported, CLI_PRINCIPAL, update=True)
    assert (report.created, report.updated, report.unchanged) == (1, 1, len(full_assets()) - 1)
    with engine.connect() as conn:
        history = conn.execute(select(FeatureVersion.action, FeatureVersion.before, FeatureVersion.after,
                                      FeatureVersion.actor).order_by(FeatureVersion.id)).all()
    assert [h.action for h in history] == ["update", "create"]
    assert history[0].before["properties"]["floor_area"] == pytest.approx(420.123456)
    assert history[0].after["properties"]["floor_area"] == 500
    assert history[0].actor.startswith("cli")
    assert history[1].after["properties"]["code"] == "NEW-2"
    # Again: nothing left to change, nothing recorded.
    assert ledger.import_file(exported, CLI_PRINCIPAL, update=True).unchanged == len(full_assets()) + 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(FeatureVersion)).scalar_one() == 2


def test_geopackage_export_in_4544_with_pathways(engine: Engine, ledger: LedgerExcelService, tmp_path: Path) -> None:
    layers = LayerService(engine)
    load_zones(layers, tmp_path)
    load_assets(layers, tmp_path, full_assets())
    path = ledger.export(tmp_path / "ledger.gpkg")
    assert pyogrio.read_info(path, layer="assets")["crs"] == "EPSG:4544"
    frame = pyogrio.read_dataframe(path, layer="assets").set_index("code")
    assert {"name", "category", "certificate_no", "registration_pathway", "registration_pathway_label",
            "registration_reason", "footprint"} <= set(frame.columns)
    assert frame.loc["R-FARM", "registration_pathway"] == "plan_first"
    assert frame.loc["R-FARM", "registration_pathway_label"] == "不符合规划,先纳入规划再登记"
    assert frame.loc["R-JOINT", "owner_unit"] == "石桥村股份经济合作联合社"
    point = frame.loc["R-CERT", "geometry"]
    assert (point.x, point.y) == pytest.approx((X0 + 50, Y0 + 50), abs=0.01)  # 1 cm
    outlines = pyogrio.read_dataframe(path, layer="asset_footprints").set_index("code")
    assert outlines.loc["R-FARM", "geometry"].area == pytest.approx(2000, abs=0.01)
    assert frame.loc["R-CERT", "name"] == "资产R-CERT"
