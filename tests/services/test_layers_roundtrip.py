"""Every layer of the demo town survives every file format, on both backends: geometry within 1 cm,
attributes (Chinese text included) intact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest

from gis_service.layers.registry import LAYER_ORDER, get_layer
from gis_service.services.demo import load_demo
from gis_service.services.layers import LayerService
from tests.conftest import BACKENDS, DEMO_DIR, make_engine
from tests.support import assert_same_layer

# (format, output CRS, encoding): each format in its everyday form, plus the projected CRSs and encodings
# offices send (GBK Shapefiles in 3-degree Gauss-Kruger, Excel in EPSG:4544).
FORMATS = [
    ("gpkg", None, None),
    ("gpkg", "EPSG:4544", None),
    ("shp", None, None),
    ("shp", "EPSG:4523", "gb18030"),
    ("shp", "EPSG:4326", "utf-8"),
    ("geojson", None, None),
    ("geojson", "EPSG:4326", None),
    ("csv", None, None),
    ("csv", "EPSG:4544", "gbk"),
    ("xlsx", None, None),
    ("xlsx", "EPSG:4544", None),
    ("kml", None, None),
]


@dataclass
class Exported:
    backend: str
    originals: dict[str, gpd.GeoDataFrame]
    files: dict[tuple[str, int], Path]


@pytest.fixture(scope="module", params=BACKENDS)
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The demo town loaded once per backend, then written out in every format."""
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"roundtrip-{backend}")
    engine = make_engine(backend, request, directory)
    load_demo(engine, DEMO_DIR)
    service = LayerService(engine)
    originals = {name: service.read(name) for name in LAYER_ORDER}
    files = {}
    for name in LAYER_ORDER:
        for index, (fmt, crs, encoding) in enumerate(FORMATS):
            out = directory / f"{name}-{index}" / f"{name}.{fmt}"
            files[(name, index)] = service.export(name, fmt, out, crs=crs, encoding=encoding)[0]
    engine.dispose()
    return Exported(backend, originals, files)


@pytest.mark.parametrize("layer_name", LAYER_ORDER)
@pytest.mark.parametrize("format_index", range(len(FORMATS)),
                         ids=[f"{f}-{c or 'EPSG:4490'}-{e or 'default'}" for f, c, e in FORMATS])
def test_every_layer_round_trips(
    exported: Exported, layer_name: str, format_index: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fmt, _crs, encoding = FORMATS[format_index]
    engine = make_engine(exported.backend, request, tmp_path)
    service = LayerService(engine)
    report = service.import_file(exported.files[(layer_name, format_index)], layer_name, encoding=encoding)
    original = exported.originals[layer_name]
    assert report.imported == len(original) > 0
    assert report.ignored_columns == []
    assert_same_layer(get_layer(layer_name), original, service.read(layer_name))
    engine.dispose()
