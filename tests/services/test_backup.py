"""Backup and restore across backends: SpatiaLite to PostGIS and back, with nothing lost."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import shapely
from sqlalchemy import DateTime, Engine, text

from gis_service.access import Principal, Role
from gis_service.crs import CRS84_URI, parse_crs
from gis_service.errors import ConflictError, InvalidInputError
from gis_service.layers.registry import get_layer
from gis_service.repositories import snapshot
from gis_service.services.backup import BackupService
from gis_service.services.demo import load_demo
from gis_service.services.edits import EditService
from gis_service.services.ledger_documents import DocumentStore
from gis_service.services.users import UserService
from tests.conftest import DEMO_DIR, make_engine

ADMIN = Principal("zhang_admin", Role.ADMIN)
DEMO_ASSETS = (DEMO_DIR / "assets.geojson").read_text(encoding="utf-8").count('{"type":"Feature",')


def _edited_town(engine: Engine) -> None:
    """The demo town plus a user, an edit, a delete: history and ids beyond the imported ones."""
    load_demo(engine, DEMO_DIR)
    UserService(engine).add("zhang_admin", "admin")
    edits, assets = EditService(engine), get_layer("assets")
    edits.update(assets, 1, {"properties": {"use_status": "leased", "floor_area": 12.5}}, parse_crs(CRS84_URI),
                 ADMIN, None)
    edits.delete(assets, 2, ADMIN, None)


def _contents(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every backed-up table, rows in id order, geometries normalised to WKB of shapely objects."""
    out = {}
    with engine.connect() as conn:
        for table in snapshot.snapshot_tables():
            rows = [row for batch in snapshot.read_rows(conn, table) for row in batch]
            geometry_at = [i for i, c in enumerate(table.columns) if snapshot.is_geometry(c)]
            timestamps = [i for i, c in enumerate(table.columns) if isinstance(c.type, DateTime)]
            out[table.name] = [tuple(
                shapely.from_wkb(v).wkb if i in geometry_at and v is not None
                else (v.replace(tzinfo=None) if i in timestamps and v is not None else v)
                for i, v in enumerate(row)) for row in rows]
    return out


@pytest.mark.parametrize(("source", "target"), [("spatialite", "postgis"), ("postgis", "spatialite")])
def test_backup_restores_everything_on_the_other_backend(source: str, target: str, request: pytest.FixtureRequest,
                                                         tmp_path: Path) -> None:
    origin = make_engine(source, request, tmp_path)
    _edited_town(origin)
    report = BackupService(origin).backup(tmp_path / "town.backup")
    assert report.rows["assets"] == DEMO_ASSETS - 1 and report.rows["feature_history"] == 2
    assert report.rows["revitalisation_plans"] > 0 and report.rows["asset_transfers"] > 0  # the ledger too
    copy = make_engine(target, request, tmp_path)
    restored = BackupService(copy).restore(tmp_path / "town.backup")
    assert restored.rows == report.rows
    assert _contents(copy) == _contents(origin)
    # The deleted feature comes back under its own id, and new features never take it.
    edits, assets = EditService(copy), get_layer("assets")
    assert edits.restore(assets, 2, 0, ADMIN).feature_id == 2
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.25, 30.6]},
               "properties": {"code": "NEW-1", "name": "新资产", "ownership": "town_state", "asset_class": "resource",
                              "category": "land", "use_status": "idle"}}
    assert edits.create(assets, feature, parse_crs(CRS84_URI), ADMIN).feature_id == DEMO_ASSETS + 1
    assert UserService(copy).list()[0].name == "zhang_admin"
    origin.dispose()
    copy.dispose()


def test_restore_refuses_a_database_with_data_and_leaves_it_alone(request: pytest.FixtureRequest,
                                                                  tmp_path: Path) -> None:
    engine = make_engine("spatialite", request, tmp_path)
    load_demo(engine, DEMO_DIR)
    BackupService(engine).backup(tmp_path / "a.backup")
    with pytest.raises(ConflictError, match="empty database"):
        BackupService(engine).restore(tmp_path / "a.backup")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM assets")).scalar_one() == DEMO_ASSETS
    engine.dispose()


def test_backup_never_overwrites_and_restore_rejects_other_files(request: pytest.FixtureRequest,
                                                                 tmp_path: Path) -> None:
    engine = make_engine("spatialite", request, tmp_path)
    (tmp_path / "taken.backup").write_text("keep me")
    with pytest.raises(InvalidInputError, match="exists"):
        BackupService(engine).backup(tmp_path / "taken.backup")
    assert (tmp_path / "taken.backup").read_text() == "keep me"
    with pytest.raises(InvalidInputError, match="not a gis_service backup"):
        BackupService(engine).restore(tmp_path / "taken.backup")
    engine.dispose()


@pytest.mark.parametrize(("source", "target"), [("spatialite", "postgis"), ("postgis", "spatialite")])
def test_uploaded_documents_travel_with_the_backup(source: str, target: str, request: pytest.FixtureRequest,
                                                   tmp_path: Path) -> None:
    here = DocumentStore(tmp_path / "uploads-here", 20 * 2**20, 2**30)
    there = DocumentStore(tmp_path / "uploads-there", 20 * 2**20, 2**30)
    origin = make_engine(source, request, tmp_path)
    load_demo(origin, DEMO_DIR, store=here)  # the struck-off plans' evidence PDFs
    with origin.connect() as conn:
        hashes = snapshot.document_hashes(conn)
    assert hashes
    report = BackupService(origin, here).backup(tmp_path / "town.backup")
    assert report.files == len(hashes)
    copy = make_engine(target, request, tmp_path)
    restored = BackupService(copy, there).restore(tmp_path / "town.backup")
    assert restored.files == len(hashes)
    for digest in hashes:
        assert there.path_of(digest).read_bytes() == here.path_of(digest).read_bytes()
        assert hashlib.sha256(there.path_of(digest).read_bytes()).hexdigest() == digest
    assert restored.missing == ()
    here.path_of(hashes[0]).unlink()  # a file the ledger names is lost: the backup goes on and says so
    partial = BackupService(origin, here).backup(tmp_path / "partial.backup")
    assert partial.missing == (hashes[0],) and partial.files == len(hashes) - 1
    origin.dispose()
    copy.dispose()


def test_a_towns_backup_goes_back_into_a_database_of_many_towns(request: pytest.FixtureRequest,
                                                                tmp_path: Path) -> None:
    """On PostGIS a backup is of one town; restored, the town is added where it is missing, beside the others."""
    from gis_service.services.towns import TownService
    from gis_service.towns import working_on

    huima = "510923101"
    engine = make_engine("postgis", request, tmp_path)
    TownService(engine).add(huima, "回马镇")
    UserService(engine).add("county_admin", "admin", towns=["*"])  # a key to every town: never in a town's backup
    with working_on(huima):
        _edited_town(engine)
        report = BackupService(engine).backup(tmp_path / "huima.backup")
        before = _contents(engine)
    assert report.rows["api_users"] == 1  # zhang_admin, made for 回马镇
    assert report.town == huima and report.rows["assets"] == DEMO_ASSETS - 1
    engine.dispose()

    engine = make_engine("postgis", request, tmp_path)  # emptied: Penglai only, no users
    load_demo(engine, DEMO_DIR)
    UserService(engine).add("penglai_admin", "admin")
    restored = BackupService(engine).restore(tmp_path / "huima.backup")
    assert restored.town == huima and restored.users_kept
    assert [t.code for t in TownService(engine).list()] == ["510923100", huima]
    with working_on(huima):
        after = _contents(engine)
    assert {k: v for k, v in after.items() if k != "api_users"} == {k: v for k, v in before.items() if k != "api_users"}
    assert [row[1] for row in before["api_users"]] == ["county_admin", "zhang_admin"]
    assert [u.name for u in UserService(engine).list()] == ["penglai_admin"]  # the database's keys stay
    with engine.connect() as conn:  # Penglai untouched
        assert conn.execute(text("SELECT count(*) FROM assets")).scalar_one() == DEMO_ASSETS
    with pytest.raises(ConflictError, match="empty database"):
        BackupService(engine).restore(tmp_path / "huima.backup")
    engine.dispose()

    # A SpatiaLite file is of one town: another town's backup is refused, with the way to do it.
    sqlite = make_engine("spatialite", request, tmp_path)
    with pytest.raises(ConflictError, match="GIS_TOWN_CODE=510923101"):
        BackupService(sqlite).restore(tmp_path / "huima.backup")
    sqlite.dispose()


def test_a_failed_restore_leaves_no_town_behind(request: pytest.FixtureRequest, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from gis_service.services import backup as backup_module
    from gis_service.services.towns import TownService
    from gis_service.towns import working_on

    engine = make_engine("postgis", request, tmp_path)
    TownService(engine).add("510923101", "回马镇")
    with working_on("510923101"):
        load_demo(engine, DEMO_DIR)
        BackupService(engine).backup(tmp_path / "huima.backup")
    engine.dispose()
    engine = make_engine("postgis", request, tmp_path)
    loaded = backup_module._load

    def fail_at_assets(conn, reader, table):  # noqa: ANN001, ANN202 - the fault injected half-way
        if table.name == "assets":
            raise OSError("disk went away")
        return loaded(conn, reader, table)

    monkeypatch.setattr(backup_module, "_load", fail_at_assets)
    with pytest.raises(OSError, match="disk went away"):
        BackupService(engine).restore(tmp_path / "huima.backup")
    assert [t.code for t in TownService(engine).list()] == ["510923100"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM villages")).scalar_one() == 0
    engine.dispose()
