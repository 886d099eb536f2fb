from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis_service.crs import epsg_code, parse_crs, transform_geometries
from gis_service.errors import UnknownCRSError


@pytest.mark.parametrize(
    ("text", "epsg"),
    [("EPSG:4490", 4490), ("4544", 4544), (4523, 4523), ("http://www.opengis.net/def/crs/EPSG/0/4544", 4544),
     ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326), ("urn:ogc:def:crs:EPSG::4490", 4490), ("CRS84", 4326)],
)
def test_parse_crs(text: str | int, epsg: int) -> None:
    assert epsg_code(parse_crs(text)) == epsg


@pytest.mark.parametrize("text", ["EPSG:999999", "not a crs", ""])
def test_unknown_crs(text: str) -> None:
    with pytest.raises(UnknownCRSError):
        parse_crs(text)


def test_gauss_kruger_forms_agree_and_keep_lon_lat_order() -> None:
    point = np.array([shapely.Point(105.25, 30.59)], dtype=object)
    gk = transform_geometries(point, parse_crs(4490), parse_crs(4544))[0]
    zoned = transform_geometries(point, parse_crs(4490), parse_crs(4523))[0]
    assert 520_000 < gk.x < 530_000 and 3_380_000 < gk.y < 3_390_000  # easting near the 105°E meridian
    assert zoned.x == pytest.approx(gk.x + 35_000_000)
    back = transform_geometries(np.array([gk], dtype=object), parse_crs(4544), parse_crs(4490))[0]
    assert back.x == pytest.approx(105.25, abs=1e-9) and back.y == pytest.approx(30.59, abs=1e-9)
