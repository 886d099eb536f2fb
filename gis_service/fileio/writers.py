"""Write a layer (a GeoDataFrame in the storage CRS, code-list values as codes) to a file."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis_service.crs import epsg_code, parse_crs, transform_geometries
from gis_service.errors import InvalidInputError
from gis_service.fileio.formats import (
    EASTING,
    LATITUDE,
    LONGITUDE,
    NORTHING,
    SHAPEFILE_NAMES,
    WKT,
    FileFormat,
)
from gis_service.layers.codelists import label
from gis_service.layers.registry import LayerSpec

KML_CRS = 4326  # KML is WGS84 longitude/latitude by definition


def write_layer(
    frame: gpd.GeoDataFrame, layer: LayerSpec, fmt: FileFormat, path: Path, *,
    crs: CRS | None = None, encoding: str | None = None, language: str = "zh",
) -> list[Path]:
    """Write ``frame`` to ``path`` as ``fmt`` in ``crs`` (default: the frame's); return the files written.

    GIS formats keep field names and stored codes (machines read them); office tables (CSV, Excel) get
    Chinese or English headers and code-list labels (people read them). Extra geometries such as asset
    footprints travel as WKT text, except in Shapefiles, where they go to ``<stem>_<column>.shp``.
    """
    target = parse_crs(KML_CRS) if fmt is FileFormat.KML else (crs or CRS(frame.crs))
    frame = with_field_types(reproject(frame, layer, target), layer)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt.tabular:
        return [_write_table(frame, layer, fmt, path, target, encoding, language)]
    return _write_gis(frame, layer, fmt, path, encoding)


def with_field_types(frame: gpd.GeoDataFrame, layer: LayerSpec) -> gpd.GeoDataFrame:
    """Integer fields as nullable integers: a column with gaps must not turn into floats (3 → 3.0)."""
    for spec in layer.fields:
        if spec.kind == "int" and spec.name in frame:
            frame[spec.name] = pd.array([None if v is None or pd.isna(v) else int(v) for v in frame[spec.name]],
                                        dtype="Int64")
    return frame


def reproject(frame: gpd.GeoDataFrame, layer: LayerSpec, target: CRS) -> gpd.GeoDataFrame:
    """``frame`` with its geometry and the layer's extra geometry columns in ``target``."""
    source = CRS(frame.crs)
    out = frame.to_crs(target) if source != target else frame.copy()
    for extra in (g for g in layer.extra_geometries if g.name in out):
        out[extra.name] = transform_geometries(out[extra.name].to_numpy(dtype=object), source, target)
    return out


def _extra_as_wkt(frame: gpd.GeoDataFrame, layer: LayerSpec) -> gpd.GeoDataFrame:
    frame = frame.copy()
    for extra in layer.extra_geometries:
        frame[extra.name] = shapely.to_wkt(frame[extra.name].to_numpy(dtype=object), rounding_precision=-1)
    return frame


def _write_gis(
    frame: gpd.GeoDataFrame, layer: LayerSpec, fmt: FileFormat, path: Path, encoding: str | None
) -> list[Path]:
    if fmt is FileFormat.SHP:
        _check_dbf_text(frame, layer, encoding or "GBK")
    if path.exists():
        _remove_dataset(path, fmt)
    written = [path]
    if fmt is FileFormat.SHP:
        written += _write_shapefile_companions(frame, layer, path, encoding)
        encoding = encoding or "GBK"  # what Chinese desktop GIS expects; a .cpg says so
        frame = frame.drop(columns=[g.name for g in layer.extra_geometries])
        frame = frame.rename(columns=SHAPEFILE_NAMES)
    else:
        frame = _extra_as_wkt(frame, layer)
    frame = _dates_as_text(frame, layer) if fmt in (FileFormat.KML, FileFormat.SHP) else frame
    options: dict[str, object] = {}
    if fmt is FileFormat.GPKG:
        options["layer"] = layer.name
    if fmt is FileFormat.GEOJSON and epsg_code(CRS(frame.crs)) == 4326:
        options["RFC7946"] = "YES"
        # RFC 7946 output defaults to 7 decimals (about 1 cm), which can fold parcels that share vertices a few
        # millimetres apart into self-intersections; 9 decimals (0.1 mm) keep every stored coordinate.
        options["COORDINATE_PRECISION"] = 9
    driver = {FileFormat.GPKG: "GPKG", FileFormat.SHP: "ESRI Shapefile",
              FileFormat.GEOJSON: "GeoJSON", FileFormat.KML: "KML"}[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_dataframe(frame, path, driver=driver, encoding=encoding, **options)
    return written


def _write_shapefile_companions(
    frame: gpd.GeoDataFrame, layer: LayerSpec, path: Path, encoding: str | None
) -> list[Path]:
    written = []
    for extra in layer.extra_geometries:
        geoms = frame[extra.name]
        keep = geoms.notna()
        if not keep.any():
            continue
        companion = path.with_name(f"{path.stem}_{extra.name}.shp")
        if companion.exists():
            _remove_dataset(companion, FileFormat.SHP)
        part = gpd.GeoDataFrame({"code": frame.loc[keep, "code"].to_numpy()},
                                geometry=gpd.GeoSeries(geoms[keep].to_numpy(), crs=frame.crs))
        pyogrio.write_dataframe(part, companion, driver="ESRI Shapefile", encoding=encoding or "GBK")
        written.append(companion)
    return written


def _dates_as_text(frame: gpd.GeoDataFrame, layer: LayerSpec) -> gpd.GeoDataFrame:
    frame = frame.copy()
    for spec in layer.fields:
        if spec.kind == "date":
            column = SHAPEFILE_NAMES.get(spec.name, spec.name) if spec.name not in frame else spec.name
            frame[column] = [None if v is None or pd.isna(v) else v.isoformat() for v in frame[column]]
    return frame


SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".shp.xml")
DBF_TEXT_BYTES = 254  # dBASE text fields hold at most 254 bytes; GDAL would cut longer text silently


def _remove_dataset(path: Path, fmt: FileFormat) -> None:
    if fmt is FileFormat.SHP:
        for suffix in SHAPEFILE_PARTS:
            path.with_name(path.stem + suffix).unlink(missing_ok=True)
    else:
        path.unlink()


def _check_dbf_text(frame: gpd.GeoDataFrame, layer: LayerSpec, encoding: str) -> None:
    """Refuse, rather than cut, text a Shapefile cannot hold."""
    too_long = []
    for spec in layer.fields:
        if spec.kind != "text" or spec.name not in frame:
            continue
        for code, value in zip(frame["code"], frame[spec.name], strict=True):
            if isinstance(value, str) and len(value.encode(encoding, errors="replace")) > DBF_TEXT_BYTES:
                too_long.append(f"{code} ({spec.name})")
    if too_long:
        raise InvalidInputError(
            f"text longer than {DBF_TEXT_BYTES} bytes does not fit a Shapefile field: {', '.join(too_long[:20])}; "
            "export as GeoPackage or Excel instead")


# ---------------------------------------------------------------- office tables


def office_table(
    frame: gpd.GeoDataFrame, layer: LayerSpec, crs: CRS, language: str = "zh"
) -> pd.DataFrame:
    """The layer as a clerk reads it: headers in ``language``, labels instead of codes, coordinates in
    columns (longitude/latitude, or X/Y with the CRS in the header) or WKT for lines and polygons."""
    table = pd.DataFrame(index=frame.index)
    for spec in layer.fields:
        if spec.name not in frame:  # a selection of properties (API ?properties=)
            continue
        values = frame[spec.name]
        if spec.info.codelist:
            codelist = spec.info.codelist
            values = values.map(lambda v, c=codelist: None if v is None else label(c, v, language))
        elif spec.kind == "date":
            values = values.map(lambda v: None if v is None or pd.isna(v) else v.isoformat())
        table[spec.alias(language)] = values
    geoms = frame.geometry.to_numpy(dtype=object)
    code = epsg_code(crs)
    if code is None:
        raise InvalidInputError(f"office tables need an EPSG coordinate system, not {crs.to_string()}")
    suffix = "" if code == 4490 else f"(EPSG:{code})"
    if layer.geometry_type == "POINT":
        x_name, y_name = (LONGITUDE, LATITUDE) if crs.is_geographic else (EASTING, NORTHING)
        table[x_name[language] + suffix] = shapely.get_x(geoms)
        table[y_name[language] + suffix] = shapely.get_y(geoms)
    else:
        table[WKT[language] + suffix] = shapely.to_wkt(geoms, rounding_precision=-1)
    for extra in (g for g in layer.extra_geometries if g.name in frame):
        table[extra.alias(language)] = shapely.to_wkt(frame[extra.name].to_numpy(dtype=object),
                                                      rounding_precision=-1)
    return table


def _write_table(
    frame: gpd.GeoDataFrame, layer: LayerSpec, fmt: FileFormat, path: Path, crs: CRS,
    encoding: str | None, language: str,
) -> Path:
    table = office_table(frame, layer, crs, language)
    if fmt is FileFormat.CSV:
        # utf-8-sig: Excel on Windows opens a UTF-8 CSV with Chinese text correctly only with the BOM.
        table.to_csv(path, index=False, encoding=encoding or "utf-8-sig")
        return path
    from gis_service.fileio.excel import write_workbook

    write_workbook(table, layer, path, crs, language)
    return path
