"""Mapbox Vector Tiles of a layer in WebMercatorQuad."""

from __future__ import annotations

from sqlalchemy import Engine

from gis_service.errors import NotFoundError
from gis_service.layers.registry import LayerSpec
from gis_service.repositories.features import FeatureQuery, FeatureRepository
from gis_service.repositories.tiles import TileRepository
from gis_service.services.features import features_from_rows
from gis_service.tiles import MAX_ZOOM, Tile, encode_tile

MAX_TILE_FEATURES = 200_000


class TileService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def tile(self, layer: LayerSpec, z: int, x: int, y: int) -> bytes:
        """The MVT of ``layer`` at z/x/y (empty bytes when nothing is there).

        Raises
        ------
        NotFoundError
            When z/x/y is not a tile of WebMercatorQuad.
        """
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            raise NotFoundError(f"no tile {z}/{x}/{y} in WebMercatorQuad (zoom 0-{MAX_ZOOM})")
        tile = Tile(z, x, y)
        with self.engine.connect() as conn:
            repo = TileRepository(conn, layer)
            if repo.native:
                return repo.mvt(tile)
            query = FeatureQuery(bbox=tile.storage_bounds(), limit=MAX_TILE_FEATURES)
            rows = FeatureRepository(conn, layer).page(query)
        features = features_from_rows(layer, rows)
        return encode_tile(layer.name, tile, features.ids, features.properties, features.geometries)
