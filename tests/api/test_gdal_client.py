"""GDAL's OGC API - Features driver (Debian gdal-bin) as the client QGIS-like desktops use."""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

import pyogrio
import pytest

from gis_service.layers.registry import LAYER_ORDER, get_layer
from gis_service.services.layers import LayerService
from tests.api.conftest import LiveServer
from tests.support import assert_same_layer


def gdal(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    return result.stdout


def test_ogrinfo_lists_every_collection_with_its_count(live: LiveServer) -> None:
    listing = gdal("ogrinfo", "-ro", "-q", f"OAPIF:{live.url}/")
    names = re.findall(r"^\d+: (\w+)", listing, flags=re.MULTILINE)
    assert names == list(LAYER_ORDER)
    summaries = {s.layer.name: s.stats.count for s in LayerService(live.engine).summaries()}
    for name in ("villages", "settlements", "assets"):
        info = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live.url}/", name)
        count = int(re.search(r"Feature Count: (\d+)", info).group(1))  # type: ignore[union-attr]
        assert count == summaries[name] > 0


@pytest.mark.parametrize("layer_name", ["settlements", "assets", "villages", "roads", "planning_zones"])
def test_ogr2ogr_copies_a_whole_layer_with_chinese_text(live: LiveServer, layer_name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{layer_name}.gpkg"
    # A small page size forces GDAL through many next links; it must still copy everything.
    gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live.url}/", layer_name, "-oo", "PAGE_SIZE=97")
    copied = pyogrio.read_dataframe(out)
    original = LayerService(live.engine).read(layer_name)
    assert len(copied) == len(original)
    layer = get_layer(layer_name)
    columns = [f.name for f in layer.fields]
    copied = copied[[*columns, "geometry"]].set_crs(4490, allow_override=True)
    for extra in layer.extra_geometries:  # served as a GeoJSON object in properties: GDAL keeps it as text
        copied[extra.name] = original[extra.name]
    for spec in layer.fields:
        if spec.kind == "date":
            copied[spec.name] = [None if v is None or v != v else v.date() for v in copied[spec.name]]
    assert_same_layer(layer, original, copied)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in copied["name"])  # Chinese survived


def test_gdal_where_is_executed_by_the_server(live: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    """GDAL reads the per-collection filter parameters from /api and sends `-where` to the server."""
    caplog.set_level(logging.INFO, logger="gis_service.api")
    info = gdal("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{live.url}/", "assets", "-where", "use_status = 'idle'")
    received = [r.getMessage() for r in caplog.records if r.getMessage().startswith("property filter on assets")]
    assert received and "'use_status': 'idle'" in received[0]
    frame = LayerService(live.engine).read("assets")
    count = int(re.search(r"Feature Count: (\d+)", info).group(1))  # type: ignore[union-attr]
    assert count == int((frame["use_status"] == "idle").sum()) > 0
