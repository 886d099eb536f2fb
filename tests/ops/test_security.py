"""Security rules, a test each: keys stored hashed and compared in constant time, failed keys rate-limited,
village-scoped editors refused by every write route, upload names that cannot escape their folder, CORS off
unless configured, and the three read-access settings."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from gis_service.api import create_app
from gis_service.services import users as users_module
from gis_service.services.demo import load_demo
from gis_service.services.ledger_excel import LedgerExcelService
from gis_service.services.users import UserService, hash_key
from gis_service.settings import Settings
from tests.api.conftest import serving, settings_for
from tests.conftest import BACKENDS, DEMO_DIR, make_engine
from tests.ledger_plans_data import image, plan_fields
from tests.ops.big_files import ledger_workbook

VILLAGE_A = "510923100201"  # the cadre's own village
VILLAGE_B = "510923100202"  # another village: everything below is aimed at it


def _as(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


# ---------------------------------------------------------------------- keys


def test_keys_are_stored_only_as_sha256(engine: Engine) -> None:
    _info, key = UserService(engine).add("chen_cadre", "editor")
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM api_users")).all()]
    assert rows and not any(key in str(value) for row in rows for value in row)
    assert any(hash_key(key) == value for row in rows for value in row)
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    if engine.dialect.name == "sqlite":  # nor anywhere in the file (free pages, the WAL)
        assert engine.url.database is not None
        for path in Path(engine.url.database).parent.glob(Path(engine.url.database).name + "*"):
            assert key.encode() not in path.read_bytes()


def test_keys_are_compared_in_constant_time(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored row is found by the key's SHA-256, so look-up time depends on the hash, not on how many
    characters of a guess are right; the final comparison uses ``hmac.compare_digest`` as well."""
    _info, key = UserService(engine).add("chen_cadre", "editor")
    compared: list[tuple[str, str]] = []
    real = users_module.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(users_module.hmac, "compare_digest", spy)
    assert UserService(engine).authenticate(key).name == "chen_cadre"
    assert compared == [(hash_key(key), hash_key(key))]


def test_failed_keys_are_rate_limited_with_retry_after(engine: Engine) -> None:
    _info, key = UserService(engine).add("li_editor", "editor")
    app = create_app(settings_for(engine, auth_failures_allowed=3, auth_failure_window_s=60), engine=engine)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(3):
            assert http.get("/collections", headers=_as("gs_wrong")).status_code == 401
        refused = http.get("/collections", headers=_as("gs_wrong"))
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert http.get("/collections", headers={"X-API-Key": "gs_still_wrong"}).status_code == 429
        assert http.get("/collections", headers=_as(key)).status_code == 200  # a valid key always works


# ---------------------------------------------------------------------- a demo town served per backend


@dataclass
class Town:
    url: str
    engine: Engine
    uploads: Path
    admin: str
    cadre: str  # editor limited to VILLAGE_A
    work: Path


@pytest.fixture(scope="module", params=BACKENDS)
def town(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    backend = str(request.param)
    work = tmp_path_factory.mktemp(f"security-{backend}")
    engine = make_engine(backend, request, work)
    load_demo(engine, DEMO_DIR)
    users = UserService(engine)
    admin, cadre = users.add("zhang_admin", "admin")[1], users.add("chen_cadre", "editor", [VILLAGE_A])[1]
    uploads = work / "uploads"
    with serving(create_app(settings_for(engine, uploads_dir=uploads), engine=engine)) as url:
        yield Town(url, engine, uploads, admin, cadre, work)
    engine.dispose()


@pytest.fixture
def http(town: Town) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=town.url, timeout=60) as client:
        yield client


def _first(http: httpx.Client, layer: str, **where: Any) -> dict[str, Any]:
    page = http.get(f"/collections/{layer}/items", params={"limit": 1, **where}).json()
    assert page["features"], f"no {layer} with {where} in the demo town"
    return dict(page["features"][0])


@dataclass
class Targets:
    """Things of VILLAGE_B, made by the admin where the demo has none of its own."""

    settlement: dict[str, Any]
    version: int
    asset: dict[str, Any]
    plan_id: int
    transfer_id: int
    claim_id: int
    former: str
    scenario_id: int
    workbook: Path


@pytest.fixture(scope="module")
def targets(town: Town) -> Targets:
    with httpx.Client(base_url=town.url, timeout=120) as http:
        settlement = _first(http, "settlements", village_code=VILLAGE_B)
        renamed = {"properties": {"name": f"{settlement['properties']['name']}一组"}}
        patched = http.patch(f"/collections/settlements/items/{settlement['id']}", json=renamed,
                             headers=_as(town.admin, **{"Content-Type": "application/merge-patch+json"}))
        assert patched.status_code == 200, patched.text  # a version in the history, for the restore route
        history = http.get(f"/collections/settlements/items/{settlement['id']}/history").json()["versions"]
        asset = _plannable_asset(http, town)
        plan = http.post("/ledger/plans", json=plan_fields(asset["properties"]["code"]), headers=_as(town.admin))
        assert plan.status_code == 201, plan.text
        former = _first(http, "former_villages", merged_into=VILLAGE_B)["properties"]["code"]
        transfer = _pending_transfer_to_b(http, town, former)
        claim = http.post("/ledger/claims", json={"former_village_code": former, "kind": "debt", "amount": 1.5,
                                                  "counterparty": "某建筑公司"}, headers=_as(town.admin))
        scenario = http.post("/scenarios", json={"name": "乙村新站"}, headers=_as(town.admin))
        change = http.post(f"/scenarios/{scenario.json()['id']}/changes", headers=_as(town.admin), json={
            "action": "add", "layer": "service_points", "feature": {
                "type": "Feature", "geometry": settlement["geometry"],
                "properties": {"code": "FW-SEC-1", "name": "乙村代办站", "kind": "agency_station",
                               "village_code": VILLAGE_B}}})
        for answer in (transfer, claim, scenario, change):
            assert answer.status_code in (200, 201), answer.text
    ledger = LedgerExcelService(town.engine)
    workbook = ledger_workbook(ledger, town.work / "other-village.xlsx", 1, prefix="SEC-")
    book = load_workbook(workbook)
    book.worksheets[0]["I2"] = VILLAGE_B  # the village_code column
    book.save(workbook)
    return Targets(settlement, int(history[0]["version"]), asset, int(plan.json()["id"]),
                   int(transfer.json()["id"]), int(claim.json()["id"]), former, int(scenario.json()["id"]), workbook)


def _plannable_asset(http: httpx.Client, town: Town) -> dict[str, Any]:
    """An idle village-collective asset of VILLAGE_B that has no plan yet (the demo may hold plans)."""
    page = http.get("/collections/assets/items", params={"village_code": VILLAGE_B, "limit": 200}).json()
    planned = {p["asset_code"] for p in http.get("/ledger/plans", params={"limit": 1000}).json().get("plans", [])}
    for feature in page["features"]:
        props = feature["properties"]
        if (props["ownership"] == "village_collective" and props["use_status"] in ("idle", "partly_idle")
                and props["code"] not in planned):
            return dict(feature)
    raise AssertionError(f"no unplanned idle asset in {VILLAGE_B}")


def _pending_transfer_to_b(http: httpx.Client, town: Town, former: str) -> httpx.Response:
    """A pending transfer to VILLAGE_B: one the demo holds, or a new one of an asset ``former`` still owns."""
    listed = http.get("/ledger/transfers", params={"status": "pending", "limit": 1000}).json()
    for transfer in listed.get("transfers", []):
        if transfer["to_code"] == VILLAGE_B:
            return http.get(f"/ledger/transfers/{transfer['id']}")
    pending = {t["asset_code"] for t in listed.get("transfers", [])}
    page = http.get("/collections/assets/items", params={"owner_code": former, "limit": 200}).json()
    free = [f["properties"]["code"] for f in page["features"] if f["properties"]["code"] not in pending]
    assert free, f"no asset of {former} to transfer"
    return http.post("/ledger/transfers", json={"asset_code": free[0], "from_code": former, "to_code": VILLAGE_B},
                     headers=_as(town.admin))


Request = Callable[[httpx.Client, Town, Targets], httpx.Response]
MERGE = {"Content-Type": "application/merge-patch+json"}


def _feature_in_b(t: Targets) -> dict[str, Any]:
    return {"type": "Feature", "geometry": t.settlement["geometry"],
            "properties": {**t.settlement["properties"], "code": "SEC-NEW"}}


def _upload(http: httpx.Client, town: Town, asset_code: str, filename: str, key: str) -> httpx.Response:
    return http.post(f"/ledger/assets/{asset_code}/documents", headers=_as(key), data={"purpose": "photo"},
                     files={"file": (filename, image(), "image/jpeg")})


# Every write route of the OpenAPI document → the request a cadre of VILLAGE_A sends at VILLAGE_B's data.
# A route missing here fails the test: a new write route must say how it keeps village editors in their village.
VILLAGE_WRITES: dict[tuple[str, str], Request] = {
    ("POST", "/collections/{collection_id}/items"): lambda h, w, t: h.post(
        "/collections/settlements/items", json=_feature_in_b(t), headers=_as(w.cadre)),
    ("PUT", "/collections/{collection_id}/items/{feature_id}"): lambda h, w, t: h.put(
        f"/collections/settlements/items/{t.settlement['id']}", json=t.settlement, headers=_as(w.cadre)),
    ("PATCH", "/collections/{collection_id}/items/{feature_id}"): lambda h, w, t: h.patch(
        f"/collections/settlements/items/{t.settlement['id']}", json={"properties": {"name": "越权"}},
        headers=_as(w.cadre, **MERGE)),
    ("DELETE", "/collections/{collection_id}/items/{feature_id}"): lambda h, w, t: h.delete(
        f"/collections/settlements/items/{t.settlement['id']}", headers=_as(w.cadre)),
    ("POST", "/collections/{collection_id}/items/{feature_id}/history/{version}/restore"): lambda h, w, t: h.post(
        f"/collections/settlements/items/{t.settlement['id']}/history/{t.version}/restore", headers=_as(w.cadre)),
    ("POST", "/ledger/assets/{asset_code}/documents"): lambda h, w, t: _upload(
        h, w, t.asset["properties"]["code"], "photo.jpg", w.cadre),
    ("POST", "/ledger/plans"): lambda h, w, t: h.post(
        "/ledger/plans", json=plan_fields(t.asset["properties"]["code"]), headers=_as(w.cadre)),
    ("PATCH", "/ledger/plans/{plan_id}"): lambda h, w, t: h.patch(
        f"/ledger/plans/{t.plan_id}", json={"note": "越权"}, headers=_as(w.cadre)),
    ("POST", "/ledger/plans/{plan_id}/strike-off"): lambda h, w, t: h.post(
        f"/ledger/plans/{t.plan_id}/strike-off", json={"note": "越权"}, headers=_as(w.cadre)),
    ("POST", "/ledger/transfers"): lambda h, w, t: h.post(
        "/ledger/transfers", json={"asset_code": t.asset["properties"]["code"], "from_code": t.former,
                                   "to_code": VILLAGE_A}, headers=_as(w.cadre)),
    ("PATCH", "/ledger/transfers/{transfer_id}"): lambda h, w, t: h.patch(
        f"/ledger/transfers/{t.transfer_id}", json={"transfer_date": "2021-05-20", "approval": "蓬府〔2021〕9号"},
        headers=_as(w.cadre)),
    ("POST", "/ledger/claims"): lambda h, w, t: h.post(
        "/ledger/claims", json={"former_village_code": t.former, "kind": "claim", "amount": 2,
                                "counterparty": "某公司"}, headers=_as(w.cadre)),
    ("POST", "/ledger/claims/{claim_id}/transfer"): lambda h, w, t: h.post(
        f"/ledger/claims/{t.claim_id}/transfer", json={"to_code": VILLAGE_A, "transfer_date": "2021-05-20",
                                                       "approval": "蓬府〔2021〕9号"}, headers=_as(w.cadre)),
    ("PUT", "/ledger/milestones/{key}"): lambda h, w, t: h.put(  # the town's dates: no village editor sets them
        "/ledger/milestones/inventory", json={"due": "2021-04-30"}, headers=_as(w.cadre)),
    ("POST", "/ledger/import"): lambda h, w, t: h.post(
        "/ledger/import", headers=_as(w.cadre), files={"file": (t.workbook.name, t.workbook.read_bytes(),
                                                                "application/vnd.openxmlformats-officedocument."
                                                                "spreadsheetml.sheet")}),
    ("POST", "/planning/import"): lambda h, w, t: h.post(  # planning belongs to the town (and county)
        "/planning/import", headers=_as(w.cadre), files={"file": ("plan.gpkg", b"unread", "application/x-sqlite3")}),
    ("POST", "/scenarios/{ref}/promote"): lambda h, w, t: h.post(
        f"/scenarios/{t.scenario_id}/promote", headers=_as(w.cadre)),
}
# Write routes that touch no village's data: scenarios are proposals kept apart from the layers (only their
# promotion writes, above), a re-run stores a new analysis run, and POST conformance only judges the sites sent.
# Village editors may use them.
NOT_VILLAGE_DATA = {("POST", "/analysis/conformance"), ("POST", "/scenarios"), ("DELETE", "/scenarios/{ref}"),
                    ("POST", "/scenarios/{ref}/changes"), ("DELETE", "/scenarios/{ref}/changes/{change_id}"),
                    ("POST", "/scenarios/{ref}/evaluate"),
                    ("POST", "/analysis/runs/{run_id}/rerun")}


def _write_routes(http: httpx.Client) -> set[tuple[str, str]]:
    """Write operations of the OpenAPI document; the per-layer copies of POST items count as the generic one."""
    routes = set()
    for path, operations in http.get("/api").json()["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch", "delete"):
                generic = "/collections/{collection_id}/items" if path.startswith("/collections/") and \
                    path.endswith("/items") else path
                routes.add((method.upper(), generic))
    return routes


def test_every_write_route_is_listed(http: httpx.Client) -> None:
    routes = _write_routes(http)
    assert routes == set(VILLAGE_WRITES) | NOT_VILLAGE_DATA, "a write route was added or removed: say here " \
        "how it keeps village editors in their village"


@pytest.mark.parametrize("route", sorted(VILLAGE_WRITES), ids=lambda r: f"{r[0]} {r[1]}")
def test_village_editor_is_refused_by_every_write_route(http: httpx.Client, town: Town, targets: Targets,
                                                        route: tuple[str, str]) -> None:
    before = _state(town.engine)
    response = VILLAGE_WRITES[route](http, town, targets)
    assert response.status_code == 403, f"{route}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert VILLAGE_A in response.json()["detail"]
    assert _state(town.engine) == before  # nothing written


def _state(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in (
            "feature_history", "revitalisation_plans", "asset_transfers", "village_claims", "documents",
            "settlements", "assets", "service_points"))


def test_village_editor_may_still_work_in_their_own_village(http: httpx.Client, town: Town) -> None:
    """The refusals above are about the village, not the role: the same key writes in its own village."""
    own = _first(http, "settlements", village_code=VILLAGE_A)
    answer = http.patch(f"/collections/settlements/items/{own['id']}", json={"properties": {}},
                        headers=_as(town.cadre, **MERGE))
    assert answer.status_code == 200, answer.text


# ---------------------------------------------------------------------- uploads


@pytest.mark.parametrize("name", ["../../../escaped.jpg", "..\\..\\escaped.jpg", "/tmp/escaped.jpg",
                                  "photos/../../escaped.jpg", "%2e%2e%2fescaped.jpg", "escaped.jpg\x00.txt"])
def test_upload_names_cannot_escape_the_folder(http: httpx.Client, town: Town, targets: Targets, name: str) -> None:
    outside_before = {p for p in town.work.rglob("*") if p != town.uploads and town.uploads not in p.parents}
    response = _upload(http, town, targets.asset["properties"]["code"], name, town.admin)
    assert response.status_code in (201, 400, 415, 422), response.text
    outside_after = {p for p in town.work.rglob("*") if p != town.uploads and town.uploads not in p.parents}
    assert outside_after == outside_before
    assert not Path("/tmp/escaped.jpg").exists()
    stored = [p for p in town.uploads.rglob("*") if p.is_file()]
    assert all(".." not in p.relative_to(town.uploads).parts and "escaped" not in p.name for p in stored)
    if response.status_code == 201:  # the name is kept as metadata only, and sent back quoted
        download = http.get(response.headers["Location"])
        assert download.status_code == 200 and download.content == image()
        assert "/" not in download.headers["content-disposition"].split('filename="')[1].split('"')[0]


# ---------------------------------------------------------------------- CORS and read access


def _asgi_get(app: Any, path: str, client_host: str = "127.0.0.1", **headers: str) -> httpx.Response:
    """One request through the app from ``client_host`` (an address a real loopback server cannot fake)."""
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gis.test") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(call())


def test_no_cors_headers_unless_origins_are_configured(engine: Engine) -> None:
    closed = create_app(settings_for(engine), engine=engine)
    answer = _asgi_get(closed, "/health", Origin="https://evil.example")
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    opened = create_app(settings_for(engine, cors_origins="https://gis.penglai.gov.cn, https://qgis.example"),
                        engine=engine)
    allowed = _asgi_get(opened, "/collections", Origin="https://gis.penglai.gov.cn")
    assert allowed.headers["access-control-allow-origin"] == "https://gis.penglai.gov.cn"
    assert "access-control-allow-credentials" not in allowed.headers
    assert "ETag" in allowed.headers["access-control-expose-headers"]
    other = _asgi_get(opened, "/collections", Origin="https://evil.example")
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(("read_access", "host", "with_key", "status"), [
    ("local", "127.0.0.1", False, 200), ("local", "::1", False, 200), ("local", "10.0.0.7", False, 401),
    ("local", "10.0.0.7", True, 200), ("open", "10.0.0.7", False, 200), ("key", "127.0.0.1", False, 401),
    ("key", "10.0.0.7", True, 200)])
def test_read_access_setting(engine: Engine, read_access: str, host: str, with_key: bool, status: int) -> None:
    key = UserService(engine).add("wang_leader", "viewer")[1]
    app = create_app(settings_for(engine, read_access=read_access), engine=engine)
    headers = _as(key) if with_key else {}
    for path in ("/collections/assets/items?limit=1", "/analysis/standards", "/collections/villages"):
        answer = _asgi_get(app, path, host, **headers)
        assert answer.status_code == status, (path, answer.text)
    assert _asgi_get(app, "/health", host).status_code == 200  # health stays open for load balancers


def test_settings_reference_documents_cors_and_read_access() -> None:
    from gis_service.settings import describe_markdown

    reference = describe_markdown()
    assert "GIS_CORS_ORIGINS" in reference and "GIS_READ_ACCESS" in reference
    documented = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert documented == reference, "regenerate: python -m gis_service.settings > docs/configuration.md"
    assert Settings(cors_origins=" a.example ,b.example,").cors_origin_list == ["a.example", "b.example"]

