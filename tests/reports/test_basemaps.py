"""Base maps: offline by default; Tianditu with its key; Gaode with every overlay shifted to GCJ-02, the shift
checked against published reference coordinates and in the browser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from gis_service.errors import InvalidInputError
from gis_service.reports import build_reports
from gis_service.reports.basemaps import basemap, wgs84_to_gcj02
from gis_service.reports.data import load_report_data
from tests.reports.conftest import OpenPage

# Published WGS84 → GCJ-02 pairs (lon, lat): the test vectors of wandergis/coordtransform (also used by hutool and
# the Rust port), and of geoToolbox (40 N, 116 E). Tolerance 1e-6 degrees, about 0.1 m.
REFERENCE = [((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
             ((116.0, 40.0), (116.006141221789, 40.001213650174))]


@pytest.mark.parametrize(("wgs84", "gcj02"), REFERENCE)
def test_shift_matches_published_reference_points(wgs84: tuple[float, float], gcj02: tuple[float, float]) -> None:
    assert np.allclose(wgs84_to_gcj02([wgs84])[0], gcj02, atol=1e-6)


def test_shift_in_penglai_is_a_few_hundred_metres() -> None:
    lon, lat = 105.25, 30.60
    shifted = wgs84_to_gcj02([[lon, lat]])[0]
    metres = np.hypot((shifted[0] - lon) * 111_320 * np.cos(np.radians(lat)), (shifted[1] - lat) * 110_574)
    assert 100 < metres < 700


def test_tianditu_needs_its_key_and_unknown_base_maps_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="GIS_TIANDITU_KEY"):
        basemap("tianditu")
    assert "tk=abc123" in basemap("tianditu", tianditu_key="abc123").tiles[0].url
    with pytest.raises(InvalidInputError, match="unknown base map"):
        basemap("google")


def test_gaode_report_shifts_every_overlay_and_asks_gaode_for_tiles(demo_engine: Engine, tmp_path: Path,
                                                                   open_page: OpenPage) -> None:
    build_reports(demo_engine, tmp_path, which=["merger"], basemap=basemap("gaode"))
    villages = load_report_data(demo_engine, ["villages"])["villages"]
    stored = np.asarray(villages.geometry.iloc[0].exterior.coords[0] if villages.geometry.iloc[0].geom_type ==
                        "Polygon" else villages.geometry.iloc[0].geoms[0].exterior.coords[0])
    with open_page((tmp_path / "merger.html").as_uri()) as opened:
        drawn = opened.js("(() => { const g = GisReport.layers.villages.getLayers()[0].feature.geometry;"
                          " return g.type === 'Polygon' ? g.coordinates[0][0] : g.coordinates[0][0][0]; })()")
        assert np.allclose(drawn, wgs84_to_gcj02([stored])[0], atol=2e-6)
        assert not np.allclose(drawn, stored, atol=1e-4)  # really moved, by hundreds of metres
        assert any("autonavi.com" in url for url in opened.refused)  # tiles asked of Gaode (refused: no network)


def test_tianditu_report_keeps_coordinates_and_sends_the_key(demo_engine: Engine, tmp_path: Path,
                                                              open_page: OpenPage) -> None:
    build_reports(demo_engine, tmp_path, which=["merger"], basemap=basemap("tianditu", tianditu_key="k3y"))
    with open_page((tmp_path / "merger.html").as_uri()) as opened:
        assert any("tianditu.gov.cn" in url and "tk=k3y" in url for url in opened.refused)


def test_osm_report_asks_openstreetmap_for_tiles(demo_engine: Engine, tmp_path: Path, open_page: OpenPage) -> None:
    build_reports(demo_engine, tmp_path, which=["merger"], basemap=basemap("osm"))
    with open_page((tmp_path / "merger.html").as_uri()) as opened:
        assert any(url.startswith("https://tile.openstreetmap.org/") for url in opened.refused)
