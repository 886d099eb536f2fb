"""Check a :class:`SourceTable` against a layer's fields and geometry, and turn it into rows ready to store.

Every problem is collected with its file, row and field, so one run tells the clerk everything to fix;
the import is rejected as a whole if any is found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis_service.crs import CHINA_BOUNDS, storage_crs, transform_geometries
from gis_service.errors import ImportRejectedError, RowProblem
from gis_service.fileio.formats import is_blank
from gis_service.fileio.readers import SourceTable
from gis_service.layers.codelists import CODELISTS, code_lookup
from gis_service.layers.registry import FieldSpec, LayerSpec

MAX_PROBLEMS = 1000
# Characters no text field should hold (Excel refuses them too); tab and line breaks are allowed.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_SINGLE_TO_MULTI = {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString}


@dataclass
class ValidLayer:
    """Rows ready for the repository: values in ``columns`` order, geometries in EPSG:4490."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    geometries: dict[str, np.ndarray]
    ignored_columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def validate(
    source: SourceTable, layer: LayerSpec, codes_taken: Callable[[Iterable[str]], set[str]] | None = None
) -> ValidLayer:
    """Validate ``source`` for ``layer``.

    Parameters
    ----------
    source
        The file as read.
    layer
        The target layer.
    codes_taken
        Returns which of the given codes are already stored (``None`` when the layer is being replaced).

    Raises
    ------
    ImportRejectedError
        With every problem found (up to ``MAX_PROBLEMS``).
    """
    problems = list(source.problems)
    values: dict[str, list[Any]] = {}
    for spec in layer.fields:
        values[spec.name] = _check_field(source, spec, problems)
    if "code" in values and codes_taken is not None:
        _check_codes_free(source, values["code"], codes_taken, problems)
    geometries = {layer.geometry_column: _check_geometries(
        source, source.geometries, layer.geometry_type, layer.geometry_column, True, problems)}
    for extra in layer.extra_geometries:
        raw = source.extra_geometries.get(extra.name, np.full(len(source), None, dtype=object))
        geometries[extra.name] = _check_geometries(
            source, raw, extra.geometry_type, extra.alias(), False, problems)
    if problems:
        problems.sort(key=lambda p: (p.row if p.row is not None else -1))
        raise ImportRejectedError(problems=problems[:MAX_PROBLEMS])
    columns = list(values)
    rows = list(zip(*(values[c] for c in columns), strict=True)) if columns else []
    return ValidLayer(columns, rows, geometries, source.ignored_columns)


# ---------------------------------------------------------------- attributes


def _check_field(source: SourceTable, spec: FieldSpec, problems: list[RowProblem]) -> list[Any]:
    n = len(source)
    info = spec.info
    if spec.name not in source.attributes.columns:
        if info.required:
            problems.append(RowProblem(source.file, None, info.zh,
                                       f"required column missing ({spec.name} / {info.zh} / {info.en})"))
        return [None] * n
    column = source.attributes[spec.name]
    converter = _CONVERTERS[spec.kind]
    lookup = code_lookup(info.codelist) if info.codelist else None
    out: list[Any] = []
    for i, raw in enumerate(column.tolist()):
        row = int(source.row_numbers[i])
        if is_blank(raw):
            if info.required:
                problems.append(RowProblem(source.file, row, info.zh, "required value is empty"))
            out.append(None)
            continue
        try:
            value = converter(raw)
        except (TypeError, ValueError):
            problems.append(RowProblem(source.file, row, info.zh,
                                       f"'{raw}' is not {_KIND_NAMES[spec.kind]}"))
            out.append(None)
            continue
        message = _check_value(value, spec, lookup)
        if message:  # an invalid value goes no further (e.g. into the duplicate-code query: NUL breaks SQL)
            problems.append(RowProblem(source.file, row, info.zh, message))
            value = None
        elif lookup is not None:
            value = lookup[value.casefold()]
        out.append(value)
    return out


def _check_value(value: Any, spec: FieldSpec, lookup: dict[str, str] | None) -> str | None:
    info = spec.info
    if spec.kind == "text" and _CONTROL_CHARACTERS.search(value):
        return "contains control characters (invisible bytes); remove them"
    if lookup is not None and value.casefold() not in lookup:
        allowed = "、".join(f"{zh}({code})" for code, (zh, _en) in CODELISTS[info.codelist or ""].items())
        return f"'{value}' is not one of: {allowed}"
    if info.digits is not None and not (value.isascii() and value.isdecimal() and len(value) == info.digits):
        return f"'{value}' must be {info.digits} digits"
    if info.minimum is not None and isinstance(value, int | float) and value < info.minimum:
        return f"{value} is below the minimum {info.minimum:g}"
    return None


def _check_codes_free(
    source: SourceTable, codes: list[Any], codes_taken: Callable[[Iterable[str]], set[str]],
    problems: list[RowProblem],
) -> None:
    first_row: dict[str, int] = {}
    for i, code in enumerate(codes):
        if code is None:
            continue
        row = int(source.row_numbers[i])
        if code in first_row:
            problems.append(RowProblem(source.file, row, "code",
                                       f"duplicate code '{code}' (also on row {first_row[code]})"))
        else:
            first_row[code] = row
    for code in sorted(codes_taken(first_row)):
        problems.append(RowProblem(source.file, first_row[code], "code",
                                   f"code '{code}' already exists in the layer (use another code, or replace "
                                   "the layer)"))


def _to_text(raw: Any) -> str:
    # Excel and dBASE hand codes like 510923100201 back as numbers; keep them exact.
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, np.integer | np.floating):
        return _to_text(raw.item())
    if isinstance(raw, datetime | date | pd.Timestamp):
        return raw.isoformat()
    return str(raw).strip()


INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1  # integer columns (ids, counts) are 32-bit in PostgreSQL


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int | np.integer):
        value = int(raw)
    else:
        number = float(str(raw).strip().replace(",", ""))
        if not number.is_integer():
            raise ValueError(raw)
        value = int(number)
    if abs(value) > INT32_MAX:  # what an INTEGER column holds on both databases
        raise ValueError(raw)
    return value


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    number = float(raw) if isinstance(raw, int | float | np.number) else float(str(raw).strip().replace(",", ""))
    if not np.isfinite(number):
        raise ValueError(raw)
    return number


def _to_date(raw: Any) -> date:
    if isinstance(raw, pd.Timestamp | datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip().replace("/", "-").replace(".", "-")
    return date.fromisoformat(text[:10]) if len(text) >= 10 else datetime.strptime(text, "%Y-%m-%d").date()


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "text": _to_text, "int": _to_int, "float": _to_float, "date": _to_date,
}


def convert_value(kind: str, raw: Any) -> Any:
    """Convert ``raw`` to a field of ``kind`` (text, int, float, date); ``ValueError`` if it cannot be,
    including text with control characters (PostgreSQL refuses NUL)."""
    value = _CONVERTERS[kind](raw)
    if kind == "text" and _CONTROL_CHARACTERS.search(value):
        raise ValueError(raw)
    return value
_KIND_NAMES = {"text": "text", "int": "a whole number", "float": "a number", "date": "a date (YYYY-MM-DD)"}


# ---------------------------------------------------------------- geometry


def _check_geometries(
    source: SourceTable, geoms: np.ndarray, expected: str, label: str, required: bool,
    problems: list[RowProblem],
) -> np.ndarray:
    """Check type, validity and location; return geometries in the storage CRS (2D, Multi* promoted)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    geoms[missing] = None
    geoms = shapely.force_2d(geoms)
    geoms = _promote(geoms, expected)
    for i in np.flatnonzero(missing):
        if required:
            problems.append(RowProblem(source.file, int(source.row_numbers[i]), label,
                                       "geometry is missing or empty"))
    present = ~missing
    types = shapely.get_type_id(geoms)
    expected_id = _TYPE_IDS[expected]
    for i in np.flatnonzero(present & (types != expected_id)):
        found = shapely.get_type_id(geoms[i])
        problems.append(RowProblem(source.file, int(source.row_numbers[i]), label,
                                   f"geometry is {_TYPE_NAMES.get(int(found), 'unknown')}, "
                                   f"expected {expected.title()}"))
    invalid = present & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        problems.append(RowProblem(source.file, int(source.row_numbers[i]), label,
                                   f"invalid geometry: {shapely.is_valid_reason(geoms[i])}"))
    crs = source.crs
    assert crs is not None
    stored = transform_geometries(geoms, crs, storage_crs())
    _check_in_china(source, stored, present, label, crs, problems)
    return stored


def _promote(geoms: np.ndarray, expected: str) -> np.ndarray:
    """Polygon → MultiPolygon, LineString → MultiLineString, one-point MultiPoint → Point."""
    for i, geom in enumerate(geoms):
        if geom is None:
            continue
        kind = geom.geom_type
        if expected.startswith("MULTI") and kind in _SINGLE_TO_MULTI and expected == f"MULTI{kind.upper()}":
            geoms[i] = _SINGLE_TO_MULTI[kind]([geom])
        elif expected == "POINT" and kind == "MultiPoint" and len(geom.geoms) == 1:
            geoms[i] = geom.geoms[0]
    return geoms


def _check_in_china(
    source: SourceTable, stored: np.ndarray, present: np.ndarray, label: str, src: CRS,
    problems: list[RowProblem],
) -> None:
    xmin, ymin, xmax, ymax = CHINA_BOUNDS
    bounds = shapely.bounds(stored)
    with np.errstate(invalid="ignore"):
        inside = (bounds[:, 0] >= xmin) & (bounds[:, 2] <= xmax) & (bounds[:, 1] >= ymin) & (bounds[:, 3] <= ymax)
        swapped = (bounds[:, 1] >= xmin) & (bounds[:, 3] <= xmax) & (bounds[:, 0] >= ymin) & (bounds[:, 2] <= ymax)
    for i in np.flatnonzero(present & ~inside):
        x, y = bounds[i, 0], bounds[i, 1]
        if not np.isfinite(x):
            message = f"coordinates cannot be transformed from {src.to_string()}"
        elif swapped[i] and src.is_geographic:
            message = f"latitude and longitude look swapped ({x:.6f}, {y:.6f})"
        else:
            message = f"coordinates ({x:.6f}, {y:.6f}) lie outside China; check the CRS ({src.to_string()})"
        problems.append(RowProblem(source.file, int(source.row_numbers[i]), label, message))


_TYPE_IDS = {"POINT": 0, "LINESTRING": 1, "POLYGON": 3, "MULTIPOINT": 4, "MULTILINESTRING": 5, "MULTIPOLYGON": 6}
_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
