"""The same migrations build the same layers on both backends, with a populated spatial index."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point
from sqlalchemy import Engine, inspect, text

from gis_service.db.migrate import downgrade, upgrade
from gis_service.layers.registry import list_layers
from gis_service.services.layers import LayerService
from tests.support import declared_columns


def _spatial_indexes(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(text(
                "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am am ON am.oid = c.relam "
                "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) WHERE am.amname = 'gist'"))
        else:
            rows = conn.execute(text(
                "SELECT f_table_name, f_geometry_column FROM geometry_columns WHERE spatial_index_enabled = 1"))
        return {(str(r[0]), str(r[1])) for r in rows}


def test_every_geometry_column_has_a_spatial_index(engine: Engine) -> None:
    expected = {(spec.name, column) for spec in list_layers() for column in spec.geometry_columns}
    assert expected <= _spatial_indexes(engine)


def test_geometry_columns_are_typed_in_epsg_4490(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(text("SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns"))
            found = {(r[0], r[1]): (r[2].upper(), r[3]) for r in rows}
        else:
            rows = conn.execute(text("SELECT f_table_name, f_geometry_column, geometry_type, srid "
                                     "FROM geometry_columns"))
            codes = {1: "POINT", 5: "MULTILINESTRING", 6: "MULTIPOLYGON"}
            found = {(r[0], r[1]): (codes[r[2]], r[3]) for r in rows}
    for spec in list_layers():
        assert found[(spec.name, spec.geometry_column)] == (spec.geometry_type, 4490)
        for extra in spec.extra_geometries:
            assert found[(spec.name, extra.name)] == (extra.geometry_type, 4490)


def test_spatial_index_is_maintained_on_insert(engine: Engine, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"code": ["A", "B"], "name": ["甲", "乙"], "village_code": ["510923100201"] * 2,
                              "population": [1, 2]},
                             geometry=[Point(105.25, 30.59), Point(105.26, 30.60)], crs=4490)
    pyogrio.write_dataframe(frame, tmp_path / "s.gpkg")
    LayerService(engine).import_file(tmp_path / "s.gpkg", "settlements")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            hits = conn.execute(text(
                "SELECT count(*) FROM settlements WHERE ROWID IN (SELECT ROWID FROM SpatialIndex WHERE "
                "f_table_name='settlements' AND search_frame=BuildMbr(105.255, 30.595, 105.27, 30.61, 4490))"
            )).scalar_one()
        else:
            hits = conn.execute(text(
                "SELECT count(*) FROM settlements WHERE geom && ST_MakeEnvelope(105.255, 30.595, 105.27, 30.61, 4490)"
            )).scalar_one()
    assert hits == 1


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    downgrade(engine)
    assert not {spec.name for spec in list_layers()} & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert {spec.name for spec in list_layers()} <= set(inspect(engine).get_table_names())
    assert len(_spatial_indexes(engine)) >= 12


def test_migrations_match_the_models(engine: Engine) -> None:
    """The hand-written migration and the ORM models describe the same columns (names, nullability)."""

    inspector = inspect(engine)
    for spec in list_layers():
        stored = {c["name"]: c["nullable"] for c in inspector.get_columns(spec.name)}
        assert stored == declared_columns(spec.name), spec.name


def test_bulk_load_rebuilds_the_spatial_index(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load large enough to defer index upkeep still leaves every row findable through the index,
    and a rejected one leaves the old index as it was."""
    import gis_service.services.layers as layers_service

    monkeypatch.setattr(layers_service, "BULK_LOAD_ROWS", 2)
    n = 50
    frame = gpd.GeoDataFrame({"code": [f"B{i}" for i in range(n)], "name": ["院"] * n,
                              "village_code": ["510923100201"] * n, "population": list(range(n))},
                             geometry=[Point(105.2 + i / 1000, 30.59) for i in range(n)], crs=4490)
    pyogrio.write_dataframe(frame, tmp_path / "many.gpkg")
    service = LayerService(engine)
    service.import_file(tmp_path / "many.gpkg", "settlements")
    assert _index_hits(engine, (105.2095, 30.58, 105.2195, 30.60)) == 10
    frame.loc[3, "population"] = -1
    pyogrio.write_dataframe(frame, tmp_path / "bad.gpkg")
    with pytest.raises(Exception, match="below the minimum"):
        service.import_file(tmp_path / "bad.gpkg", "settlements", mode="replace")
    assert _index_hits(engine, (105.2095, 30.58, 105.2195, 30.60)) == 10


def _index_hits(engine: Engine, box: tuple[float, float, float, float]) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = ("SELECT count(*) FROM settlements WHERE ROWID IN (SELECT ROWID FROM SpatialIndex WHERE "
                   "f_table_name='settlements' AND search_frame=BuildMbr(:a, :b, :c, :d, 4490))")
        else:
            sql = "SELECT count(*) FROM settlements WHERE geom && ST_MakeEnvelope(:a, :b, :c, :d, 4490)"
        return int(conn.execute(text(sql), dict(zip("abcd", box, strict=True))).scalar_one())
