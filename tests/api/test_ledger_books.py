"""/ledger books endpoints over real HTTP on both backends: transfers, claims, check, reconciliation, progress."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from gis_service.api import create_app
from gis_service.services.users import UserService
from tests.api.conftest import serving, settings_for
from tests.conftest import BACKENDS, make_engine
from tests.ledger_books_town import F1, F2, TOWN, V1, V2, load


@dataclass(frozen=True)
class Town:
    url: str
    editor: str
    viewer: str
    cadre_v2: str


@pytest.fixture(scope="module", params=BACKENDS)
def town(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    directory = tmp_path_factory.mktemp(f"ledger-books-{request.param}")
    engine = make_engine(str(request.param), request, directory)
    load(engine, directory)
    users = UserService(engine)
    keys = (users.add("li_editor", "editor")[1], users.add("wang_leader", "viewer")[1],
            users.add("chen_cadre", "editor", [V2])[1])
    with serving(create_app(settings_for(engine), engine=engine)) as url:
        yield Town(url, *keys)
    engine.dispose()


@pytest.fixture
def http(town: Town) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=town.url, timeout=30) as client:
        yield client


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_transfer_record_complete_and_read(http: httpx.Client, town: Town) -> None:
    created = http.post("/ledger/transfers", json={"asset_code": "JT-001", "from_code": F1, "to_code": V1},
                        headers=_as(town.editor))
    assert created.status_code == 201, created.text
    transfer = created.json()
    assert (transfer["status"], transfer["status_label"]) == ("pending", "待移交")
    assert http.get(created.headers["Location"]).json()["id"] == transfer["id"]
    done = http.patch(f"/ledger/transfers/{transfer['id']}", headers=_as(town.editor),
                      json={"transfer_date": "2021-05-20", "approval": "蓬府〔2021〕12号"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    again = http.patch(f"/ledger/transfers/{transfer['id']}", headers=_as(town.editor),
                       json={"transfer_date": "2021-05-20", "approval": "x"})
    assert again.status_code == 409
    asset = http.get("/collections/assets/items", params={"code": "JT-001"}).json()["features"][0]
    assert asset["properties"]["owner_code"] == V1
    listed = http.get("/ledger/transfers", params={"status": "completed", "asset_code": "JT-001"}).json()
    assert listed["numberMatched"] == 1


@pytest.mark.parametrize(("body", "key", "status", "text"), [
    ({"asset_code": "JT-002", "from_code": F2, "to_code": V1}, "editor", 422, "is owned by"),
    ({"asset_code": "JT-002", "from_code": V1, "to_code": F1}, "editor", 422, "former (dissolved) village"),
    ({"asset_code": "NOPE", "from_code": V1, "to_code": V2}, "editor", 404, "no asset with code"),
    ({"asset_code": "JT-002", "from_code": V1}, "editor", 400, "to_code"),
    ({"asset_code": "JT-002", "from_code": V1, "to_code": V2}, "viewer", 403, "viewer"),
    ({"asset_code": "JT-002", "from_code": V1, "to_code": V2}, "cadre_v2", 403, "510923100201"),
    ({"asset_code": "JT-002", "from_code": V1, "to_code": V2}, "", 401, "API key"),
])
def test_transfer_problems(http: httpx.Client, town: Town, body: dict[str, str], key: str, status: int,
                           text: str) -> None:
    headers = _as(getattr(town, key)) if key else {}
    response = http.post("/ledger/transfers", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert text in response.json()["detail"]


def test_claims(http: httpx.Client, town: Town) -> None:
    created = http.post("/ledger/claims", headers=_as(town.editor),
                        json={"former_village_code": F2, "kind": "债权", "counterparty": "承包户", "amount": 2.5})
    assert created.status_code == 201, created.text
    claim = created.json()
    assert (claim["kind"], claim["kind_label"]) == ("claim", "债权")
    bad = http.post("/ledger/claims", headers=_as(town.editor),
                    json={"former_village_code": F2, "kind": "claim", "counterparty": "x", "amount": -1})
    assert bad.status_code == 400 and "amount" in bad.json()["detail"]
    moved = http.post(f"/ledger/claims/{claim['id']}/transfer", headers=_as(town.editor),
                      json={"transfer_date": "2021-05-25", "approval": "蓬府〔2021〕13号"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["to_code"] == V1
    assert http.get("/ledger/claims", params={"former_village_code": F2}).json()["numberMatched"] == 1


def test_check_json_and_geojson(http: httpx.Client) -> None:
    report = http.get("/ledger/check").json()
    assert [o["code"] for o in report["outsideVillage"]] == ["JT-005"]
    assert report["duplicateCodes"][0]["codes"] == ["JT-001", "jt-001"]
    assert http.get("/ledger/check", params={"within_m": 5}).json()["duplicateNames"] == []
    flagged = http.get("/ledger/check", params={"f": "geojson"})
    assert flagged.headers["content-type"] == "application/geo+json"
    features = {f["id"]: f for f in flagged.json()["features"]}
    assert features["JT-005"]["properties"]["problems"] == ["no_location_text", "outside_village",
                                                            "outside_former_village"]
    assert http.get("/ledger/check", params={"f": "csv"}).status_code == 400
    assert http.get("/ledger/check", params={"within_m": 500}).json()["withinM"] == 500
    too_far = http.get("/ledger/check", params={"within_m": 10_000})
    assert too_far.status_code == 400 and too_far.headers["content-type"] == "application/problem+json"
    assert "within_m" in too_far.json()["detail"] and "500" in too_far.json()["detail"]


def test_reconciliation(http: httpx.Client) -> None:
    body = http.get("/ledger/reconciliation", params={"assets": "false"}).json()
    assert "assets" not in body
    assert body["townBefore"]["count"] == body["townAfter"]["count"] == 5
    assert body["balanced"] is True, body["causes"]


def test_progress_and_milestones(http: httpx.Client, town: Town) -> None:
    body = http.get("/ledger/progress", params={"as_of": "2021-10-15"}).json()
    assert body["asOf"] == "2021-10-15"
    before = http.get("/ledger/progress", params={"as_of": "2021-04-01"}).json()
    assert {s["key"]: s["count"] for s in before["byPlanStatus"]} == {"none": 3}  # no plan in this town yet
    inventory = body["milestones"][0]
    assert inventory["key"] == "inventory" and inventory["due"] == "2021-03-31"
    assert {v["code"]: v["state"] for v in inventory["villages"]} == {V1: "missed", V2: "met"}
    assert http.get("/ledger/progress", params={"as_of": "tomorrow"}).status_code == 400
    put = http.put("/ledger/milestones/inventory", json={"due": "2021-04-30"}, headers=_as(town.editor))
    assert put.status_code == 200, put.text
    assert put.json()["source"] == "set"
    listed = http.get("/ledger/milestones").json()["milestones"]
    assert (listed[0]["due"], listed[0]["label"]) == ("2021-04-30", "资产清查")
    assert http.put("/ledger/milestones/inventory", json={"due": "2021-04-30"},
                    headers=_as(town.cadre_v2)).status_code == 403
    assert http.put("/ledger/milestones/harvest", json={"due": "2021-04-30"},
                    headers=_as(town.editor)).status_code == 404


def test_transfer_owner_unit_follows_the_receiver(http: httpx.Client, town: Town) -> None:
    def complete(asset: str, giver: str, receiver: str) -> dict[str, object]:
        created = http.post("/ledger/transfers", json={"asset_code": asset, "from_code": giver, "to_code": receiver},
                            headers=_as(town.editor))
        assert created.status_code == 201, created.text
        done = http.patch(f"/ledger/transfers/{created.json()['id']}", headers=_as(town.editor),
                          json={"transfer_date": "2021-05-20", "approval": "蓬府〔2021〕14号"})
        assert done.status_code == 200, done.text
        return dict(done.json())

    to_town = complete("JT-002", V1, TOWN)
    assert (to_town["owner_unit"], to_town["owner_unit_kept"]) == ("蓬莱镇人民政府", False)
    assert "owner_unit_warning" not in to_town
    asset = http.get("/collections/assets/items", params={"code": "JT-002"}).json()["features"][0]
    assert (asset["properties"]["owner_code"], asset["properties"]["owner_unit"]) == (TOWN, "蓬莱镇人民政府")
    to_unit = complete("JT-002", TOWN, "12510923MB0001234X")
    assert (to_unit["owner_unit"], to_unit["owner_unit_kept"]) == ("蓬莱镇人民政府", True)
    assert "产权单位仍为“蓬莱镇人民政府”" in str(to_unit["owner_unit_warning"])
