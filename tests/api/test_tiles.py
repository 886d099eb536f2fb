"""Vector tiles: ST_AsMVT on PostGIS and the Python encoder on SpatiaLite serve the same features."""

from __future__ import annotations

import httpx
import mapbox_vector_tile
import shapely

from gis_service.services.layers import LayerService
from gis_service.tiles import Tile
from tests.api.conftest import LiveServer


def _decode(client: httpx.Client, layer: str, tile: Tile) -> list[dict]:  # type: ignore[type-arg]
    response = client.get(f"/collections/{layer}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}")
    assert response.status_code in (200, 204), response.text
    if response.status_code == 204:
        return []
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.content)[layer]["features"]  # type: ignore[no-any-return]


def test_tile_holds_exactly_the_points_inside_it(client: httpx.Client, live: LiveServer) -> None:
    settlements = LayerService(live.engine).read("settlements")
    centre = settlements.geometry.union_all().centroid
    tile = Tile.containing(centre.x, centre.y, 14)
    features = _decode(client, "settlements", tile)
    inside = settlements[settlements.intersects(shapely.box(*tile.storage_bounds(margin=0)))]
    decoded = {f["properties"]["code"] for f in features if 0 <= f["geometry"]["coordinates"][0] <= 4096
               and 0 <= f["geometry"]["coordinates"][1] <= 4096}
    assert decoded == set(inside["code"]) and decoded
    assert all(isinstance(f["id"], int) for f in features)


def test_polygon_tile_and_tilejson(client: httpx.Client, live: LiveServer) -> None:
    villages = LayerService(live.engine).read("villages")
    centre = villages.geometry.union_all().centroid
    tile = Tile.containing(centre.x, centre.y, 12)
    names = {f["properties"]["name"] for f in _decode(client, "villages", tile)}
    inside = set(villages.loc[villages.intersects(shapely.box(*tile.storage_bounds(margin=0))), "name"])
    with_buffer = set(villages.loc[villages.intersects(shapely.box(*tile.storage_bounds())), "name"])
    assert inside and inside <= names <= with_buffer
    doc = client.get("/collections/villages/tiles/WebMercatorQuad/tilejson.json").json()
    assert doc["tiles"][0].endswith("/collections/villages/tiles/WebMercatorQuad/{z}/{x}/{y}")
    assert doc["vector_layers"][0]["id"] == "villages"


def test_empty_and_invalid_tiles(client: httpx.Client) -> None:
    assert _decode(client, "villages", Tile(10, 0, 0)) == []
    assert client.get("/collections/villages/tiles/WebMercatorQuad/3/9/1").status_code == 404
    assert client.get("/collections/villages/tiles/WebMercatorQuad/40/1/1").status_code == 400


def test_points_land_on_their_pixel(client: httpx.Client, live: LiveServer) -> None:
    """Both encoders put each point on the tile pixel its Web Mercator position gives (within one pixel)."""
    settlements = LayerService(live.engine).read("settlements").to_crs(3857).set_index("code")
    centre = settlements.to_crs(4490).geometry.union_all().centroid
    tile = Tile.containing(centre.x, centre.y, 13)
    minx, miny, maxx, maxy = tile.mercator_bounds()
    features = _decode(client, "settlements", tile)
    assert features
    for feature in features:
        point = settlements.geometry[feature["properties"]["code"]]
        expected = ((point.x - minx) / (maxx - minx) * 4096, (point.y - miny) / (maxy - miny) * 4096)  # y up
        x, y = feature["geometry"]["coordinates"]
        assert abs(x - expected[0]) <= 1 and abs(y - expected[1]) <= 1, (feature["properties"]["code"], x, y)
