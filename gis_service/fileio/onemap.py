"""The planning "one map" (国土空间规划一张图) as the office receives and submits it: files ↔ planning zones.

Reading: a GeoPackage, a folder or .zip of Shapefiles, or one Shapefile. Layers are recognised by their
conventional names (the name, or its start: ``DLTB_510923`` is DLTB):

================  ==========================  =========================================================
layer             meaning                     zone type
================  ==========================  =========================================================
YJJBNTBHTB        永久基本农田保护图斑        ``permanent_farmland``
STBHHX            生态保护红线                ``ecological_redline``
CZKFBJ            城镇开发边界                ``development_boundary``
DLTB              地类图斑 (land parcels)     from 分区类型 FQLX when given, else from the land-use code
planning_zones    this service's own export   its ``zone_type`` column
================  ==========================  =========================================================

A parcel's land-use code (DLBM) is read as the 2023 classification (用地用海分类): 01 → ``general_farmland``,
03 → ``forest``, 17 → ``water``, 07–14 (construction land) → ``village_construction``, anything else →
``other``. Fields: BSM (标识码, else TBBH 图斑编号) → ``code`` (``<LAYER>-<row>`` when a file has neither),
DLBM/DLMC → land-use code and name, MC/HXMC → name, GHMC → plan name; this service's own field names and
Chinese aliases are accepted too. Values are checked by the layer validation (file, row and field of every
problem), with the file named ``<file>:<layer>`` for GeoPackages.

Writing (:func:`write_package`): a GeoPackage in EPSG:4544 with the four conventional layers, whose fields
carry Chinese aliases in ``gpkg_data_columns``; the same as Shapefiles (GBK, with .cpg and .prj); and a
metadata workbook.
"""

from __future__ import annotations

import sqlite3
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis_service.crs import epsg_code, parse_crs
from gis_service.errors import ImportRejectedError, InvalidInputError, PayloadTooLargeError, RowProblem
from gis_service.fileio.excel import no_formulas
from gis_service.fileio.readers import DRIVER_COLUMNS, SourceTable
from gis_service.layers.codelists import label

EXPORT_EPSG = 4544  # CGCS2000 / 3-degree Gauss-Kruger CM 105E: the county's projected CRS
CONTROL_LAYERS = {"YJJBNTBHTB": "permanent_farmland", "STBHHX": "ecological_redline", "CZKFBJ": "development_boundary"}
PARCELS = "DLTB"
OWN_LAYER = "planning_zones"
LAYER_TITLES = {"YJJBNTBHTB": ("永久基本农田保护图斑", "permanent basic farmland"),
                "STBHHX": ("生态保护红线", "ecological red line"),
                "CZKFBJ": ("城镇开发边界", "town development boundary"),
                "DLTB": ("地类图斑", "land-use parcels")}
EXPORT_LAYERS = (*CONTROL_LAYERS, PARCELS)
# Accepted spellings (case-insensitive) of each planning_zones field, conventional names first.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "code": ("BSM", "TBBH", "code", "标识码", "图斑编号", "图斑编码", "zone code"),
    "name": ("MC", "HXMC", "BJMC", "name", "名称"),
    "zone_type": ("FQLX", "zone_type", "分区类型", "zone type"),
    "land_use_code": ("DLBM", "YDYHFLDM", "land_use_code", "地类编码", "用地用海分类代码", "land-use code"),
    "land_use_name": ("DLMC", "YDYHFLMC", "land_use_name", "地类名称", "用地用海分类名称", "land-use name"),
    "plan_name": ("GHMC", "plan_name", "规划名称", "plan"),
}
# Land-use code (first two digits, 2023 classification) → zone type of a parcel.
PARCEL_ZONE_TYPES = {"01": "general_farmland", "03": "forest", "17": "water",
                     **{code: "village_construction" for code in ("07", "08", "09", "10", "11", "12", "13", "14")}}
# Export fields: (name, source column, Chinese alias); the parcel layers' area is TBMJ (图斑面积), the lines' MJ.
EXPORT_FIELDS = (("BSM", "code", "标识码"), ("MC", "name", "名称"), ("DLBM", "land_use_code", "地类编码"),
                 ("DLMC", "land_use_name", "地类名称"), ("FQLX", "zone_type", "分区类型"),
                 ("GHMC", "plan_name", "规划名称"))
NATIONAL_ENCODING = "GBK"
# Limits on a received .zip, checked before it is unpacked. Real packages compress a few times (a DBF with
# wide, mostly blank text fields a few hundred times at most); deflate bombs reach a thousand to one.
MAX_UNPACKED_BYTES = 4 * 2**30
MAX_MEMBERS = 2_000
MAX_RATIO = 500
RATIO_CHECKED_FROM = 2**20  # small members cannot do harm whatever their ratio


def layer_kind(name: str) -> str | None:
    """The conventional layer a layer or file name stands for (``None``: not a planning layer)."""
    upper = name.upper()
    for kind in (*CONTROL_LAYERS, PARCELS):
        if upper == kind or upper.startswith(kind + "_"):
            return kind
    return OWN_LAYER if name.lower() == OWN_LAYER else None


def parcel_zone_type(land_use_code: object) -> str:
    """The zone type of a land-use parcel from its code (see the module's table)."""
    text = str(land_use_code).strip() if isinstance(land_use_code, str | int) else ""
    return PARCEL_ZONE_TYPES.get(text[:2], "other")


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class PlanningSource:
    """One recognised layer of a received dataset, read for the ``planning_zones`` validation."""

    kind: str
    table: SourceTable


@contextmanager
def opened(path: Path, max_unpacked: int = MAX_UNPACKED_BYTES) -> Iterator[list[Path]]:
    """The GIS files of ``path`` (a .gpkg, a .shp, a folder or a .zip of them), unpacked while in use.

    A .zip is checked before anything is unpacked (:func:`check_members`): at most ``max_unpacked`` bytes in
    all, no member compressed suspiciously well, none encrypted or outside the archive.
    """
    if not path.exists():
        raise InvalidInputError(f"{path}: file not found")
    if path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="onemap-") as scratch:
            try:
                with zipfile.ZipFile(path) as archive:
                    check_members(archive, path.name, Path(scratch), max_unpacked)
                    archive.extractall(scratch)
            except (zipfile.BadZipFile, NotImplementedError, EOFError) as exc:
                # A member whose data disagree with its declared size fails its CRC here (zipfile stops at
                # the declared size), so the checked total holds for what is really written.
                raise InvalidInputError(f"{path.name}: not a valid .zip file ({exc})") from None
            yield _gis_files(Path(scratch))
        return
    yield _gis_files(path) if path.is_dir() else [path]


def check_members(archive: zipfile.ZipFile, name: str, target: Path, max_unpacked: int) -> None:
    """Refuse a .zip before unpacking it into ``target``: a member outside it or encrypted
    (:class:`InvalidInputError`), more than :data:`MAX_MEMBERS` members or one compressed more than
    :data:`MAX_RATIO` to 1 (:class:`ImportRejectedError`, a zip bomb's mark), more than ``max_unpacked`` bytes in
    all (:class:`PayloadTooLargeError`). Sizes are the ones the archive declares."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ImportRejectedError(problems=[RowProblem(name, None, None, f"holds {len(members):,} files; at most "
                                                       f"{MAX_MEMBERS:,} are accepted")])
    root = target.resolve()
    for member in members:
        if not (target / member.filename).resolve().is_relative_to(root):  # a "../" name must not write outside
            raise InvalidInputError(f"the .zip holds a path outside itself: {member.filename}")
        if member.flag_bits & 0x1:
            raise InvalidInputError(f"{name}: {member.filename} is encrypted; send it without a password")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_CHECKED_FROM and ratio > MAX_RATIO:
            raise ImportRejectedError(problems=[RowProblem(
                f"{name}:{member.filename}", None, None, f"unpacks to {member.file_size / 2**20:,.0f} MB from "
                f"{member.compress_size:,} bytes ({ratio:,.0f} to 1): refused as a possible zip bomb")])
    total = sum(member.file_size for member in members)
    if total > max_unpacked:
        raise PayloadTooLargeError(f"{name} unpacks to {total / 2**20:,.1f} MB, more than the "
                                   f"{max_unpacked / 2**20:,.1f} MB accepted (解压后超过大小限制); "
                                   "nothing was imported")


def _gis_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".gpkg", ".shp"))
    if not files:
        raise InvalidInputError(f"{folder.name}: holds no GeoPackage or Shapefile")
    return files


def read_planning(files: list[Path]) -> tuple[list[PlanningSource], list[str]]:
    """Every recognised planning layer of ``files``, and the names of the layers left out."""
    sources: list[PlanningSource] = []
    ignored: list[str] = []
    for file in files:
        layers = [str(row[0]) for row in pyogrio.list_layers(file)] if file.suffix.lower() == ".gpkg" else [None]
        for layer in layers:
            name = layer if layer is not None else file.stem
            kind = layer_kind(name)
            label_ = f"{file.name}:{layer}" if layer is not None else file.name
            if kind is None:
                ignored.append(label_)
                continue
            sources.append(PlanningSource(kind, _read_layer(file, layer, kind, label_)))
    if not sources:
        raise ImportRejectedError(problems=[RowProblem(
            files[0].name, None, None, "no planning layer found: expected YJJBNTBHTB, STBHHX, CZKFBJ or DLTB "
            f"(found {', '.join(ignored) or 'nothing'})")])
    return sources, ignored


def _read_layer(file: Path, layer: str | None, kind: str, label_: str) -> SourceTable:
    # National survey and control-line Shapefiles (三调, 三区三线) are written by Chinese desktop GIS in the
    # system code page, GBK, and often come without a .cpg: read them as GBK unless a .cpg says otherwise.
    encoding = NATIONAL_ENCODING if file.suffix.lower() == ".shp" and not file.with_suffix(".cpg").exists() else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(file, layer=layer, encoding=encoding)
    except UnicodeDecodeError:
        raise ImportRejectedError(problems=[RowProblem(label_, None, None, f"text is not valid "
                                                       f"{encoding or 'in the encoding its .cpg names'}")]) from None
    except pyogrio.errors.DataSourceError as exc:
        raise InvalidInputError(f"{label_}: cannot be read: {exc}") from None
    if frame.crs is None:
        raise ImportRejectedError(problems=[RowProblem(label_, None, None, "no CRS (a Shapefile needs its .prj); "
                                                       "expected EPSG:4490, 4544, 4523 or 4326")])
    attributes = _attributes(frame.drop(columns="geometry"), kind)
    return SourceTable(label_, attributes, np.asarray(frame.geometry.values, dtype=object), CRS(frame.crs),
                       np.arange(1, len(frame) + 1), ignored_columns=[])


def _attributes(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    by_spelling = {str(c).strip().casefold(): c for c in frame.columns if str(c).casefold() not in DRIVER_COLUMNS}
    out = pd.DataFrame(index=range(len(frame)))
    for field, spellings in FIELD_NAMES.items():
        column = next((by_spelling[s.casefold()] for s in spellings if s.casefold() in by_spelling), None)
        if column is not None:
            out[field] = frame[column].astype(object).to_numpy()
    if "code" not in out:
        out["code"] = [f"{kind}-{i:05d}" for i in range(1, len(frame) + 1)]
    else:  # numbers (BSM is often an integer field) become text; a missing one is left for validation
        out["code"] = [str(int(v)) if isinstance(v, float | np.floating) and float(v).is_integer() else
                       (None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for v in out["code"]]
    if kind in CONTROL_LAYERS:
        out["zone_type"] = CONTROL_LAYERS[kind]
    elif kind == PARCELS and "zone_type" not in out:
        codes = out["land_use_code"] if "land_use_code" in out else pd.Series([None] * len(frame))
        out["zone_type"] = [parcel_zone_type(c) for c in codes]
    return out


# ---------------------------------------------------------------- writing


def split_layers(zones: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Planning zones (with ``zone_type``) → the four conventional layers with their export fields, EPSG:4544."""
    projected = zones.to_crs(EXPORT_EPSG)
    kinds = projected["zone_type"].map({v: k for k, v in CONTROL_LAYERS.items()}).fillna(PARCELS)
    layers = {}
    for kind in EXPORT_LAYERS:
        part = projected[(kinds == kind).to_numpy()]
        columns = {name: [_text(v) for v in part[source]] for name, source, _ in EXPORT_FIELDS}
        columns["FQLX"] = [label("zone_type", t) if t else None for t in columns["FQLX"]]
        columns[_area_field(kind)] = np.round(shapely.area(part.geometry.to_numpy(dtype=object)), 2).tolist()
        layers[kind] = gpd.GeoDataFrame({k: pd.Series(v, dtype=object if k != _area_field(kind) else float)
                                         for k, v in columns.items()},
                                        geometry=gpd.GeoSeries(part.geometry.to_numpy(dtype=object),
                                                               crs=EXPORT_EPSG))
    return layers


def _area_field(kind: str) -> str:
    return "TBMJ" if kind in ("YJJBNTBHTB", PARCELS) else "MJ"


def field_aliases(kind: str) -> dict[str, str]:
    """Export field → Chinese alias for layer ``kind``."""
    return {**{name: alias for name, _, alias in EXPORT_FIELDS},
            _area_field(kind): "图斑面积(平方米)" if _area_field(kind) == "TBMJ" else "面积(平方米)"}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def write_package(zones: gpd.GeoDataFrame, folder: Path, *, source: str) -> list[Path]:
    """Write the submission package into ``folder``: ``onemap_4544.gpkg``, ``shp/<LAYER>.shp`` (GBK) and
    ``metadata.xlsx``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    layers = split_layers(zones)
    gpkg = folder / f"onemap_{EXPORT_EPSG}.gpkg"
    gpkg.unlink(missing_ok=True)
    written = [gpkg]
    shp_folder = folder / "shp"
    shp_folder.mkdir(exist_ok=True)
    for kind, frame in layers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            # GeoPackage 1.2: the version GDAL 3.6 (Debian's ogrinfo/QGIS) reads without a warning.
            pyogrio.write_dataframe(frame, gpkg, layer=kind, driver="GPKG", geometry_type="MultiPolygon",
                                    dataset_options={"VERSION": "1.2"}, append=gpkg.exists())
            shp = shp_folder / f"{kind}.shp"
            for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                shp.with_suffix(suffix).unlink(missing_ok=True)
            pyogrio.write_dataframe(frame, shp, driver="ESRI Shapefile", geometry_type="MultiPolygon",
                                    encoding=NATIONAL_ENCODING)
        written += [shp.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
    write_aliases(gpkg, {kind: field_aliases(kind) for kind in layers})
    metadata = folder / "metadata.xlsx"
    write_metadata(metadata, layers, source)
    return [*written, metadata]


def write_aliases(gpkg: Path, aliases: dict[str, dict[str, str]]) -> None:
    """Record Chinese field aliases in the GeoPackage schema extension (``gpkg_data_columns``).

    pyogrio (0.13) has no way to set a field's alternative name, so they are written with sqlite3: ``name`` is
    what GDAL ≥ 3.7 and QGIS show as the alias (GDAL 3.6 ignores it), ``title`` the same, ``description`` adds
    the field name.
    """
    with sqlite3.connect(gpkg) as db:
        db.execute("CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT "
                   "NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
                   "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), "
                   "CONSTRAINT gdc_tn UNIQUE (table_name, name))")
        db.execute("DELETE FROM gpkg_extensions WHERE table_name = 'gpkg_data_columns'")
        db.execute("INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) VALUES "
                   "('gpkg_data_columns', NULL, 'gpkg_schema', 'http://www.geopackage.org/spec121/#extension_schema',"
                   " 'read-write')")
        for table, fields in aliases.items():
            for column, alias in fields.items():
                db.execute("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, "
                           "description) VALUES (?, ?, ?, ?, ?)", (table, column, alias, alias, f"{alias} {column}"))


def write_metadata(path: Path, layers: dict[str, gpd.GeoDataFrame], source: str) -> None:
    """The metadata sheet: per layer its features, CRS, fields with Chinese names, source and export time."""
    crs = parse_crs(EXPORT_EPSG)
    exported = datetime.now().astimezone().isoformat(timespec="seconds")
    rows = [{"图层 layer": kind, "名称 title": LAYER_TITLES[kind][0], "要素数 features": len(frame),
             "坐标系 CRS": f"EPSG:{epsg_code(crs)} {crs.name}",
             "字段 fields": ";".join(f"{name} {alias}" for name, alias in field_aliases(kind).items()),
             "字符编码 encoding": f"GeoPackage UTF-8; Shapefile {NATIONAL_ENCODING}",
             "来源 source": source, "导出时间 exported": exported} for kind, frame in layers.items()]
    fields = [{"图层 layer": kind, "字段 field": name, "中文名 alias": alias,
               "类型 type": "Real" if name in ("TBMJ", "MJ") else "String"}
              for kind in layers for name, alias in field_aliases(kind).items()]
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame(rows).to_excel(writer, sheet_name="元数据", index=False)
        pd.DataFrame(fields).to_excel(writer, sheet_name="字段", index=False)
        for sheet in writer.sheets.values():  # the source holds plan names as received: text, never formulas
            for cells in sheet.iter_rows(min_row=2):
                no_formulas(cells)
