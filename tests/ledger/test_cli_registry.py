"""`gis-service ledger registration|template|import|export` as a clerk runs them: real processes and files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pyogrio
from openpyxl import load_workbook

from tests.test_cli import run


def _fill(template: Path, out: Path, rows: list[dict[str, object]]) -> Path:
    book = load_workbook(template)
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    for number, values in enumerate(rows, start=2):
        for header, value in values.items():
            sheet.cell(number, headers.index(header) + 1, value)
    book.save(out)
    return out


def _row(code: str, **extra: object) -> dict[str, object]:
    return {"资产编码": code, "资产名称": "原村委会办公楼", "资产类别": "非经营性", "资产种类": "村办公用房",
            "权属": "村集体", "所在村代码": "510923100201", "经度": 105.25, "纬度": 30.59, "使用状态": "闲置",
            "权籍手续": "手续齐全", "清查日期": date(2021, 3, 1), **extra}


def test_template_import_registration_export(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    template = tmp_path / "台账模板.xlsx"
    made = run(["ledger", "template", "--out", str(template)], db)
    assert made.returncode == 0, made.stderr
    assert "已写出台账模板" in made.stdout
    bad = _fill(template, tmp_path / "bad.xlsx", [_row("C-1"), _row("C-2", **{"建成年份": "九八年"})])
    rejected = run(["ledger", "import", str(bad)], db)
    assert rejected.returncode == 2
    assert "导入被拒绝:1 处问题,未导入任何数据" in rejected.stderr
    assert "bad.xlsx: 行 3, 列 O(建成年份): “九八年”不是整数" in rejected.stderr
    certified = _row("C-2", 不动产权证号="川(2019)大英县不动产权第1号")
    good = _fill(template, tmp_path / "good.xlsx", [_row("C-1"), certified])
    imported = run(["ledger", "import", str(good)], db)
    assert imported.returncode == 0, imported.stderr
    assert "新增 2 宗" in imported.stdout
    again = run(["ledger", "import", str(good), "--update"], db, ("GIS_LANGUAGE", "en"))
    assert "0 added, 0 updated, 2 unchanged" in again.stdout
    listed = run(["ledger", "registration", "--json"], db)
    assert listed.returncode == 0, listed.stderr
    body = orjson.loads(listed.stdout)
    assert {a["code"]: a["pathway"] for a in body["assets"]} == {"C-1": "register", "C-2": "change_registration"}
    assert body["counts"] == [{"village_code": "510923100201", "change_registration": 1, "register": 1,
                               "joint_approval": 0, "plan_first": 0}]
    table = run(["ledger", "registration", "--village", "510923100201"], db)
    assert "手续齐全,直接登记" in table.stdout
    gpkg = tmp_path / "ledger.gpkg"
    assert run(["ledger", "export", "--out", str(gpkg)], db).returncode == 0
    assert pyogrio.read_info(gpkg, layer="assets")["crs"] == "EPSG:4544"
    xlsx = tmp_path / "ledger.xlsx"
    assert run(["ledger", "export", "--out", str(xlsx)], db).returncode == 0
    assert [r[0] for r in load_workbook(xlsx).worksheets[0].iter_rows(values_only=True)] == ["资产编码", "C-1", "C-2"]


def test_wrong_suffix_exits_1(tmp_path: Path) -> None:
    result = run(["ledger", "export", "--out", str(tmp_path / "ledger.csv")], tmp_path / "x.sqlite")
    assert result.returncode == 1
    assert "export the ledger as .xlsx or .gpkg" in result.stderr
