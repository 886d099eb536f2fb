"""The planning overlay and conformance against polygons whose areas are computed by hand (EPSG:4544 metres)."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from gis_service.analysis.planning_conformance import BUILT_LAND, RULES, conformance
from gis_service.analysis.planning_overlay import overlay_zones
from gis_service.errors import InvalidInputError

X0, Y0 = 524_000.0, 3_381_000.0  # near Penglai in EPSG:4544


def at(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom`` drawn in local metres, moved to the town."""
    return shapely.affinity.translate(geom, X0, Y0)


@pytest.fixture
def zones() -> gpd.GeoDataFrame:
    # A: construction parcel 0-100; B: permanent farmland 100-200; D: development boundary 50-150 over both.
    return gpd.GeoDataFrame(
        {"code": ["A", "B", "D"], "zone_type": ["village_construction", "permanent_farmland", "development_boundary"],
         "land_use_code": ["0703", "0101", None]},
        geometry=[at(box(0, 0, 100, 100)), at(box(100, 0, 200, 100)), at(box(50, 0, 150, 100))], crs=4544)


def features(*geoms: shapely.Geometry | None) -> gpd.GeoSeries:
    return gpd.GeoSeries([None if g is None else at(g) for g in geoms], crs=4544)


def test_areas_and_shares_of_a_footprint(zones: gpd.GeoDataFrame) -> None:
    # 40 x 50 m = 2000 m²: 20 x 50 on A, 20 x 50 on B, all of it inside D.
    result = overlay_zones(features(box(80, 20, 120, 70)), zones)
    assert result.pairs[["feature", "zone"]].values.tolist() == [[0, 0], [0, 1], [0, 2]]
    assert result.pairs["area_m2"].tolist() == pytest.approx([1000.0, 1000.0, 2000.0])
    assert result.pairs["share"].tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert result.touches("permanent_farmland").tolist() == [True]
    assert result.touches("ecological_redline").tolist() == [False]
    # The union of A and D is the whole footprint: the overlap of A and D is counted once, not 1.5 times.
    assert result.covered_share(result.zone_mask({"village_construction", "development_boundary"})) == \
        pytest.approx([1.0])
    assert result.covered_share(result.zone_mask({"village_construction"})) == pytest.approx([0.5])


def test_points_get_their_containing_zones_and_nothing_elsewhere(zones: gpd.GeoDataFrame) -> None:
    result = overlay_zones(features(Point(10, 10), Point(120, 50), Point(500, 500), None), zones)
    assert result.pairs[["feature", "zone"]].values.tolist() == [[0, 0], [1, 1], [1, 2]]
    assert result.pairs["area_m2"].tolist() == [0, 0, 0]
    assert result.pairs["share"].tolist() == [1, 1, 1]
    assert result.touches("permanent_farmland").tolist() == [False, True, False, False]
    assert result.covered_share(np.ones(3, dtype=bool)).tolist() == [1, 1, 0, 0]


def test_slivers_are_not_touches(zones: gpd.GeoDataFrame) -> None:
    # 10.05 x 10 m: 100 m² on A and a 0.5 m² sliver on B, below the 1 m² digitising tolerance.
    result = overlay_zones(features(box(90, 0, 100.05, 10)), zones)
    assert result.pairs["zone"].tolist() == [0, 2]
    assert result.pairs["area_m2"].tolist() == pytest.approx([100.0, 100.5])
    assert not result.touches("permanent_farmland")[0]


@pytest.mark.parametrize(("crs", "message"), [(4490, "projected CRS"), (None, "projected CRS")])
def test_geographic_or_missing_crs_is_refused(zones: gpd.GeoDataFrame, crs: int | None, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        overlay_zones(gpd.GeoSeries([Point(105.2, 30.5)], crs=crs), zones)


@pytest.mark.parametrize(("rule", "zone_type", "code", "fits"), [
    (BUILT_LAND, "village_construction", "0703", True),
    (BUILT_LAND, "other", "0804", True),  # education land is construction land
    (BUILT_LAND, "other", "1402", True),
    (BUILT_LAND, "general_farmland", "0101", False),
    (BUILT_LAND, "permanent_farmland", "0704", False),  # a forbidden zone never fits
    (BUILT_LAND, "ecological_redline", None, False),
    (RULES["pond"], "water", None, True),
    (RULES["pond"], "other", "1704", True),
    (RULES["pond"], "general_farmland", "0101", False),
    (RULES["forest"], "ecological_redline", "0301", True),  # forest inside the red line is forest land
    (RULES["land"], "permanent_farmland", "0101", True),
    (RULES["reservoir"], "forest", "0301", False),
])
def test_rule_table(rule: object, zone_type: str, code: str | None, fits: bool) -> None:
    assert rule.fits(zone_type, code) is fits  # type: ignore[attr-defined]


def test_conformance_verdicts_and_reasons(zones: gpd.GeoDataFrame) -> None:
    water = gpd.GeoDataFrame({"code": ["W"], "zone_type": ["water"], "land_use_code": ["1704"]},
                             geometry=[at(box(300, 0, 400, 100))], crs=4544)
    all_zones = gpd.GeoDataFrame(gpd.pd.concat([zones, water], ignore_index=True), crs=4544)
    result = overlay_zones(features(
        box(10, 10, 40, 30),      # shop on construction land
        box(80, 20, 120, 70),     # shop half on permanent farmland
        Point(350, 50),           # pond on water
        Point(350, 50),           # shop on water
        Point(900, 900),          # shop where there is no planning data
        box(-50, 10, -10, 30),    # shop entirely outside every zone
        box(-10, 10, 30, 30),     # shop 3/4 on construction land, 1/4 without data
    ), all_zones)
    verdicts = conformance(result, ["shop", "shop", "pond", "shop", "shop", "shop", "shop"])
    assert [v.conforming for v in verdicts] == [True, False, True, False, None, None, None]
    assert verdicts[0].reason_zh == "位于建设用地(村庄建设用地 0703)"
    assert verdicts[1].reason_zh == "占用永久基本农田1000.0㎡"
    assert verdicts[1].reason_en == "overlaps permanent basic farmland by 1000.0 m²"
    assert verdicts[3].reason_en == "not on construction land (water 1704)"
    assert verdicts[4].reason_zh == "所在位置无规划数据"
    assert verdicts[6].reason_en == "25% of it has no planning data"
    assert verdicts[6].fitting_share == pytest.approx(0.75)


def test_twenty_thousand_footprints_on_fifty_thousand_zones_in_seconds() -> None:
    rng = np.random.default_rng(7)
    n = 224  # 50,176 zones of 50 x 50 m
    xs, ys = (a.ravel() for a in np.meshgrid(np.arange(n) * 50.0, np.arange(n) * 50.0))
    grid = gpd.GeoDataFrame({"zone_type": rng.choice(["village_construction", "general_farmland", "water"], n * n)},
                            geometry=shapely.box(xs, ys, xs + 50, ys + 50), crs=4544)
    x, y = rng.uniform(0, n * 50 - 40, 20_000), rng.uniform(0, n * 50 - 40, 20_000)
    started = time.perf_counter()
    result = overlay_zones(gpd.GeoSeries(shapely.box(x, y, x + 30, y + 20), crs=4544), grid, min_overlap_m2=0)
    verdicts = conformance(result, ["shop"] * 20_000)
    assert time.perf_counter() - started < 10
    # Each 30 x 20 footprint meets 1 to 4 cells whose shares add up to 1 (no sliver left out here).
    sums = result.pairs.groupby("feature")["share"].sum()
    assert len(sums) == 20_000 and np.allclose(sums, 1.0)
    assert len(verdicts) == 20_000
