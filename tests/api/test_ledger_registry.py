"""Registration pathways and the Excel/GeoPackage ledger over real HTTP, on both backends (demo town)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pyogrio
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gis_service.layers.registry import get_layer
from gis_service.services.users import UserService
from tests.api.conftest import LiveServer

VILLAGE = "510923100201"
OTHER_VILLAGE = "510923100206"


@dataclass(frozen=True)
class Keys:
    editor: str
    viewer: str
    village_editor: str


@pytest.fixture(scope="module")
def keys(live: LiveServer) -> Keys:
    users = UserService(live.engine)
    return Keys(editor=users.add("h3_editor", "editor")[1], viewer=users.add("h3_viewer", "viewer")[1],
                village_editor=users.add("h3_cadre", "editor", [VILLAGE])[1])


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as client:
        yield client


def asset_count(live: LiveServer) -> int:
    table = get_layer("assets").table
    with live.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_registration_report_counts_every_asset(http: httpx.Client, live: LiveServer) -> None:
    body = http.get("/ledger/registration").json()
    assert body["number"] == len(body["assets"]) == asset_count(live)
    assert sum(body["totals"].values()) == body["number"]
    assert sum(sum(v for k, v in row.items() if k != "village_code") for row in body["counts"]) == body["number"]
    assert set(body["pathways"]) == {"change_registration", "register", "joint_approval", "plan_first"}
    first = body["assets"][0]
    assert {"code", "pathway", "pathway_label", "reason", "conforming", "zones"} <= set(first)


def test_filters_geojson_and_one_asset(http: httpx.Client) -> None:
    village = http.get("/ledger/registration", params={"village": OTHER_VILLAGE}).json()
    assert village["assets"] and {a["village_code"] for a in village["assets"]} == {OTHER_VILLAGE}
    plan_first = http.get("/ledger/registration", params={"pathway": "plan_first", "lang": "en"}).json()
    assert {a["pathway"] for a in plan_first["assets"]} == {"plan_first"}
    assert plan_first["assets"][0]["reason"].startswith("documents incomplete")
    collection = http.get("/ledger/registration", params={"f": "geojson", "village": OTHER_VILLAGE})
    assert collection.headers["content-type"].startswith("application/geo+json")
    features = collection.json()["features"]
    assert len(features) == len(village["assets"])
    lon, lat = features[0]["geometry"]["coordinates"]
    assert 105 < lon < 106 and 30 < lat < 31
    code = village["assets"][0]["code"]
    one = http.get(f"/ledger/registration/{code}").json()
    assert one["code"] == code and one["pathway"] == village["assets"][0]["pathway"]
    missing = http.get("/ledger/registration/NO-SUCH-ASSET")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert http.get("/ledger/registration", params={"village": "12"}).status_code == 400
    assert http.get("/ledger/registration", params={"pathway": "soon"}).status_code == 400


def test_template_and_exports_download(http: httpx.Client, tmp_path: Path) -> None:
    template = http.get("/ledger/template.xlsx")
    assert template.status_code == 200
    assert "filename*=UTF-8''%E5%8F%B0%E8%B4%A6%E6%A8%A1%E6%9D%BF.xlsx" in template.headers["content-disposition"]
    assert load_workbook(io.BytesIO(template.content)).sheetnames[:2] == ["资产台账", "填表说明"]
    exported = http.get("/ledger/export.xlsx", params={"village": OTHER_VILLAGE})
    rows = list(load_workbook(io.BytesIO(exported.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "资产编码" and len(rows) > 1
    assert {r[8] for r in rows[1:]} == {OTHER_VILLAGE}
    gpkg = tmp_path / "ledger.gpkg"
    gpkg.write_bytes(http.get("/ledger/export.gpkg").content)
    assert pyogrio.read_info(gpkg, layer="assets")["crs"] == "EPSG:4544"
    assert "registration_pathway" in pyogrio.read_dataframe(gpkg, layer="assets").columns


def _workbook(http: httpx.Client, code: str, village: str, lon: float, lat: float, **extra: object) -> bytes:
    book = load_workbook(io.BytesIO(http.get("/ledger/template.xlsx").content))
    sheet = book.worksheets[0]
    values = {"资产编码": code, "资产名称": "集体门市", "资产类别": "经营性", "资产种类": "门市", "权属": "村集体",
              "所在村代码": village, "经度": lon, "纬度": lat, "使用状态": "闲置", "清查日期": date(2021, 3, 20),
              **extra}
    headers = [c.value for c in sheet[1]]
    for header, value in values.items():
        sheet.cell(2, headers.index(header) + 1, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(http: httpx.Client, key: str | None, content: bytes, name: str = "台账.xlsx",
            **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return http.post("/ledger/import", files={"file": (name, content)}, headers=headers, params=params)


def _village_point(live: LiveServer, code: str) -> tuple[float, float]:
    from gis_service.repositories.features import FeatureRepository

    with live.engine.connect() as conn:
        [area] = FeatureRepository(conn, get_layer("villages")).geometries_by_code([code])
    point = area.representative_point()
    return point.x, point.y


def test_import_needs_an_editor_and_reports_cells(http: httpx.Client, live: LiveServer, keys: Keys) -> None:
    lon, lat = _village_point(live, VILLAGE)
    good = _workbook(http, "H3-API-1", VILLAGE, lon, lat)
    before = asset_count(live)
    assert _upload(http, None, good).status_code == 401
    assert _upload(http, keys.viewer, good).status_code == 403
    assert _upload(http, keys.editor, b"not a workbook", name="x.csv").status_code == 415
    bad = _workbook(http, "H3-API-2", VILLAGE, lon, lat, **{"建筑面积(㎡)": "很大"})
    rejected = _upload(http, keys.editor, bad)
    assert rejected.status_code == 422
    assert rejected.headers["content-type"] == "application/problem+json"
    [problem] = rejected.json()["problems"]
    assert (problem["row"], problem["column"], problem["header"]) == (2, "M", "建筑面积(㎡)")
    assert problem["message"] == "“很大”不是数字"
    assert asset_count(live) == before
    done = _upload(http, keys.editor, good)
    assert done.status_code == 200, done.text
    assert done.json()["created"] == 1 and asset_count(live) == before + 1
    again = _upload(http, keys.editor, good, update="true")
    assert again.json() == {"file": "台账.xlsx", "created": 0, "updated": 0, "unchanged": 1, "ignored_columns": []}
    assert http.get("/ledger/registration/H3-API-1").json()["village_code"] == VILLAGE


def test_village_editor_imports_only_own_villages(http: httpx.Client, live: LiveServer, keys: Keys) -> None:
    lon, lat = _village_point(live, OTHER_VILLAGE)
    before = asset_count(live)
    foreign = _upload(http, keys.village_editor, _workbook(http, "H3-API-3", OTHER_VILLAGE, lon, lat))
    assert foreign.status_code == 403 and "rows 2" in foreign.json()["detail"]
    # Right village code, but the asset lies in the other village.
    disguised = _upload(http, keys.village_editor, _workbook(http, "H3-API-4", VILLAGE, lon, lat))
    assert disguised.status_code == 403
    assert asset_count(live) == before
    own_lon, own_lat = _village_point(live, VILLAGE)
    own = _upload(http, keys.village_editor, _workbook(http, "H3-API-5", VILLAGE, own_lon, own_lat))
    assert own.status_code == 200, own.text
