"""The conformance rules on hand-made polygons (pure: no database)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from gis_service.analysis.conformance import Verdict, check_conformance, current_use
from gis_service.analysis.conformance_uses import (
    CONSTRUCTION_LAND_CODES,
    LAND_USES,
    PERMITTED_USES,
    load_permitted_uses,
)
from gis_service.analysis.planning_conformance import BUILT_LAND, conformance
from gis_service.analysis.planning_overlay import overlay_zones
from gis_service.errors import InvalidInputError
from tests.conformance_town import X0, Y0, shifted, zones_frame


def judge(shapes: list[object], uses: list[str], table: object = None) -> list:  # type: ignore[type-arg]
    overlay = overlay_zones(gpd.GeoSeries(shapes, crs=4544), zones_frame())
    return check_conformance(overlay, uses, table)  # type: ignore[arg-type]


def test_areas_and_shares_of_a_footprint_over_two_zones() -> None:
    [verdict] = judge([shifted(80, 0, 120, 40)], ["farming"])
    assert [(z.code, z.area_m2, z.share) for z in verdict.zones] == [("A", 800.0, 0.5), ("B", 800.0, 0.5)]
    assert verdict.on_permanent_farmland and not verdict.on_ecological_redline
    assert verdict.in_development_boundary == 0.0


def test_a_site_on_farmland_is_refused_for_a_building_use() -> None:
    [verdict] = judge([shifted(80, 0, 120, 40)], ["agency_station"])
    assert verdict.verdict == "not_conforming"
    assert "永久基本农田800.0㎡" in verdict.reasons[0].zh and "800.0 m²" in verdict.reasons[0].en


def test_a_point_on_farmland_is_refused_but_may_be_farmed() -> None:
    site = Point(X0 + 150, Y0 + 50)
    assert [v.verdict for v in judge([site, site], ["workshop", "farming"])] == ["not_conforming", "conforming"]


@pytest.mark.parametrize(("box", "use", "expected"), [
    ((10, 10, 50, 50), "agency_station", "conforming"),        # 0704 allows it
    ((10, 10, 50, 50), "kindergarten", "conditional"),         # 0704: village nursery only
    ((10, 10, 50, 50), "workshop", "not_conforming"),          # 0704 does not allow industry
    ((-3, 10, 97, 20), "agency_station", "conforming"),        # 97 % on 0704, 3 % on 0804: ≥ 95 %
    ((-10, 10, 90, 20), "agency_station", "not_conforming"),   # 90 % on 0704
    ((10, 110, 50, 150), "homestay", "conditional"),           # rural homestead 0703
    ((230, 10, 290, 50), "workshop", "conforming"),            # 1001, wholly inside the boundary
    ((210, 10, 250, 50), "workshop", "conditional"),           # 1001, 25 % outside the boundary
    ((600, 600, 650, 650), "workshop", "unknown"),             # no planning data
])
def test_verdicts(box: tuple[float, float, float, float], use: str, expected: str) -> None:
    [verdict] = judge([shifted(*box)], [use])
    assert verdict.verdict == expected, verdict.reasons


def test_conditional_reasons_quote_the_condition() -> None:
    homestay, workshop = judge([shifted(10, 110, 50, 150), shifted(210, 10, 250, 50)], ["homestay", "workshop"])
    assert any("宅基地" in r.zh and "村庄规划" in r.zh for r in homestay.reasons)
    assert any("25%" in r.zh and "城镇开发边界外" in r.zh for r in workshop.reasons)
    assert workshop.in_development_boundary == pytest.approx(0.75)
    [share] = judge([shifted(-10, 10, 90, 20)], ["agency_station"])
    assert share.fitting_share == pytest.approx(0.9) and "90%" in share.reasons[0].zh


def test_override_file_changes_the_table(tmp_path: Path) -> None:
    csv = tmp_path / "uses.csv"
    csv.write_text("key,use,level,condition_zh,condition_en\n0703,homestay,no,,\n0704,workshop,conditional,"
                   "限手工作坊,craft workshops only\n", encoding="utf-8")
    table = load_permitted_uses(csv)
    homestay, workshop = judge([shifted(10, 110, 50, 150), shifted(10, 10, 50, 50)], ["homestay", "workshop"],
                               table)
    assert (homestay.verdict, workshop.verdict) == ("not_conforming", "conditional")
    assert any("限手工作坊" in r.zh for r in workshop.reasons)
    as_json = tmp_path / "uses.json"
    as_json.write_text(json.dumps([{"key": "0704", "use": "shop", "level": "yes"}]), encoding="utf-8")
    shop = [shifted(10, 10, 50, 50)]
    assert judge(shop, ["shop"])[0].verdict == "conditional"  # built in: village shops only
    assert judge(shop, ["shop"], load_permitted_uses(as_json))[0].verdict == "conforming"


@pytest.mark.parametrize(("text", "message"), [
    ("key,use,level\n0704,sauna,yes\n", "row 2: unknown use 'sauna'"),
    ("key,use,level\nfarm,workshop,yes\n", "row 2: key 'farm'"),
    ("key,use,level\n0704,workshop,maybe\n", "row 2: level 'maybe'"),
])
def test_bad_override_file_names_the_row(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "uses.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message):
        load_permitted_uses(path)


def test_current_use_agrees_with_registration() -> None:
    shapes = [shifted(10, 10, 50, 50), shifted(80, 0, 120, 40), shifted(120, 20, 180, 80),
              shifted(120, 20, 180, 80), shifted(-10, 10, 90, 20), Point(X0 + 600, Y0 + 600),
              shifted(210, 10, 250, 50)]
    categories = ["school", "school", "land", "shop", "shop", "warehouse", "pond"]
    overlay = overlay_zones(gpd.GeoSeries(shapes, crs=4544), zones_frame())
    ours = check_conformance(overlay, [current_use(c) for c in categories])
    theirs = conformance(overlay, categories)  # type: ignore[arg-type]
    as_verdict = {True: {"conforming", "conditional"}, False: {"not_conforming"}, None: {"unknown"}}
    assert [v.verdict for v in ours] == ["conforming", "not_conforming", "conforming", "not_conforming",
                                         "conforming", "unknown", "not_conforming"]
    assert all(v.verdict in as_verdict[r.conforming] for v, r in zip(ours, theirs, strict=True))


def test_building_uses_are_allowed_only_on_land_registration_counts_as_built() -> None:
    """A new building use the table allows on a land-use code is on construction land for registration too, so a
    site judged conforming cannot be an asset whose registration says "not conforming" — except agricultural
    facility land (06, 设施农用地), where farm buildings are allowed without being construction land."""
    for row in PERMITTED_USES:
        if row.use in LAND_USES or not row.key.isdigit() or row.key.startswith("06"):
            continue
        assert BUILT_LAND.fits("other", row.key), row
        assert row.key.startswith(CONSTRUCTION_LAND_CODES)


def _half_on_a_parcel(*, boundary: tuple[float, float, float, float] | None) -> list[Verdict]:
    """A 20 × 10 m box whose left half lies on parcel 0704 (which ``boundary``, a development boundary, may
    cover as well), and a point on the parcel; nothing else is planned."""
    zones: list[tuple[str, tuple[float, float, float, float], str, str | None]] = [
        ("P", (0, 0, 10, 10), "village_construction", "0704")]
    if boundary is not None:
        zones.append(("K", boundary, "development_boundary", None))
    frame = gpd.GeoDataFrame({"code": [z[0] for z in zones], "zone_type": [z[2] for z in zones],
                              "land_use_code": [z[3] for z in zones]},
                             geometry=[shifted(*z[1]) for z in zones], crs=4544)
    overlay = overlay_zones(gpd.GeoSeries([shifted(0, 0, 20, 10), Point(X0 + 5, Y0 + 5)], crs=4544), frame)
    return check_conformance(overlay, ["agency_station", "agency_station"])


@pytest.mark.parametrize(("boundary", "expected", "fitting"), [
    (None, "unknown", 0.5),                     # the right half has no data
    ((-50, -50, 10, 60), "unknown", 0.5),       # the boundary lies over the parcel only: still no data there
    ((-50, -50, 12, 60), "unknown", 0.6),       # it reaches 2 m past the parcel: 10 % more on allowing land
    ((-50, -50, 60, 60), "conditional", 1.0),   # it covers the right half: the detailed plan decides there
])
def test_a_zone_without_a_code_judges_only_what_no_parcel_covers(
        boundary: tuple[float, float, float, float] | None, expected: str, fitting: float) -> None:
    box_verdict, point_verdict = _half_on_a_parcel(boundary=boundary)
    assert box_verdict.verdict == expected, box_verdict.reasons
    assert box_verdict.fitting_share == pytest.approx(fitting)
    if expected == "unknown":
        assert f"{1 - fitting:.0%}" in box_verdict.reasons[0].zh
    assert point_verdict.verdict == "conforming"  # a point on the parcel: the parcel alone decides
