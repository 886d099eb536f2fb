"""Excel ledgers: a data sheet a clerk can fill in, and a sheet that explains every column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from pyproj import CRS

from gis_service.crs import epsg_code
from gis_service.layers.codelists import CODELISTS
from gis_service.layers.registry import LayerSpec

_HEADER_FONT = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")

_NOTES = {
    "zh": ("说明", ["字段", "字段代码", "必填", "取值", "类型"], "坐标系", "是", ""),
    "en": ("notes", ["column", "field", "required", "allowed values", "kind"], "CRS", "yes", ""),
}


def write_workbook(table: pd.DataFrame, layer: LayerSpec, path: Path, crs: CRS, language: str) -> None:
    """Write ``table`` (from :func:`office_table`) as the first sheet and a notes sheet after it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = layer.title(language)[:31]
    sheet.append(list(table.columns))
    required = {spec.alias(language) for spec in layer.fields if spec.info.required}
    for cell in sheet[1]:
        cell.font = _HEADER_FONT
        if cell.value in required:
            cell.fill = _REQUIRED_FILL
    for row in table.itertuples(index=False, name=None):
        sheet.append([None if _missing(v) else v for v in row])
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(str(column)) * 2 + 2))
    sheet.freeze_panes = "A2"
    _write_notes(book, layer, crs, language)
    book.save(path)


def _write_notes(book: Workbook, layer: LayerSpec, crs: CRS, language: str) -> None:
    title, headers, crs_label, yes, _ = _NOTES[language]
    notes = book.create_sheet(title)
    notes.append([layer.title(language), layer.name])
    notes.append([crs_label, f"EPSG:{epsg_code(crs)}"])
    notes.append([])
    notes.append(headers)
    for cell in notes[4]:
        cell.font = _HEADER_FONT
    for spec in layer.fields:
        allowed = ""
        if spec.info.codelist:
            index = 0 if language == "zh" else 1
            allowed = "、".join(labels[index] for labels in CODELISTS[spec.info.codelist].values())
        notes.append([spec.alias(language), spec.name, yes if spec.info.required else "", allowed, spec.kind])
    notes.column_dimensions["A"].width = 24
    notes.column_dimensions["D"].width = 60


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
