"""Excel ledgers: a data sheet a clerk can fill in, and a sheet that explains every column."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from pyproj import CRS

from gis_service.crs import epsg_code
from gis_service.fileio.formats import is_missing
from gis_service.layers.codelists import CODELISTS
from gis_service.layers.registry import LayerSpec

_HEADER_FONT = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")

_NOTES = {
    "zh": ("说明", ["字段", "字段代码", "必填", "取值", "类型"], "坐标系", "是", ""),
    "en": ("notes", ["column", "field", "required", "allowed values", "kind"], "CRS", "yes", ""),
}


# Excel holds at most 32,767 characters in a cell; a long WKT polygon continues in extra columns
# "<header>续2", "<header>续3"…, joined again on import.
CELL_LIMIT = 32_000
CONTINUED = "续"


def split_long_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Spread text longer than a cell can hold over continuation columns placed right after it."""
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        values = table[column]
        lengths = values.map(lambda v: len(v) if isinstance(v, str) else 0)
        pieces = int(-(-lengths.max() // CELL_LIMIT)) if len(values) else 0
        if pieces <= 1:
            out[column] = values
            continue
        for k in range(pieces):
            name = column if k == 0 else f"{column}{CONTINUED}{k + 1}"
            out[name] = values.map(lambda v, k=k: v[k * CELL_LIMIT:(k + 1) * CELL_LIMIT] or None
                                   if isinstance(v, str) else (v if k == 0 else None))
    return out


def join_long_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`split_long_cells`: append every "<header>续N" column to its header's column."""
    continued = [c for c in frame.columns if CONTINUED in str(c) and str(c).rsplit(CONTINUED, 1)[1].isascii()
                 and str(c).rsplit(CONTINUED, 1)[1].isdecimal()]
    for column in sorted(continued, key=lambda c: int(str(c).rsplit(CONTINUED, 1)[1])):
        base = str(column).rsplit(CONTINUED, 1)[0]
        if base in frame.columns:
            frame[base] = [a if not isinstance(b, str) else (a or "") + b
                           for a, b in zip(frame[base], frame[column], strict=True)]
            frame = frame.drop(columns=[column])
    return frame


def no_formulas(cells: Iterable[Cell]) -> None:
    """Keep text from data, such as ``=1+1`` or ``=HYPERLINK(…)``, as text in ``cells``: openpyxl stores any
    string starting with ``=`` as a formula, which Excel would run when the sheet is opened."""
    for cell in cells:
        if cell.data_type == "f":
            cell.data_type = "s"


def write_workbook(table: pd.DataFrame, layer: LayerSpec, path: Path, crs: CRS, language: str) -> None:
    """Write ``table`` (from :func:`office_table`) as the first sheet and a notes sheet after it."""
    table = split_long_cells(table)
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
        sheet.append([None if is_missing(v) else v for v in row])
    for cells in sheet.iter_rows(min_row=2):
        no_formulas(cells)
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
