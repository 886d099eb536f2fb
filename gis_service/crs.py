"""Coordinate reference systems: parsing user input and moving geometries between CRSs.

Storage is EPSG:4490 (CGCS2000 geographic); analysis is EPSG:4544 (CGCS2000 3-degree Gauss-Kruger,
central meridian 105°E). Transformers always use x=longitude/easting, y=latitude/northing order.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis_service.errors import UnknownCRSError

STORAGE_EPSG = 4490
ANALYSIS_EPSG = 4544
SUPPORTED_EPSG = (4326, 4490, 4544, 4523)

# Mainland China, Hainan and the South China Sea islands, with a margin: anything outside is an error.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)

_OGC_URI = re.compile(r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[^/]+/([\w.]+)$", re.IGNORECASE)
_URN = re.compile(r"^urn:ogc:def:crs:(EPSG|OGC):[^:]*:([\w.]+)$", re.IGNORECASE)


@cache
def parse_crs(text: str | int) -> CRS:
    """A CRS from ``EPSG:4544``, ``4544``, an OGC URI/URN, or ``CRS84``.

    Raises
    ------
    UnknownCRSError
        When pyproj does not know the CRS.
    """
    value = str(text).strip()
    match = _OGC_URI.match(value) or _URN.match(value)
    if match:
        authority, code = match.group(1).upper(), match.group(2)
        value = "OGC:CRS84" if code.upper() == "CRS84" else f"{authority}:{code}"
    elif value.isdigit():
        value = f"EPSG:{value}"
    elif value.upper() == "CRS84":
        value = "OGC:CRS84"
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise UnknownCRSError(f"unknown coordinate reference system '{text}'") from None


def epsg_code(crs: CRS) -> int | None:
    """EPSG code of ``crs`` (CRS84 counts as 4326), or ``None``."""
    return 4326 if _is_crs84(crs) else crs.to_epsg()


def _is_crs84(crs: CRS) -> bool:
    return crs.to_string().upper() in ("OGC:CRS84", "CRS84")


@cache
def transformer(src: CRS, dst: CRS) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_geometries(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """Reproject an array of shapely geometries (``None`` passes through)."""
    if src == dst:
        return geoms
    tr = transformer(src, dst)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def storage_crs() -> CRS:
    return parse_crs(STORAGE_EPSG)


def analysis_crs() -> CRS:
    return parse_crs(ANALYSIS_EPSG)


def north_first(crs: CRS) -> bool:
    """Whether the CRS's first axis points north (EPSG:4326/4490 latitude, EPSG:4544 northing).

    OGC API Features Part 2 serves coordinates in the CRS's own axis order; only CRS84 is always lon/lat.
    """
    return bool(crs.axis_info) and crs.axis_info[0].direction.lower() in ("north", "south")


def ogc_uri(crs: CRS) -> str:
    """The OGC URI of an EPSG CRS (CRS84 for OGC:CRS84)."""
    if _is_crs84(crs):
        return CRS84_URI
    return f"http://www.opengis.net/def/crs/EPSG/0/{crs.to_epsg()}"


CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
API_CRS = (CRS84_URI, *(f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in SUPPORTED_EPSG))


def bbox_to_storage(bbox: tuple[float, float, float, float], crs: CRS) -> tuple[float, float, float, float]:
    """A bbox given in ``crs`` (x=lon/east first, as OGC bbox parameters are) as lon/lat in EPSG:4490.

    The transformed box is densified, so a projected bbox becomes the smallest lon/lat box around it.
    """
    target = storage_crs()
    if crs == target or epsg_code(crs) in (4326, 4490):
        return bbox
    return transformer(crs, target).transform_bounds(*bbox, densify_pts=21)
