"""Vector tiles built by the database (ST_AsMVT on PostGIS)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from gis_service.db.engine import town_of
from gis_service.layers.registry import LayerSpec
from gis_service.tiles import BUFFER, EXTENT, Tile


class TileRepository:
    def __init__(self, conn: Connection, layer: LayerSpec) -> None:
        self.conn = conn
        self.layer = layer

    @property
    def native(self) -> bool:
        """Whether the database encodes tiles itself (PostGIS); SpatiaLite has no ST_AsMVT."""
        return self.conn.dialect.name == "postgresql"

    def mvt(self, tile: Tile) -> bytes:
        # Identifiers come from the layer registry, never from the request; z/x/y are bound.
        geom = f't."{self.layer.geometry_column}"'
        columns = ", ".join(
            f't."{f.name}"::text AS "{f.name}"' if f.kind == "date" else f't."{f.name}"' for f in self.layer.fields
        )
        sql = text(
            f"WITH env AS (SELECT ST_TileEnvelope(:z, :x, :y) AS box, "
            f"ST_TileEnvelope(:z, :x, :y, margin => :margin) AS wide), "
            f"mvt AS (SELECT ST_AsMVTGeom(ST_Transform({geom}, 3857), env.box, {EXTENT}, {BUFFER}, true) AS geom, "
            f"t.id, {columns} FROM \"{self.layer.table.name}\" t, env "
            f"WHERE {geom} && ST_Transform(env.wide, 4490) AND t.town_code = :town) "
            f"SELECT ST_AsMVT(mvt.*, :name, {EXTENT}, 'geom', 'id') FROM mvt WHERE mvt.geom IS NOT NULL"
        )
        # The town bound as a value (besides row security) prunes to its partition at planning: db.dialects.town_scope
        value = self.conn.execute(sql, {"z": tile.z, "x": tile.x, "y": tile.y, "margin": BUFFER / EXTENT,
                                        "name": self.layer.name, "town": town_of(self.conn)}).scalar_one()
        return bytes(value or b"")
