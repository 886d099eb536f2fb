"""Planning conformance and the one-map import/export over real HTTP, on both backends."""

from __future__ import annotations

import asyncio
import io
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyogrio
import pytest
from sqlalchemy import Engine
from starlette.requests import Request

from gis_service.api import bodies, create_app
from gis_service.api.routes import conformance as conformance_routes
from gis_service.errors import PayloadTooLargeError
from gis_service.services.layers import LayerService
from gis_service.services.ledger_registration import LedgerRegistrationService
from gis_service.services.users import UserService
from tests import conformance_town
from tests.api.conftest import LiveServer, serving, settings_for
from tests.services.small_town import load_small_town
from tests.services.test_planning_io import conventional_layers


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def test_every_demo_asset_agrees_with_registration(http: httpx.Client, live: LiveServer) -> None:
    body = http.get("/analysis/conformance").raise_for_status().json()
    registration = LedgerRegistrationService(live.engine).report().assets
    assert body["number"] == len(registration) == sum(body["counts"].values()) > 200
    expected = {True: "conforming", False: "not_conforming", None: "unknown"}
    assert {row["code"]: row["verdict"] for row in body["features"]} == \
        {a.code: expected[a.conformance.conforming] for a in registration}


@pytest.mark.parametrize("layer", ["service_points", "schools", "facilities"])
def test_other_layers_and_geojson(http: httpx.Client, layer: str) -> None:
    response = http.get("/analysis/conformance", params={"layer": layer, "f": "geojson"})
    collection = response.raise_for_status().json()
    assert response.headers["content-type"].startswith("application/geo+json")
    assert collection["numberReturned"] == len(collection["features"]) > 0
    assert {f["properties"]["verdict"] for f in collection["features"]} <= \
        {"conforming", "conditional", "not_conforming", "unknown"}


def test_stations_proposed_by_a_placement_run(http: httpx.Client) -> None:
    run = http.get("/analysis/placement", params={"new_sites": 2}).raise_for_status().json()["run"]
    body = http.get("/analysis/conformance", params={"placement": run["id"]}).raise_for_status().json()
    assert body["placement"] == run["id"] and body["use"] == "agency_station" and body["number"] == 2
    assert all(row["verdict_label"] for row in body["features"])
    missing = http.get("/analysis/conformance", params={"placement": 999_999})
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_bad_use_is_a_problem(http: httpx.Client) -> None:
    response = http.get("/analysis/conformance", params={"use": "sauna"})
    assert response.status_code == 400 and "unknown use" in response.json()["detail"]


@pytest.fixture
def town_url(engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    conformance_town.load(engine, tmp_path)
    with serving(create_app(settings_for(engine, language="en"), engine=engine)) as url:
        yield url, engine


def test_proposed_sites_on_hand_made_zones(town_url: tuple[str, Engine]) -> None:
    url, _ = town_url
    x, y = conformance_town.X0, conformance_town.Y0
    sites = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x + 150, y + 50]},
         "properties": {"use": "workshop", "code": "FARM"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
            [x + a, y + b] for a, b in ((10, 110), (50, 110), (50, 150), (10, 150), (10, 110))]]},
         "properties": {"use": "民宿", "code": "HOME"}}]}
    body = httpx.post(f"{url}/analysis/conformance", json=sites, params={
        "crs": "http://www.opengis.net/def/crs/EPSG/0/4544"}).raise_for_status().json()
    assert body["counts"]["conforming"] == 0
    farm, home = body["features"]
    assert (farm["code"], farm["verdict"], farm["on_permanent_farmland"]) == ("FARM", "not_conforming", True)
    assert "no building" in farm["reasons"][0]
    assert (home["verdict"], home["verdict_label"]) == ("conditional", "conforming with conditions")
    assert home["zones"][0]["area_m2"] == pytest.approx(1600.0, abs=0.01)
    bad = httpx.post(f"{url}/analysis/conformance", json={"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.2, 30.6]}, "properties": {}}]})
    assert bad.status_code == 400 and "features[0].properties.use" in bad.json()["detail"]


def test_planning_import_rights_problems_and_export(town_url: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = town_url
    load_small_town(engine, tmp_path)  # its villages, for a village-scoped editor
    users = UserService(engine)
    admin, cadre = users.add("h7_admin", "admin")[1], users.add("h7_cadre", "editor", ["510923100201"])[1]
    gpkg = tmp_path / "plan.gpkg"
    for name, frame in conventional_layers().items():
        pyogrio.write_dataframe(frame, gpkg, layer=name, append=gpkg.exists())

    def upload(key: str | None, replace: bool = True, content: bytes | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(f"{url}/planning/import", headers=headers, timeout=60,
                          files={"file": ("plan.gpkg", content or gpkg.read_bytes())},
                          data={"replace": str(replace).lower(), "plan_name": "测试规划"})

    assert upload(None).status_code == 401
    assert upload(cadre).status_code == 403
    done = upload(admin).raise_for_status().json()
    assert (done["imported"], done["replaced"]) == (7, 6)
    duplicate = upload(admin, replace=False)
    assert duplicate.status_code == 422 and duplicate.headers["content-type"] == "application/problem+json"
    assert {(p["file"], p["row"]) for p in duplicate.json()["problems"]} >= {("plan.gpkg:DLTB", 1)}
    package = httpx.get(f"{url}/planning/export.zip", timeout=60).raise_for_status()
    assert package.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(package.content)).namelist()
    assert {"onemap_4544.gpkg", "metadata.xlsx", "shp/DLTB.shp", "shp/DLTB.cpg", "shp/DLTB.prj"} <= set(names)


# ---------------------------------------------------------------------- body and upload limits


async def _read_with_limit(chunks: int, limit: int) -> tuple[int, Exception | None]:
    """Feed ``read_body`` ``chunks`` messages of 1 kB (no Content-Length); how many it took, and its error."""
    taken = 0

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        return {"type": "http.request", "body": b"[" * 1024, "more_body": taken < chunks}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    try:
        await bodies.read_body(request, limit)
    except PayloadTooLargeError as exc:
        return taken, exc
    return taken, None


def test_sites_body_is_cut_off_while_it_arrives() -> None:
    taken, error = asyncio.run(_read_with_limit(chunks=1000, limit=4 * 1024))
    assert taken == 5 and error is not None and "at most 4 KB" in str(error)
    assert asyncio.run(_read_with_limit(chunks=4, limit=4 * 1024)) == (4, None)


def test_sites_body_over_the_limit_is_413(town_url: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = town_url
    monkeypatch.setattr(conformance_routes, "MAX_BODY", 4 * 1024)
    sites = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [105.25, 30.6]},
         "properties": {"use": "workshop", "code": f"S{i}"}} for i in range(100)]}
    body = orjson.dumps(sites)

    def chunked() -> Iterator[bytes]:  # no Content-Length: only the running count can stop it
        yield from (body[i:i + 1024] for i in range(0, len(body), 1024))

    for content in (body, chunked()):
        refused = httpx.post(f"{url}/analysis/conformance", content=content,
                             headers={"Content-Type": "application/json"})
        assert refused.status_code == 413 and refused.headers["content-type"] == "application/problem+json"


@pytest.fixture
def small_uploads(engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Engine, str]]:
    """A server over the hand-made zones whose uploads may weigh 0.25 MB, and an admin's key."""
    conformance_town.load(engine, tmp_path)
    admin = UserService(engine).add("f4_admin", "admin")[1]
    with serving(create_app(settings_for(engine, upload_max_mb=0.25), engine=engine)) as url:
        yield url, engine, admin


def _zone_codes(engine: Engine) -> list[str]:
    return sorted(LayerService(engine).read("planning_zones")["code"])


def _declaring(archive: bytes, size: int) -> bytes:
    """``archive`` (one member) with the member's uncompressed size rewritten to ``size`` in both headers."""
    data = bytearray(archive)
    for at, offset in ((data.find(b"PK\x03\x04"), 22), (data.rfind(b"PK\x01\x02"), 24)):
        data[at + offset:at + offset + 4] = size.to_bytes(4, "little")
    return bytes(data)


def test_planning_upload_over_the_limit_changes_nothing(small_uploads: tuple[str, Engine, str]) -> None:
    url, engine, admin = small_uploads
    before = _zone_codes(engine)
    big = random.Random(4).randbytes(400 * 1024)

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit applies while the body arrives
        boundary = b"f4-boundary"
        yield (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="plan.gpkg"\r\n\r\n')
        yield from (big[i:i + 16 * 1024] for i in range(0, len(big), 16 * 1024))
        yield b"\r\n--" + boundary + b"--\r\n"

    headers = {"Authorization": f"Bearer {admin}"}
    declared = httpx.post(f"{url}/planning/import", headers=headers, files={"file": ("plan.gpkg", big)},
                          data={"replace": "true"})
    streamed = httpx.post(f"{url}/planning/import", content=chunked(), headers={
        **headers, "Content-Type": "multipart/form-data; boundary=f4-boundary"})
    for refused in (declared, streamed):
        assert refused.status_code == 413 and refused.headers["content-type"] == "application/problem+json"
        assert "the upload is larger than 1 x 0.2 MB" in refused.json()["detail"]
    assert _zone_codes(engine) == before


def test_planning_zip_declaring_a_huge_size_is_refused(small_uploads: tuple[str, Engine, str]) -> None:
    url, engine, admin = small_uploads
    before = _zone_codes(engine)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("DLTB.shp", random.Random(5).randbytes(50 * 1024))
    lying = _declaring(buffer.getvalue(), 3 * 2**20)  # 60 to 1, but more than 10 x 0.25 MB in all
    refused = httpx.post(f"{url}/planning/import", headers={"Authorization": f"Bearer {admin}"},
                         files={"file": ("plan.zip", lying)}, data={"replace": "true"})
    assert refused.status_code == 413 and refused.headers["content-type"] == "application/problem+json"
    assert "plan.zip unpacks to 3.0 MB, more than the 2.5 MB accepted" in refused.json()["detail"]
    assert _zone_codes(engine) == before
