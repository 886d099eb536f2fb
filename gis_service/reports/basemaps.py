"""Base maps of the reports: none (the offline default), 天地图 Tianditu, 高德 Gaode, or OpenStreetMap.

Tianditu and OpenStreetMap tiles are drawn in CGCS2000/WGS84 (within centimetres of the data), so the layers go on
them as stored. Gaode tiles are in GCJ-02, the offset coordinates Chinese web maps must use: on a Gaode base map
every geometry of the report is shifted from WGS84 to GCJ-02 (a few hundred metres here) so that they line up.
The shift uses ``prcoords`` (public-domain implementation of the published GCJ-02 formula); the analyses never see
shifted coordinates, only the drawing does.

The base map of the report being built is held in a context variable (:func:`using`), set once by the builder,
so that every helper that writes coordinates (``features.rounded``, ``bounds_latlon``) and the tile layer agree
without passing it through every function.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import prcoords

from gis_service.errors import InvalidInputError

BASEMAPS = ("none", "tianditu", "gaode", "osm")


@dataclass(frozen=True)
class TileSource:
    """One tile layer: its URL template, subdomains, attribution and name (zh, en)."""

    url: str
    subdomains: str
    attribution: str
    zh: str
    en: str
    overlay: bool = False


@dataclass(frozen=True)
class Basemap:
    """A base map choice: its tile layers (none offline) and whether overlays are shifted to GCJ-02."""

    name: str
    tiles: tuple[TileSource, ...] = ()
    gcj02: bool = False


_TIANDITU = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
             "&TILECOL={{x}}&tk={key}")


def basemap(name: str, *, tianditu_key: str | None = None, language: str = "zh") -> Basemap:
    """The base map called ``name`` (see :data:`BASEMAPS`); Tianditu needs its key (``GIS_TIANDITU_KEY``)."""
    if name == "none":
        return Basemap("none")
    if name == "osm":
        return Basemap("osm", (TileSource("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "",
                                          "© OpenStreetMap contributors", "OpenStreetMap", "OpenStreetMap"),))
    if name == "gaode":
        url = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
        return Basemap("gaode", (TileSource(url, "1234", "© 高德地图 AutoNavi", "高德地图", "Gaode map"),), gcj02=True)
    if name == "tianditu":
        if not tianditu_key:
            raise InvalidInputError("the Tianditu base map needs a key: set GIS_TIANDITU_KEY (天地图需要密钥 tk)")
        labels = "cva" if language == "zh" else "eva"
        return Basemap("tianditu", (
            TileSource(_TIANDITU.format(layer="vec", key=tianditu_key), "01234567", "© 天地图 Tianditu", "天地图",
                       "Tianditu"),
            TileSource(_TIANDITU.format(layer=labels, key=tianditu_key), "01234567", "© 天地图 Tianditu", "天地图注记",
                       "Tianditu labels", overlay=True)))
    raise InvalidInputError(f"unknown base map '{name}'; use one of {', '.join(BASEMAPS)}")


OFFLINE = Basemap("none")
_current: ContextVar[Basemap] = ContextVar("report_basemap", default=OFFLINE)


@contextmanager
def using(choice: Basemap) -> Iterator[Basemap]:
    """Build a report on ``choice``: coordinates written while inside are shifted when it needs GCJ-02."""
    token = _current.set(choice)
    try:
        yield choice
    finally:
        _current.reset(token)


def current() -> Basemap:
    """The base map of the report being built (offline when none was set)."""
    return _current.get()


def wgs84_to_gcj02(lonlat: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(n, 2) longitude/latitude (WGS84 or CGCS2000) shifted to GCJ-02; points outside China are left as they are
    (the formula is defined only inside China)."""
    xy = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    out = np.empty_like(xy)
    for i, (lon, lat) in enumerate(xy):
        shifted = prcoords.wgs_gcj(prcoords.Coords(lat, lon), True)
        out[i] = (shifted.lon, shifted.lat)
    return out


def display_xy(lonlat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Coordinates as the current base map draws them (GCJ-02 on Gaode, unchanged otherwise)."""
    return wgs84_to_gcj02(lonlat) if current().gcj02 and len(lonlat) else lonlat
