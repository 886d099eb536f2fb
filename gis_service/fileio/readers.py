"""Read a layer file into a :class:`SourceTable`: raw attribute values under field names, geometries in
the file's CRS, and the row number a user would look for. Checking values is validation's job."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis_service.crs import parse_crs
from gis_service.errors import ImportRejectedError, InvalidInputError, RowProblem, UnknownCRSError
from gis_service.fileio.excel import join_long_cells
from gis_service.fileio.formats import (
    CRS_IN_HEADER,
    PROJECTED_HEADERS,
    WKT_HEADERS,
    X_HEADERS,
    Y_HEADERS,
    FileFormat,
    field_lookup,
    is_blank,
)
from gis_service.layers.registry import LayerSpec

# Columns GIS drivers add on their own (KML's description, GeoPackage/shp FIDs): not user data.
DRIVER_COLUMNS = {
    "description", "fid", "ogc_fid", "id", "created_at", "updated_at",
    "timestamp", "begin", "end", "altitudemode", "tessellate", "extrude", "visibility", "draworder", "icon",
}


@dataclass
class SourceTable:
    """A file's rows before validation."""

    file: str
    attributes: pd.DataFrame  # columns are field names; values as the file holds them
    geometries: np.ndarray  # shapely geometries or None, in ``crs``
    crs: CRS | None
    row_numbers: np.ndarray  # spreadsheet line (tables) or feature number (GIS files), 1-based
    extra_geometries: dict[str, np.ndarray] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.attributes)


def read_source(
    path: Path, layer: LayerSpec, fmt: FileFormat, *, src_crs: CRS | None = None,
    encoding: str | None = None,
) -> SourceTable:
    """Read ``path`` as ``fmt`` for ``layer``; ``src_crs`` overrides what the file says."""
    if not path.exists():
        raise InvalidInputError(f"{path}: file not found")
    if fmt.tabular:
        return _read_table(path, layer, fmt, src_crs, encoding)
    return _read_gis(path, layer, fmt, src_crs, encoding)


# ---------------------------------------------------------------- GIS formats


def _pick_gis_layer(path: Path, layer: LayerSpec) -> str | None:
    names = [str(row[0]) for row in pyogrio.list_layers(path)]
    if len(names) <= 1:
        return None
    for candidate in (layer.name, layer.zh, layer.en):
        if candidate in names:
            return candidate
    raise InvalidInputError(
        f"{path.name}: holds layers {', '.join(names)}; none is called '{layer.name}'"
    )


def _read_gis(
    path: Path, layer: LayerSpec, fmt: FileFormat, src_crs: CRS | None, encoding: str | None
) -> SourceTable:
    gis_layer = _pick_gis_layer(path, layer) if fmt in (FileFormat.GPKG, FileFormat.KML) else None
    undeclared = fmt is FileFormat.SHP and encoding is None and not path.with_suffix(".cpg").exists()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(path, layer=gis_layer, encoding=encoding)
        if undeclared:
            _decode_bytes_as(frame, path, "utf-8", hint="the Shapefile has no .cpg saying its encoding")
    except UnicodeDecodeError:
        if fmt is not FileFormat.SHP:
            raise ImportRejectedError(problems=[RowProblem(
                path.name, None, None, "text is not valid UTF-8")]) from None
        raw = _read_dbf_bytes(path)
        _decode_bytes_as(raw, path, encoding or _declared_encoding(path), hint="")  # raises at the bad cell
        raise ImportRejectedError(problems=[RowProblem(path.name, None, None, "text cannot be decoded")]) from None
    except pyogrio.errors.DataSourceError as exc:
        raise InvalidInputError(f"{path.name}: cannot be read as {fmt.value}: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or "geometry" not in frame:
        raise ImportRejectedError(problems=[RowProblem(path.name, None, None, "the file has no geometry")])
    crs = src_crs or (CRS(frame.crs) if frame.crs is not None else None)
    if crs is None:
        raise UnknownCRSError(f"{path.name}: the file has no CRS (no .prj?); pass --src-crs EPSG:xxxx")
    attributes, ignored = _map_columns(frame.drop(columns="geometry"), layer)
    table = SourceTable(
        file=path.name, attributes=attributes, geometries=np.asarray(frame.geometry.values, dtype=object),
        crs=crs, row_numbers=np.arange(1, len(frame) + 1), ignored_columns=ignored,
    )
    _parse_extra_geometries(table, layer)
    if fmt is FileFormat.SHP:
        _read_shapefile_companions(path, table, layer, encoding)
    return table


def _read_dbf_bytes(path: Path) -> pd.DataFrame:
    """The Shapefile's attributes with every text byte kept: read without .cpg, GDAL maps bytes to
    Latin-1 characters one to one, so ``value.encode("latin-1")`` gives the stored bytes back."""
    with tempfile.TemporaryDirectory() as scratch:
        for suffix in (".shp", ".shx", ".dbf"):
            source = path.with_suffix(suffix)
            if source.exists():
                shutil.copy(source, Path(scratch) / f"raw{suffix}")
        return pyogrio.read_dataframe(Path(scratch) / "raw.shp", read_geometry=False)


def _declared_encoding(path: Path) -> str:
    cpg = path.with_suffix(".cpg")
    return cpg.read_text(errors="replace").strip() or "UTF-8" if cpg.exists() else "ISO-8859-1"


def _decode_bytes_as(frame: pd.DataFrame, path: Path, encoding: str, hint: str) -> None:
    """Re-decode Latin-1-mapped text as ``encoding`` in place, or reject naming the first bad cell."""
    for column in frame.columns:
        if column == "geometry" or not pd.api.types.is_string_dtype(frame[column]):
            continue
        decoded = []
        for position, value in enumerate(frame[column]):
            if isinstance(value, str):
                try:
                    value = value.encode("latin-1").decode(encoding)
                except UnicodeDecodeError:
                    why = f"text is not valid {encoding}" + (f" and {hint}" if hint else "")
                    raise ImportRejectedError(problems=[RowProblem(
                        path.name, position + 1, str(column),
                        f"{why}; pass --encoding gbk (or gb18030)")]) from None
            decoded.append(value)
        frame[column] = decoded


def _read_shapefile_companions(path: Path, table: SourceTable, layer: LayerSpec, encoding: str | None) -> None:
    """Extra geometries of a Shapefile export live in ``<stem>_<column>.shp`` keyed by code."""
    for extra in layer.extra_geometries:
        companion = path.with_name(f"{path.stem}_{extra.name}.shp")
        if not companion.exists() or extra.name in table.extra_geometries:
            continue
        frame = pyogrio.read_dataframe(companion, encoding=encoding)
        if frame.crs is not None and table.crs is not None and CRS(frame.crs) != table.crs:
            frame = frame.to_crs(table.crs)
        by_code = dict(zip(frame["code"].astype(str), frame.geometry.values, strict=True))
        codes = table.attributes.get("code", pd.Series([None] * len(table)))
        table.extra_geometries[extra.name] = np.array(
            [by_code.get(str(c)) for c in codes], dtype=object
        )


# ---------------------------------------------------------------- office tables


def _read_table(
    path: Path, layer: LayerSpec, fmt: FileFormat, src_crs: CRS | None, encoding: str | None
) -> SourceTable:
    if fmt is FileFormat.CSV:
        frame, row_numbers = _read_csv(path, encoding)
    else:
        try:
            frame = pd.read_excel(path, sheet_name=0, dtype=object)
        except Exception as exc:  # openpyxl raises many kinds for broken files
            raise InvalidInputError(f"{path.name}: cannot be read as Excel .xlsx: {exc}") from None
        frame = join_long_cells(frame)
        row_numbers = np.arange(2, len(frame) + 2)  # header is line 1
    frame.columns = [str(c).strip() for c in frame.columns]
    x_col, y_col, wkt_col, header_crs = _coordinate_columns(frame.columns)
    crs = src_crs or header_crs
    problems: list[RowProblem] = []
    if x_col and y_col:
        if crs is None:
            if x_col.casefold() in PROJECTED_HEADERS:
                raise UnknownCRSError(
                    f"{path.name}: X/Y columns need a CRS: write it in the header, e.g. "
                    "'北坐标(EPSG:4544)', or pass --src-crs"
                )
            crs = parse_crs(4490)  # longitude/latitude tables are CGCS2000 unless told otherwise
        geometries = _points_from_columns(frame, x_col, y_col, row_numbers, path.name, problems)
    elif wkt_col:
        if crs is None:
            crs = parse_crs(4490)
        geometries = _parse_wkt(frame[wkt_col], row_numbers, path.name, wkt_col, problems)
    else:
        raise ImportRejectedError(problems=[RowProblem(
            path.name, 1, None, "no geometry columns: expected 经度/纬度 (longitude/latitude), "
            "X坐标/Y坐标 or a WKT column")])
    coordinates = {c for c in (x_col, y_col, wkt_col) if c}
    attributes, ignored = _map_columns(frame.drop(columns=list(coordinates)), layer)
    table = SourceTable(path.name, attributes, geometries, crs, row_numbers,
                        ignored_columns=ignored, problems=problems)
    _parse_extra_geometries(table, layer)
    return table


def _read_csv(path: Path, encoding: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of a CSV file as text, with the line each starts on; blank lines are skipped, rows with more
    or fewer fields than the header are rejected."""
    data = path.read_bytes()
    codec = encoding or "utf-8-sig"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejectedError(problems=[RowProblem(
            path.name, line, None, f"text is not valid {codec}; try --encoding gbk (or gb18030)")]) from None
    except LookupError:
        raise InvalidInputError(f"unknown text encoding '{codec}'") from None
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    problems: list[RowProblem] = []
    start = 1
    for record in reader:
        if any(field.strip() for field in record):
            if header is None:
                header = record
            elif len(record) != len(header):
                problems.append(RowProblem(path.name, start, None,
                                           f"{len(record)} fields, but the header has {len(header)}"))
            else:
                rows.append(record)
                lines.append(start)
        start = reader.line_num + 1
    if header is None:
        raise ImportRejectedError(problems=[RowProblem(path.name, None, None, "the file is empty")])
    if problems:
        raise ImportRejectedError(problems=problems)
    return pd.DataFrame(rows, columns=header, dtype=object), np.array(lines, dtype=int)


def _coordinate_columns(columns: pd.Index) -> tuple[str | None, str | None, str | None, CRS | None]:
    x_col = y_col = wkt_col = None
    header_crs: CRS | None = None
    for column in columns:
        match = CRS_IN_HEADER.match(column)
        name = (match.group("name") if match else column).casefold()
        if match and (name in X_HEADERS or name in Y_HEADERS or name in WKT_HEADERS):
            header_crs = parse_crs(match.group("crs"))
        if name in X_HEADERS and x_col is None:
            x_col = column
        elif name in Y_HEADERS and y_col is None:
            y_col = column
        elif name in WKT_HEADERS and wkt_col is None:
            wkt_col = column
    return x_col, y_col, wkt_col, header_crs


def _points_from_columns(
    frame: pd.DataFrame, x_col: str, y_col: str, rows: np.ndarray, file: str, problems: list[RowProblem]
) -> np.ndarray:
    x = pd.to_numeric(frame[x_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame[y_col], errors="coerce").to_numpy(dtype=float)
    for column, values in ((x_col, x), (y_col, y)):
        for i in np.flatnonzero(np.isnan(values)):
            raw = frame[column].iloc[i]
            message = "coordinate missing" if is_blank(raw) else f"coordinate '{raw}' is not a number"
            problems.append(RowProblem(file, int(rows[i]), column, message))
    points = shapely.points(x, y)
    points[np.isnan(x) | np.isnan(y)] = None
    return np.asarray(points, dtype=object)


def _parse_wkt(
    values: pd.Series, rows: np.ndarray, file: str, column: str, problems: list[RowProblem]
) -> np.ndarray:
    result = np.empty(len(values), dtype=object)
    for i, raw in enumerate(values):
        if is_blank(raw):
            continue
        try:
            result[i] = shapely.from_wkt(str(raw))
        except shapely.errors.GEOSException as exc:
            problems.append(RowProblem(file, int(rows[i]), column, f"not valid WKT: {exc}"))
    return result


def _parse_extra_geometries(table: SourceTable, layer: LayerSpec) -> None:
    for extra in layer.extra_geometries:
        if extra.name in table.attributes.columns:
            values = table.attributes.pop(extra.name)
            parsed: list[shapely.Geometry | None] = []
            for i, raw in enumerate(values):
                if is_blank(raw):
                    parsed.append(None)
                elif isinstance(raw, shapely.Geometry):
                    parsed.append(raw)
                else:
                    try:
                        parsed.append(shapely.from_wkt(str(raw)))
                    except shapely.errors.GEOSException as exc:
                        table.problems.append(RowProblem(
                            table.file, int(table.row_numbers[i]), extra.alias(), f"not valid WKT: {exc}"))
                        parsed.append(None)
            table.extra_geometries[extra.name] = np.array(parsed, dtype=object)


# ---------------------------------------------------------------- shared


def _map_columns(frame: pd.DataFrame, layer: LayerSpec) -> tuple[pd.DataFrame, list[str]]:
    """Rename recognised headers to field names; return the rest as ignored (never silently)."""
    lookup = field_lookup(layer)
    renamed: dict[str, str] = {}
    ignored: list[str] = []
    for column in frame.columns:
        target = lookup.get(str(column).strip().casefold())
        if target is None or target in renamed.values():
            if str(column).casefold() not in DRIVER_COLUMNS:
                ignored.append(str(column))
            continue
        renamed[column] = target
    mapped = frame[list(renamed)].rename(columns=renamed).reset_index(drop=True)
    return mapped, ignored
