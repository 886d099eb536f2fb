"""File formats and the column names each one uses for a layer's fields."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pandas as pd

from gis_service.errors import InvalidInputError
from gis_service.layers.registry import LayerSpec


class FileFormat(StrEnum):
    GPKG = "gpkg"
    SHP = "shp"
    GEOJSON = "geojson"
    CSV = "csv"
    KML = "kml"
    XLSX = "xlsx"

    @property
    def tabular(self) -> bool:
        """Office tables: Chinese headers, code-list labels, coordinates in columns."""
        return self in (FileFormat.CSV, FileFormat.XLSX)


_SUFFIXES = {
    ".gpkg": FileFormat.GPKG, ".shp": FileFormat.SHP, ".geojson": FileFormat.GEOJSON,
    ".json": FileFormat.GEOJSON, ".csv": FileFormat.CSV, ".kml": FileFormat.KML,
    ".xlsx": FileFormat.XLSX,
}


def detect_format(path: Path, explicit: str | None = None) -> FileFormat:
    """The format named by ``explicit`` or, failing that, by the file suffix."""
    if explicit:
        try:
            return FileFormat(explicit.lower())
        except ValueError:
            raise InvalidInputError(
                f"unknown format '{explicit}'; use one of {', '.join(f.value for f in FileFormat)}"
            ) from None
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InvalidInputError(
            f"{path.name}: cannot tell the format from the suffix '{path.suffix}'; "
            f"supported: {', '.join(sorted(_SUFFIXES))}"
        ) from None


# Shapefile (dBASE) field names hold at most 10 bytes; longer names get these fixed short forms.
SHAPEFILE_NAMES = {
    "merged_into": "merged_to",
    "dissolved_on": "dissolved",
    "asset_class": "asset_cls",
    "village_code": "vill_code",
    "former_village_code": "fvill_code",
    "original_value": "orig_value",
    "host_asset_code": "host_asset",
    "opening_hours": "open_hours",
    "walk_speed_kmh": "walk_kmh",
    "drive_speed_kmh": "drive_kmh",
    "land_use_code": "lu_code",
    "land_use_name": "lu_name",
}

# Coordinate columns of office tables. A projected CRS is written into the header, e.g. "X坐标(EPSG:4544)".
LONGITUDE = {"zh": "经度", "en": "longitude"}
LATITUDE = {"zh": "纬度", "en": "latitude"}
# Chinese survey practice (and EPSG:4544/4523) calls the northing X and the easting Y; English "x" is east.
# Exports name the direction to leave no doubt.
EASTING = {"zh": "东坐标", "en": "easting"}
NORTHING = {"zh": "北坐标", "en": "northing"}
WKT = {"zh": "几何(WKT)", "en": "geometry (WKT)"}
X_HEADERS = {"经度", "longitude", "lon", "lng", "x", "东坐标", "easting", "y坐标"}
Y_HEADERS = {"纬度", "latitude", "lat", "y", "北坐标", "northing", "x坐标"}
PROJECTED_HEADERS = {"x", "y", "x坐标", "y坐标", "东坐标", "北坐标", "easting", "northing"}
WKT_HEADERS = {"几何(wkt)", "geometry (wkt)", "wkt", "geometry", "geom", "几何"}
CRS_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*[(（](?P<crs>EPSG:\d+)[)）]\s*$", re.IGNORECASE)


def is_missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA: no value at all."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are values
        return False


def is_blank(value: object) -> bool:
    """Missing, or text with nothing but spaces: an empty cell to a clerk."""
    return is_missing(value) or (isinstance(value, str) and not value.strip())


def field_lookup(layer: LayerSpec) -> dict[str, str]:
    """Every accepted header spelling (case-insensitive) mapped to its field or geometry column."""
    lookup: dict[str, str] = {}
    for spec in layer.fields:
        # spec.name[:10] is how GDAL cuts long names when a file was written without our short names.
        for spelling in (spec.name, spec.info.zh, spec.info.en, SHAPEFILE_NAMES.get(spec.name, ""),
                         spec.name[:10]):
            if spelling:
                lookup[spelling.casefold()] = spec.name
    for extra in layer.extra_geometries:
        for spelling in (extra.name, extra.alias("zh"), extra.alias("en"), extra.zh, extra.en):
            lookup[spelling.casefold()] = extra.name
    return lookup
