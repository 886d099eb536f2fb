"""The asset ledger workbook (资产台账): columns in the ledger's order, drop-downs from the code lists, number
and date formats, a frozen header and a notes sheet (填表说明). The blank template and the export are the same
layout, so an exported ledger can be filled in further and imported again.

Reading goes through the layer machinery (:func:`gis_service.fileio.readers.read_source`); this module adds
the layout and the mapping of a problem's field to the sheet column a clerk sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from gis_service.errors import InvalidInputError
from gis_service.fileio.excel import no_formulas
from gis_service.fileio.formats import LATITUDE, LONGITUDE, field_lookup, is_blank, is_missing
from gis_service.layers.codelists import CODELISTS
from gis_service.layers.registry import LayerSpec, get_layer

# The ledger's column order (the office's paper ledger): identity, ownership, place, then size, value, title,
# use and lease. "lon"/"lat" are the location columns; "footprint" the surveyed outline as WKT.
LEDGER_ORDER = (
    "code", "name", "asset_class", "category", "ownership", "owner_unit", "owner_code", "location",
    "village_code", "former_village_code", "lon", "lat", "floor_area", "land_area", "year_built",
    "original_value", "net_value", "certificate_no", "documents_status", "building_condition", "use_status",
    "tenant", "lease_start", "lease_end", "annual_income", "inventoried_on", "former_use", "footprint",
)
# Columns the export adds for reading only (computed); an import skips them.
COMPUTED = {"registration_pathway": ("确权登记路径", "registration pathway"),
            "registration_reason": ("登记路径理由", "pathway reason")}
VALIDATED_ROWS = 5000  # drop-downs and checks reach this far below the data

_SHEET = {"zh": "资产台账", "en": "Asset ledger"}
_NOTES = {"zh": "填表说明", "en": "Instructions"}
_LISTS = {"zh": "代码表", "en": "Code lists"}
_HEADER_FONT = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
_COMPUTED_FILL = PatternFill("solid", fgColor="E7E6E6")
_FORMATS = {"text": "@", "int": "0", "float": "#,##0.00", "date": "yyyy-mm-dd", "coordinate": "0.0000000"}
_KIND_NAMES = {"zh": {"text": "文本", "int": "整数", "float": "数字", "date": "日期(YYYY-MM-DD)",
                      "coordinate": "数字(度)", "wkt": "WKT文本"},
               "en": {"text": "text", "int": "whole number", "float": "number", "date": "date (YYYY-MM-DD)",
                      "coordinate": "number (degrees)", "wkt": "WKT text"}}


@dataclass(frozen=True)
class LedgerColumn:
    """One column of the ledger sheet."""

    key: str  # field name, "lon", "lat", "footprint" or a computed column
    header: str
    kind: str  # text | int | float | date | coordinate | wkt
    codelist: str | None = None
    required: bool = False
    digits: int | None = None


def ledger_columns(language: str = "zh", *, computed: bool = False) -> list[LedgerColumn]:
    """The sheet's columns in ledger order (with the computed ones at the end when ``computed``)."""
    layer = get_layer("assets")
    columns = []
    for key in LEDGER_ORDER:
        if key in ("lon", "lat"):
            name = LONGITUDE if key == "lon" else LATITUDE
            columns.append(LedgerColumn(key, name[language], "coordinate", required=True))
        elif key == "footprint":
            columns.append(LedgerColumn(key, layer.extra_geometries[0].alias(language), "wkt"))
        else:
            spec = layer.field(key)
            columns.append(LedgerColumn(key, spec.alias(language), spec.kind, spec.info.codelist,
                                        spec.info.required, spec.info.digits))
    if computed:
        columns += [LedgerColumn(key, labels[0 if language == "zh" else 1], "text") for key, labels in COMPUTED.items()]
    return columns


def write_ledger(rows: pd.DataFrame | None, path: Path, language: str = "zh") -> Path:
    """Write the ledger: ``rows`` has one column per :class:`LedgerColumn` key (codes already as labels,
    dates as dates); ``None`` writes the blank template."""
    computed = rows is not None and all(key in rows for key in COMPUTED)
    columns = ledger_columns(language, computed=computed)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _SHEET[language]
    sheet.append([c.header for c in columns])
    if rows is not None:
        keys = [c.key for c in columns]
        for values in rows[keys].itertuples(index=False, name=None):
            sheet.append([None if is_missing(v) else v for v in values])
    lists = _write_lists(book, language)
    _style(sheet, columns, lists, max(sheet.max_row, 1) + VALIDATED_ROWS)
    _write_notes(book, columns, language)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _style(sheet: Worksheet, columns: list[LedgerColumn], lists: dict[str, str], last_row: int) -> None:
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        header = sheet.cell(1, index)
        header.font = _HEADER_FONT
        header.alignment = Alignment(wrap_text=True, vertical="center")
        if column.required:
            header.fill = _REQUIRED_FILL
        elif column.key in COMPUTED:
            header.fill = _COMPUTED_FILL
        number_format = _FORMATS.get(column.kind, "@")
        # The column's own format applies to cells a clerk adds later; written cells get it too.
        sheet.column_dimensions[letter].number_format = number_format
        width = 60 if column.kind == "wkt" else max(10, min(36, len(column.header) * 2 + 4))
        sheet.column_dimensions[letter].width = width
        cells = [cell for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index)]
        no_formulas(cells)
        for cell in cells:
            cell.number_format = number_format
        validation = _validation(column, lists)
        if validation is not None:
            validation.add(f"{letter}2:{letter}{last_row}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "C2"  # header and the code/name columns stay in view
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}1"


def _validation(column: LedgerColumn, lists: dict[str, str]) -> DataValidation | None:
    """Excel's own check of a cell as it is typed (the import checks again: not every tool honours these)."""
    if column.codelist:
        rule = DataValidation(type="list", formula1=lists[column.codelist], allow_blank=not column.required)
    elif column.kind == "date":
        rule = DataValidation(type="date", operator="between", formula1="DATE(1900,1,1)", formula2="DATE(2100,12,31)")
    elif column.kind == "int":
        rule = DataValidation(type="whole", operator="between", formula1="0", formula2="2100")
    elif column.kind == "float":
        rule = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0")
    elif column.kind == "coordinate":
        low, high = ("73", "136") if column.key == "lon" else ("3", "54")
        rule = DataValidation(type="decimal", operator="between", formula1=low, formula2=high)
    elif column.digits:
        rule = DataValidation(type="textLength", operator="equal", formula1=str(column.digits))
    else:
        return None
    rule.showErrorMessage = True
    rule.errorStyle = "warning"  # Excel warns; the import decides
    rule.error = f"{column.header}: {column.kind}"
    return rule


def _write_lists(book: Workbook, language: str) -> dict[str, str]:
    """A hidden sheet with every code list's labels; drop-downs point at it (an inline list is limited to
    255 characters)."""
    sheet = book.create_sheet(_LISTS[language])
    ranges = {}
    for index, (name, entries) in enumerate(CODELISTS.items(), start=1):
        letter = get_column_letter(index)
        sheet.cell(1, index, name)
        for row, labels in enumerate(entries.values(), start=2):
            sheet.cell(row, index, labels[0 if language == "zh" else 1])
        ranges[name] = f"{quote_sheetname(sheet.title)}!${letter}$2:${letter}${len(entries) + 1}"
    sheet.sheet_state = "hidden"
    return ranges


_INSTRUCTIONS = {
    "zh": ["资产台账填表说明", "1. 第一行是表头,请勿修改;每行填一宗资产,黄色表头为必填项。",
           "2. 带下拉框的列请从下拉列表中选择(也可填写代码或英文名称)。",
           "3. 日期填写为 YYYY-MM-DD(如 2021-03-31);面积、金额填数字,不要带单位。",
           "4. 经度、纬度为 CGCS2000(EPSG:4490)十进制度,如 105.2498528、30.5481971。",
           "5. 村级代码为12位数字。资产编码在台账中不可重复。",
           "6. 导入时全部检查,有任何错误则整表不导入,并按“行、列”逐一列出;灰色表头列为导出时计算,导入时忽略。"],
    "en": ["How to fill in the asset ledger", "1. Row 1 is the header; do not change it. One asset per row; "
           "yellow headers are required.", "2. Columns with a drop-down take a value from the list (a code or "
           "the Chinese label work too).", "3. Dates as YYYY-MM-DD (e.g. 2021-03-31); areas and amounts as plain "
           "numbers without units.", "4. Longitude and latitude in CGCS2000 (EPSG:4490) decimal degrees.",
           "5. Village codes have 12 digits. Asset codes must be unique.",
           "6. The import checks everything and imports nothing if anything is wrong, listing each problem by "
           "row and column; grey columns are computed by the export and ignored on import."],
}
_NOTE_HEADERS = {"zh": ["列", "表头", "必填", "类型", "可选值", "示例"],
                 "en": ["column", "header", "required", "kind", "allowed values", "example"]}
_EXAMPLE: dict[str, Any] = {
    "code": "JT510923100206-099", "name": "原石桥村村委会办公楼", "asset_class": "non_operating",
    "category": "village_office", "ownership": "village_collective", "owner_unit": "石桥村股份经济合作联合社",
    "owner_code": "510923100233", "location": "蓬莱镇永丰村4组", "village_code": "510923100207",
    "former_village_code": "510923100233", "lon": 105.2498528, "lat": 30.5481971, "floor_area": 420.5,
    "land_area": 860.0, "year_built": 1998, "original_value": 38.6, "net_value": 12.4, "certificate_no": "",
    "documents_status": "incomplete", "building_condition": "fair", "use_status": "idle", "tenant": "",
    "lease_start": date(2021, 1, 1), "lease_end": date(2025, 12, 31), "annual_income": 1.2,
    "inventoried_on": date(2021, 3, 15), "former_use": "村委会办公", "footprint": "",
}


def _write_notes(book: Workbook, columns: list[LedgerColumn], language: str) -> None:
    notes = book.create_sheet(_NOTES[language], 1)
    for line in _INSTRUCTIONS[language]:
        notes.append([line])
    notes["A1"].font = Font(bold=True, size=13)
    notes.append([])
    notes.append(_NOTE_HEADERS[language] + (["(示例行,勿导入)"] if language == "zh" else ["(example, not imported)"]))
    for cell in notes[notes.max_row]:
        cell.font = _HEADER_FONT
    yes = "是" if language == "zh" else "yes"
    for index, column in enumerate(columns, start=1):
        allowed = ""
        if column.codelist:
            allowed = "、".join(labels[0 if language == "zh" else 1] for labels in CODELISTS[column.codelist].values())
        elif column.digits:
            allowed = f"{column.digits}位数字" if language == "zh" else f"{column.digits} digits"
        example = _EXAMPLE.get(column.key, "")
        if column.codelist and example:
            example = CODELISTS[column.codelist][example][0 if language == "zh" else 1]
        notes.append([get_column_letter(index), column.header, yes if column.required else "",
                      _KIND_NAMES[language].get(column.kind, column.kind), allowed, example])
    for letter, width in zip("ABCDEF", (6, 24, 6, 18, 60, 28), strict=True):
        notes.column_dimensions[letter].width = width


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class SheetLayout:
    """The first sheet of a workbook as found: its headers by column and which rows are entirely blank."""

    headers: list[str]
    blank_rows: frozenset[int]

    def column_of(self, name: str | None, layer: LayerSpec) -> tuple[str, str] | None:
        """The column letter(s) and header of a problem's ``name`` (a header, field name or alias, or the
        layer's geometry, which is the longitude and latitude columns)."""
        if not name:
            return None
        lookup = field_lookup(layer)
        if name == layer.geometry_column:
            found = [i for i, h in enumerate(self.headers) if h.casefold() in _COORDINATE_HEADERS]
        else:
            target = lookup.get(name.casefold(), name)
            found = [i for i, h in enumerate(self.headers) if h == name or lookup.get(h.casefold()) == target]
        if not found:
            return None
        letters = "/".join(get_column_letter(i + 1) for i in found)
        return letters, "/".join(self.headers[i] for i in found)


_COORDINATE_HEADERS = {LONGITUDE["zh"], LONGITUDE["en"], LATITUDE["zh"], LATITUDE["en"], "lon", "lat", "lng"}


def sheet_layout(path: Path) -> SheetLayout:
    """Headers and blank rows of the first sheet (what pandas reads), without loading the workbook's styles."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for files that are not workbooks
        raise InvalidInputError(f"{path.name}: cannot be read as Excel .xlsx: {exc}") from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, ())
        blank = frozenset(number for number, values in enumerate(rows, start=2)
                          if all(is_blank(v) for v in values))
    finally:
        book.close()
    return SheetLayout([("" if h is None else str(h).strip()) for h in header], blank)
