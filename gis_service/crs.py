"""Coordinate reference systems: parsing user input and moving geometries between CRSs.

Storage is EPSG:4490 (CGCS2000 geographic); analysis is EPSG:4544 (CGCS2000 3-degree Gauss-Kruger,
central meridian 105°E). Transformers always use x=longitude/easting, y=latitude/northing order.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

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
    elif value.isascii() and value.isdecimal():
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


def transformer(src: CRS, dst: CRS) -> Transformer:
    """A cached lon/lat-ordered transformer (keyed by the CRS's definition string: hashing or comparing
    pyproj CRS objects exports WKT each time, about 1 ms, which dominated small API responses)."""
    return _transformer(src.srs, dst.srs)


# pyproj gives every thread its own PROJ object per transformer, built on first use in that thread from
# proj.db (~0.3 s each). With the API's 40 worker threads that made a cold server stall for many seconds (32
# clients, seen with py-spy: every thread inside PROJ). So all PROJ work runs on one thread: each transformer
# is built once, and a transform costs one hand-off (~50 µs), as shapely passes all coordinates in one call.
_ON_PROJ_THREAD = threading.local()
_PROJ_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gis-proj",
                                  initializer=lambda: setattr(_ON_PROJ_THREAD, "here", True))
_T = TypeVar("_T")


def _on_proj_thread(function: Callable[..., _T], *args: Any) -> _T:
    if getattr(_ON_PROJ_THREAD, "here", False):
        return function(*args)
    return _PROJ_THREAD.submit(function, *args).result()


_TRANSFORMERS: dict[tuple[str, str], Transformer] = {}
_CREATING = threading.Lock()


def _transformer(src: str, dst: str) -> Transformer:
    """One transformer per CRS pair, built once even when many threads ask at the same time (building one
    can take seconds while PROJ searches its database)."""
    found = _TRANSFORMERS.get((src, dst))
    if found is None:
        with _CREATING:
            found = _TRANSFORMERS.get((src, dst))
            if found is None:
                found = _on_proj_thread(lambda: Transformer.from_crs(src, dst, always_xy=True))
                _TRANSFORMERS[(src, dst)] = found
    return found


def warm_up() -> None:
    """Build the transformers the API and analyses use, so no request waits for PROJ."""
    storage = storage_crs().srs
    for code in (ANALYSIS_EPSG, *SUPPORTED_EPSG, 3857):
        other = parse_crs(code).srs
        if other != storage and not _is_noop(storage, other):
            _transformer(storage, other)
            _transformer(other, storage)


def transform_geometries(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """Reproject an array of shapely geometries (``None`` passes through)."""
    if src.srs == dst.srs or _is_noop(src.srs, dst.srs):
        return geoms
    tr = transformer(src, dst)

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(_on_proj_thread(tr.transform, xy[:, 0], xy[:, 1]))

    return shapely.transform(geoms, project)


# CGCS2000 and WGS 84 lon/lat differ by centimetres, and PROJ transforms between them with a "ballpark"
# no-op anyway (finding that out takes it up to 4 s per pair).
_SAME_LON_LAT = frozenset({"EPSG:4490", "EPSG:4326", "OGC:CRS84"})


def _is_noop(src: str, dst: str) -> bool:
    return src in _SAME_LON_LAT and dst in _SAME_LON_LAT


def storage_crs() -> CRS:
    return parse_crs(STORAGE_EPSG)


def analysis_crs() -> CRS:
    return parse_crs(ANALYSIS_EPSG)


def north_first(crs: CRS) -> bool:
    """Whether the CRS's first axis points north (EPSG:4326/4490 latitude, EPSG:4544 northing).

    OGC API Features Part 2 serves coordinates in the CRS's own axis order; only CRS84 is always lon/lat.
    """
    return bool(crs.axis_info) and crs.axis_info[0].direction.lower() in ("north", "south")


def output_geometries(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Geometries from storage into ``crs``, in that CRS's axis order (lat/lon for EPSG:4326/4490,
    northing/easting for EPSG:4544; lon/lat only for CRS84), as OGC API Features Part 2 requires."""
    out = transform_geometries(geoms, storage_crs(), crs)
    if north_first(crs):
        out = shapely.transform(out, lambda xy: xy[:, ::-1])
    return out


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
    return transform_bounds(bbox, crs, target)


def transform_bounds(bbox: tuple[float, float, float, float], src: CRS, dst: CRS) -> tuple[float, float, float, float]:
    """The smallest box in ``dst`` around ``bbox`` given in ``src`` (x/east first in both), edges densified."""
    if src.srs == dst.srs or _is_noop(src.srs, dst.srs):
        return bbox
    tr = transformer(src, dst)
    return _on_proj_thread(lambda: tr.transform_bounds(*bbox, densify_pts=21))
