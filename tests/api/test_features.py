"""OGC API - Features Part 1 and 2 over real HTTP, on both backends."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
import shapely
from shapely.geometry import shape

from gis_service.db.migrate import head_revision
from gis_service.services.layers import LayerService
from tests.api.conftest import LiveServer

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def test_landing_page_links(client: httpx.Client) -> None:
    body = client.get("/").json()
    rels = {link["rel"]: link["type"] for link in body["links"]}
    assert rels["service-desc"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["data"] == "application/json"
    assert "conformance" in rels
    assert client.get("/api").json()["paths"]["/collections/{collection_id}/items"]


def test_limit_declared_in_openapi(client: httpx.Client) -> None:
    params = client.get("/api").json()["paths"]["/collections/{collection_id}/items"]["get"]["parameters"]
    limit = next(p for p in params if p["name"] == "limit")["schema"]
    assert limit["default"] == 10 and limit["maximum"] == 10_000


def test_paging_walks_every_feature_once(client: httpx.Client, live: LiveServer) -> None:
    total = LayerService(live.engine).summaries()[6].stats.count  # settlements
    seen: list[int] = []
    url: str | None = "/collections/settlements/items?limit=250"
    while url:
        page = client.get(url).json()
        assert page["numberMatched"] == total
        assert page["numberReturned"] == len(page["features"])
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen)  # stable order by id


def test_limit_above_maximum_is_reduced_not_refused(client: httpx.Client) -> None:
    page = client.get("/collections/settlements/items", params={"limit": 50_000}).json()
    assert page["numberReturned"] == min(10_000, page["numberMatched"])


def test_bbox_and_property_filter(client: httpx.Client, live: LiveServer) -> None:
    frame = LayerService(live.engine).read("assets")
    idle = frame[frame["use_status"] == "idle"]
    minx, miny, maxx, maxy = idle.total_bounds
    box = (minx + (maxx - minx) / 4, miny + (maxy - miny) / 4, maxx - (maxx - minx) / 4, maxy - (maxy - miny) / 4)
    expected = idle[idle.intersects(shapely.box(*box))]
    page = client.get("/collections/assets/items",
                      params={"bbox": ",".join(map(str, box)), "use_status": "闲置", "limit": 1000}).json()
    assert sorted(f["properties"]["code"] for f in page["features"]) == sorted(expected["code"])
    assert page["numberMatched"] == len(expected) > 0


def test_bbox_in_projected_crs(client: httpx.Client) -> None:
    all_features = client.get("/collections/villages/items", params={"limit": 100}).json()
    box_4544 = "3380000,520000,3390000,530000"  # northing, easting: EPSG:4544 axis order
    inside = client.get("/collections/villages/items",
                        params={"bbox": box_4544, "bbox-crs": f"{EPSG}4544", "limit": 100}).json()
    assert 0 < inside["numberMatched"] <= all_features["numberMatched"]


@pytest.mark.parametrize(("crs", "swap"), [(CRS84, False), (f"{EPSG}4326", True), (f"{EPSG}4490", True)])
def test_crs_and_axis_order(client: httpx.Client, crs: str, swap: bool) -> None:
    plain = client.get("/collections/schools/items/1").json()["geometry"]["coordinates"]
    response = client.get("/collections/schools/items/1", params={"crs": crs})
    assert response.headers["Content-Crs"] == f"<{crs}>"
    coords = response.json()["geometry"]["coordinates"]
    assert coords == pytest.approx(plain[::-1] if swap else plain)


def test_projected_output_is_northing_easting(client: httpx.Client) -> None:
    coords = client.get("/collections/schools/items/1", params={"crs": f"{EPSG}4544"}).json()["geometry"]["coordinates"]
    northing, easting = coords
    assert 3_370_000 < northing < 3_400_000 and 500_000 < easting < 540_000


def test_collection_lists_crs_and_storage_crs(client: httpx.Client) -> None:
    body = client.get("/collections/assets").json()
    assert body["storageCrs"] == f"{EPSG}4490"
    assert {f"{EPSG}4544", f"{EPSG}4523", CRS84} <= set(body["crs"])


def test_properties_sortby_and_csv(client: httpx.Client) -> None:
    page = client.get("/collections/settlements/items",
                      params={"properties": "code,population", "sortby": "-population", "limit": 5}).json()
    populations = [f["properties"]["population"] for f in page["features"]]
    assert populations == sorted(populations, reverse=True)
    assert set(page["features"][0]["properties"]) == {"code", "population"}
    text = client.get("/collections/settlements/items", params={"f": "csv", "limit": 3}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["居民点编码", "居民点名称"] and len(rows) == 4


def test_item_has_etag_and_html(client: httpx.Client) -> None:
    response = client.get("/collections/assets/items/1")
    assert response.headers["ETag"].startswith('"')
    assert shape(response.json()["geometry"]).geom_type == "Point"
    page = client.get("/collections/assets/items/1", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and "资产名称" in page.text


@pytest.mark.parametrize(
    ("url", "status"),
    [("/collections/nope/items", 404), ("/collections/assets/items/999999", 404),
     ("/collections/assets/items?limit=abc", 400), ("/collections/assets/items?bbox=1,2,3", 400),
     ("/collections/assets/items?crs=EPSG:3857", 400), ("/collections/assets/items?sortby=nope", 400),
     ("/collections/assets/items?unknown=1", 400), ("/collections/assets/items?population=abc", 400),
     ("/collections/assets/items/abc", 400)],
)
def test_errors_are_problem_json(client: httpx.Client, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["detail"]


@pytest.mark.parametrize(
    "url",
    ["/collections/assets/items/100000000000000000000", "/collections/assets/items?offset=100000000000000000000",
     "/collections/settlements/items?population=1e30",
     "/collections/settlements/items?population=100000000000000000000"],
)
def test_huge_numbers_are_client_errors(client: httpx.Client, url: str) -> None:
    response = client.get(url)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


def test_etag_is_of_the_content_and_answers_if_none_match(client: httpx.Client) -> None:
    """The tag names the feature's content, so an editor can send back the tag of any CRS it read."""
    plain = client.get("/collections/assets/items/1")
    swapped = client.get("/collections/assets/items/1", params={"crs": f"{EPSG}4326"})
    other = client.get("/collections/assets/items/2")
    assert plain.headers["ETag"] == swapped.headers["ETag"] != other.headers["ETag"]
    again = client.get("/collections/assets/items/1", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_csv_honours_the_requested_crs(client: httpx.Client) -> None:
    response = client.get("/collections/schools/items", params={"f": "csv", "crs": f"{EPSG}4544", "limit": 2})
    assert response.headers["Content-Crs"] == f"<{EPSG}4544>"
    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert "东坐标(EPSG:4544)" in header and "北坐标(EPSG:4544)" in header


def test_health_and_readiness(client: httpx.Client, live: LiveServer) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["schema"] == head_revision()
    assert ready["database"] == ("sqlite" if live.backend == "spatialite" else "postgresql")


@pytest.mark.parametrize("url", ["/ledger/transfers?status=%00", "/collections/assets/items?code=a%00b",
                                 "/scenarios/%00", "/analysis/coverage?standard=%00"])
def test_a_nul_byte_anywhere_is_a_400_problem(client: httpx.Client, url: str) -> None:
    # Found by the fuzzer on PostgreSQL (which refuses NUL in text): one guard for every route.
    response = client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_nul_character_inside_a_json_value_is_never_a_500(client: httpx.Client, live: LiveServer) -> None:
    # Found by the fuzzer: PostgreSQL refuses NUL in text; the value is the client's fault (400, nothing written).
    from gis_service.services.users import UserService

    key = UserService(live.engine).add(f"nul_{live.backend}", "admin")[1]
    body = {"former_village_code": "510923100221", "kind": "debt", "counterparty": "a\u0000b", "amount": 1.5}
    response = client.post("/ledger/claims", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code < 500, response.text
    if live.backend == "postgis":
        assert response.status_code == 400 and "NUL" in response.json()["detail"]
