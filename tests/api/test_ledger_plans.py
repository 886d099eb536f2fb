"""Revitalisation plans and documents over real HTTP on both backends: rules as problem+json, keys and villages,
If-Match races, strike-off with evidence in one request, upload limits, downloads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine, func, select

from gis_service.api import create_app
from gis_service.db.ledger import StoredDocument
from gis_service.services.users import UserService
from tests.api.conftest import serving, settings_for
from tests.ledger_plans_data import (
    EXE,
    IDLE_A,
    IDLE_B,
    IN_USE,
    TOWN_IDLE,
    VILLAGE_A,
    add_assets,
    image,
    pdf,
    plan_fields,
)

PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Server:
    http: httpx.Client
    engine: Engine
    uploads: Path
    admin: str
    editor: str
    village_editor: str
    viewer: str

    def as_(self, key: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", **headers}

    def create(self, asset: str = IDLE_A, **overrides: Any) -> httpx.Response:
        response = self.http.post("/ledger/plans", json=plan_fields(asset, **overrides), headers=self.as_(self.admin))
        assert response.status_code == 201, response.text
        return response

    def upload(self, key: str, asset: str, content: bytes, name: str, purpose: str = "photo",
               media_type: str = "application/octet-stream") -> httpx.Response:
        return self.http.post(f"/ledger/assets/{asset}/documents", headers=self.as_(key),
                              files={"file": (name, content, media_type)}, data={"purpose": purpose})

    def stored(self) -> tuple[int, list[Path]]:
        """Document rows and every file in the upload folder (temporary ones included)."""
        with self.engine.connect() as conn:
            rows = int(conn.execute(select(func.count()).select_from(StoredDocument)).scalar_one())
        files = sorted(p for p in self.uploads.rglob("*") if p.is_file() and p.name != ".lock")
        return rows, files


@contextmanager
def _server(engine: Engine, uploads: Path, **settings: Any) -> Iterator[Server]:
    users = UserService(engine)
    keys = [users.add(name, role, villages)[1] for name, role, villages in (
        ("zhang_admin", "admin", ()), ("li_editor", "editor", ()), ("chen_cadre", "editor", (VILLAGE_A,)),
        ("wang_leader", "viewer", ()))]
    app = create_app(settings_for(engine, uploads_dir=uploads, **settings), engine=engine)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield Server(http, engine, uploads, *keys)


@pytest.fixture
def start(engine: Engine, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start the API over the hand-made assets with the given settings (one server per test)."""
    add_assets(engine)
    with ExitStack() as stack:
        yield lambda **settings: stack.enter_context(_server(engine, tmp_path / "uploads", **settings))


@pytest.fixture
def server(start: Callable[..., Server]) -> Server:
    return start(upload_max_mb=0.25, upload_quota_mb=1)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return dict(response.json())


# ---------------------------------------------------------------------- plans


def test_create_read_and_labels(server: Server) -> None:
    created = server.create(TOWN_IDLE, mode="充实办公用房", target_use="办公用房")
    assert created.headers["ETag"] == '"1"'
    read = server.http.get(created.headers["Location"])
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'
    body = read.json()
    assert (body["mode"], body["mode_label"], body["status_label"]) == ("office_use", "充实办公用房", "待实施")
    assert body["ownership"] == "town_state" and body["overdue"] is True  # its deadline, 2021-12-31, has passed


def test_rules_and_bad_input_are_problems(server: Server) -> None:
    headers = server.as_(server.editor)
    in_use = _problem(server.http.post("/ledger/plans", json=plan_fields(IN_USE), headers=headers), 422)
    assert "only idle or partly idle assets need a revitalisation plan" in in_use["detail"]
    wrong_mode = _problem(server.http.post("/ledger/plans", json=plan_fields(TOWN_IDLE), headers=headers), 422)
    assert "不适用于镇国有资产" in wrong_mode["detail"]
    bad = _problem(server.http.post("/ledger/plans", json=plan_fields(deadline="2021-13-01", mode=""),
                                    headers=headers), 422)
    assert {p["field"] for p in bad["problems"]} == {"deadline", "mode"}
    _problem(server.http.post("/ledger/plans", json=plan_fields("JT-NOPE"), headers=headers), 404)
    server.create()
    _problem(server.http.post("/ledger/plans", json=plan_fields(), headers=headers), 409)
    _problem(server.http.post("/ledger/plans", content=b"{", headers=server.as_(server.admin,
                              **{"Content-Type": "application/json"})), 400)
    _problem(server.http.post("/ledger/plans", content=b"<plan/>", headers=server.as_(server.admin,
                              **{"Content-Type": "application/xml"})), 415)


def test_keys_and_roles(server: Server) -> None:
    assert server.http.post("/ledger/plans", json=plan_fields()).status_code == 401
    _problem(server.http.post("/ledger/plans", json=plan_fields(), headers=server.as_(server.viewer)), 403)
    assert server.http.get("/ledger/plans").status_code == 200  # reads are open to this machine


def test_village_editor_cannot_touch_another_village_by_any_route(server: Server) -> None:
    key = server.village_editor
    _problem(server.http.post("/ledger/plans", json=plan_fields(IDLE_B), headers=server.as_(key)), 403)
    other = server.create(IDLE_B).json()
    url = f"/ledger/plans/{other['id']}"
    _problem(server.http.patch(url, json={"note": "越权"}, headers=server.as_(key)), 403)
    _problem(server.http.post(f"{url}/strike-off", headers=server.as_(key),
                              files={"evidence": ("x.jpg", image(), "image/jpeg")}), 403)
    _problem(server.upload(key, IDLE_B, image(), "x.jpg"), 403)
    _problem(server.upload(key, TOWN_IDLE, image(), "x.jpg"), 403)  # town assets belong to the whole town
    assert server.stored() == (0, [])
    own = server.http.post("/ledger/plans", json=plan_fields(IDLE_A), headers=server.as_(key))
    assert own.status_code == 201
    assert server.upload(key, IDLE_A, image(), "own.jpg").status_code == 201


def test_two_clients_patch_one_version(server: Server) -> None:
    plan = server.create().json()
    url = f"/ledger/plans/{plan['id']}"
    first = server.http.patch(url, json={"status": "in_progress"}, headers=server.as_(server.admin, **{
        "If-Match": '"1"'}))
    second = server.http.patch(url, json={"lead_unit": "村委会"}, headers=server.as_(server.editor, **{
        "If-Match": '"1"'}))
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    assert "changed since you read it" in _problem(second, 412)["detail"]
    assert server.http.get(url).json()["lead_unit"] == "蓬莱镇党政办"


def test_concurrent_patches_have_one_winner(server: Server) -> None:
    plan = server.create().json()
    url = f"/ledger/plans/{plan['id']}"

    def patch(n: int) -> int:
        with httpx.Client(base_url=str(server.http.base_url), timeout=30) as client:
            return client.patch(url, json={"note": f"writer {n}"},
                                headers=server.as_(server.admin, **{"If-Match": '"1"'})).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(patch, range(8)))
    assert codes == [200] + [412] * 7
    history = server.http.get(f"{url}/history").json()["versions"]
    assert [v["action"] for v in history] == ["create", "update"]


def test_if_match_required_when_configured(start: Callable[..., Server]) -> None:
    server = start(require_if_match=True)
    plan = server.create().json()
    url = f"/ledger/plans/{plan['id']}"
    _problem(server.http.patch(url, json={"note": "x"}, headers=server.as_(server.admin)), 428)
    _problem(server.http.post(f"{url}/strike-off", json={}, headers=server.as_(server.admin)), 428)
    ok = server.http.patch(url, json={"note": "x"}, headers=server.as_(server.admin, **{"If-Match": 'W/"1"'}))
    assert ok.status_code == 200


def test_strike_off_with_evidence_in_one_request_and_history(server: Server) -> None:
    plan = server.create().json()
    url = f"/ledger/plans/{plan['id']}"
    refused = server.http.post(f"{url}/strike-off", json={"note": "没有照片"}, headers=server.as_(server.admin))
    assert "without evidence" in _problem(refused, 422)["detail"]
    photo = image("PNG")
    done = server.http.post(f"{url}/strike-off", headers=server.as_(server.admin, **{"If-Match": '"1"'}),
                            files=[("evidence", ("竣工 照片.png", photo, "image/png")),
                                   ("evidence", ("验收单.pdf", pdf(), "application/pdf"))],
                            data={"note": "已改建为便民服务代办站", "date": "2021-11-30"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["struck_off_on"], body["evidence_note"]) == ("struck_off", "2021-11-30",
                                                                              "已改建为便民服务代办站")
    assert len(body["evidence"]) == 2 and done.headers["ETag"] == '"2"'
    history = server.http.get(f"{url}/history").json()["versions"]
    assert [(v["action"], v["after"]["status"]) for v in history] == [("create", "pending"),
                                                                      ("strike_off", "struck_off")]
    download = server.http.get(f"/ledger/documents/{body['evidence'][0]}")
    assert download.status_code == 200 and download.content == photo
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        f"inline; filename=\"__ __.png\"; filename*=UTF-8''{quote('竣工 照片.png', safe='')}")
    pdf_download = server.http.get(f"/ledger/documents/{body['evidence'][1]}")
    assert pdf_download.headers["content-disposition"].startswith("attachment;")
    again = server.http.post(f"{url}/strike-off", json={}, headers=server.as_(server.admin))
    _problem(again, 409)


def test_strike_off_naming_documents_uploaded_before(server: Server) -> None:
    plan = server.create().json()
    uploaded = server.upload(server.editor, IDLE_A, pdf("验收"), "验收.pdf", purpose="销号佐证").json()
    assert uploaded["plan_id"] == plan["id"] and uploaded["purpose_label"] == "销号佐证"
    bad = server.http.post(f"/ledger/plans/{plan['id']}/strike-off", json={"documents": ["abc"], "date": "昨天"},
                           headers=server.as_(server.editor))
    assert {p["field"] for p in _problem(bad, 422)["problems"]} == {"documents", "date"}
    done = server.http.post(f"/ledger/plans/{plan['id']}/strike-off", json={"documents": [uploaded["id"]]},
                            headers=server.as_(server.editor))
    assert done.status_code == 200 and done.json()["evidence"] == [uploaded["id"]]


def test_list_filters_and_geojson(server: Server) -> None:
    a = server.create(IDLE_A, deadline="2030-01-01").json()
    b = server.create(IDLE_B, mode="市场运营开发", target_use="民宿", lead_unit="二村村委会").json()
    listed = server.http.get("/ledger/plans").json()
    assert [p["id"] for p in listed["plans"]] == [b["id"], a["id"]] and listed["numberReturned"] == 2
    assert [p["id"] for p in server.http.get("/ledger/plans", params={"overdue": "true", "as_of": "2022-01-01"}
                                             ).json()["plans"]] == [b["id"]]
    assert [p["id"] for p in server.http.get("/ledger/plans", params={"village_code": VILLAGE_A}).json()["plans"]
            ] == [a["id"]]
    assert [p["id"] for p in server.http.get("/ledger/plans", params={"lead_unit": "二村"}).json()["plans"]
            ] == [b["id"]]
    assert [p["id"] for p in server.http.get("/ledger/plans", params={"mode": "market_operation"}).json()["plans"]
            ] == [b["id"]]
    _problem(server.http.get("/ledger/plans", params={"status": "done"}), 422)
    collection = server.http.get("/ledger/plans", params={"f": "geojson", "status": "待实施"})
    assert collection.headers["content-type"] == "application/geo+json"
    features = collection.json()["features"]
    assert [f["id"] for f in features] == [b["id"], a["id"]]
    assert features[1]["geometry"] == {"type": "Point", "coordinates": pytest.approx([105.25, 30.60])}
    assert features[0]["properties"]["mode_label"] == "市场运营开发"


def test_labels_in_english(start: Callable[..., Server]) -> None:
    server = start(language="en")
    plan = server.create().json()
    assert (plan["mode_label"], plan["status_label"]) == ("convenience services", "pending")


# ---------------------------------------------------------------------- uploads


def test_same_content_is_stored_once_and_names_stay_metadata(server: Server) -> None:
    content = image("JPEG")
    first = server.upload(server.admin, IDLE_A, content, "../../../../tmp/evil.jpg")
    second = server.upload(server.admin, IDLE_B, content, "..\\..\\again.jpeg", media_type="image/jpeg")
    assert first.status_code == 201 and second.status_code == 201, first.text + second.text
    assert first.json()["original_name"] == "evil.jpg" and second.json()["original_name"] == "again.jpeg"
    sha = hashlib.sha256(content).hexdigest()
    assert first.json()["sha256"] == second.json()["sha256"] == sha
    assert server.stored() == (2, [server.uploads / sha[:2] / sha])
    listed = server.http.get(f"/ledger/assets/{IDLE_A}/documents").json()["documents"]
    assert [d["id"] for d in listed] == [first.json()["id"]]
    _problem(server.http.get("/ledger/assets/JT-NOPE/documents"), 404)
    _problem(server.http.get("/ledger/documents/99"), 404)


@pytest.mark.parametrize(("content", "name", "media_type", "status", "says"), [
    (EXE, "photo.jpg", "image/jpeg", 415, "is not a JPEG, PNG, WebP or PDF file"),
    (image("JPEG"), "photo.png", "image/png", 415, "contains JPEG"),
    (image("PNG", size=64)[:-30], "cut.png", "image/png", 422, "no PNG IEND chunk"),
    (pdf()[:-7], "cut.pdf", "application/pdf", 422, "no %%EOF"),
    (b"\xff\xd8\xff" + b"\x00" * 300 * 1024, "big.jpg", "image/jpeg", 413, "larger than"),
])
def test_refused_uploads_leave_nothing(server: Server, content: bytes, name: str, media_type: str, status: int,
                                       says: str) -> None:
    refused = server.upload(server.admin, IDLE_A, content, name, media_type=media_type)
    assert says in _problem(refused, status)["detail"]
    assert server.stored() == (0, [])


def test_upload_needs_multipart_file_and_purpose(server: Server) -> None:
    url = f"/ledger/assets/{IDLE_A}/documents"
    _problem(server.http.post(url, content=image(), headers=server.as_(server.admin, **{
        "Content-Type": "image/jpeg"})), 415)
    _problem(server.http.post(url, data={"purpose": "photo"}, files={"other": ("a.jpg", image(), "image/jpeg")},
                              headers=server.as_(server.admin)), 400)
    missing = _problem(server.upload(server.admin, IDLE_A, image(), "a.jpg", purpose="自拍"), 422)
    assert missing["problems"][0]["field"] == "purpose"
    assert server.stored() == (0, [])


def test_full_upload_folder_refuses_new_files(start: Callable[..., Server]) -> None:
    first = image("PNG", size=48)
    server = start(upload_quota_mb=(len(first) + 16) / 2**20)
    assert server.upload(server.admin, IDLE_A, first, "a.png").status_code == 201
    full = server.upload(server.admin, IDLE_A, image("PNG", colour=(0, 0, 255), size=48), "b.png")
    assert "nothing was stored" in _problem(full, 507)["detail"]
    rows, files = server.stored()
    assert rows == 1 and len(files) == 1
    plan = server.create().json()
    strike = server.http.post(f"/ledger/plans/{plan['id']}/strike-off", headers=server.as_(server.admin),
                              files={"evidence": ("c.jpg", image(colour=(1, 1, 1)), "image/jpeg")})
    _problem(strike, 507)
    assert server.stored() == (1, files)
    assert server.http.get(f"/ledger/plans/{plan['id']}").json()["status"] == "pending"


def test_upload_without_length_is_cut_off_while_it_arrives(server: Server) -> None:
    boundary = "h1-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nphoto\r\n--{boundary}\r\n"
            f"Content-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode()

    def body() -> Iterator[bytes]:  # chunked: the server cannot know the size in advance
        yield head + b"\xff\xd8\xff"
        for _ in range(64):  # 1 MB in all, four times the limit
            yield b"\x00" * 16 * 1024

    refused = server.http.post(f"/ledger/assets/{IDLE_A}/documents", content=body(), headers=server.as_(
        server.admin, **{"Content-Type": f"multipart/form-data; boundary={boundary}"}))
    # Refused by the limit on the arriving body (the message of the store's own limit names the file).
    assert "the upload is larger than 1 x 0.2 MB" in _problem(refused, 413)["detail"]
    assert server.stored() == (0, [])


@pytest.mark.parametrize("file_field", ["date", "note"])
def test_strike_off_with_a_field_sent_as_file_leaves_no_temporary_file(server: Server, file_field: str) -> None:
    plan = server.create().json()
    files = [("evidence", ("竣工.jpg", image(), "image/jpeg")), (file_field, ("x.txt", b"2021-11-30", "text/plain"))]
    refused = server.http.post(f"/ledger/plans/{plan['id']}/strike-off", headers=server.as_(server.admin),
                               files=files)
    assert f"'{file_field}' must be a text field" in _problem(refused, 400)["detail"]
    assert server.stored() == (0, [])  # no ".upload-*.part" left in the upload folder
    assert server.http.get(f"/ledger/plans/{plan['id']}").json()["status"] == "pending"


@pytest.mark.parametrize("documents", [["²"], ["٣"], ["1" * 5000], [0], [2**31]])
def test_strike_off_refuses_what_only_looks_like_a_document_id(server: Server, documents: list[Any]) -> None:
    plan = server.create().json()
    url = f"/ledger/plans/{plan['id']}/strike-off"
    as_json = _problem(server.http.post(url, json={"documents": documents}, headers=server.as_(server.admin)), 422)
    assert [p["field"] for p in as_json["problems"]] == ["documents"]
    as_form = server.http.post(url, headers=server.as_(server.admin), data={"documents": str(documents[0])},
                               files={"evidence": ("竣工.jpg", image(), "image/jpeg")})
    assert [p["field"] for p in _problem(as_form, 422)["problems"]] == ["documents"]
    assert server.stored() == (0, [])


def test_evidence_for_a_struck_off_plan_is_refused(server: Server) -> None:
    plan = server.create().json()
    url = f"/ledger/plans/{plan['id']}"
    done = server.http.post(f"{url}/strike-off", headers=server.as_(server.admin),
                            files={"evidence": ("竣工.jpg", image(), "image/jpeg")})
    assert done.status_code == 200, done.text
    late = server.upload(server.admin, IDLE_A, pdf("补充"), "补充.pdf", purpose="evidence")
    assert "evidence is closed" in _problem(late, 409)["detail"]
    photo = server.upload(server.admin, IDLE_A, pdf("补充"), "补充.pdf", purpose="other")
    assert photo.status_code == 201 and photo.json()["plan_id"] is None
    after = server.http.get(url)
    assert after.headers["ETag"] == done.headers["ETag"] and after.json()["evidence"] == done.json()["evidence"]
    assert len(server.http.get(f"{url}/history").json()["versions"]) == 2
