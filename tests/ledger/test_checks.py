"""The inventory check on the hand-made town (tests/ledger_books_town.py): every finding worked out by hand."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from gis_service.crs import analysis_crs
from gis_service.ledger.checks import (
    CodeCollision,
    MissingLocation,
    NameDuplicate,
    OutsideBoundary,
    containing_index,
    duplicate_names,
    inventory_check,
    normalise_text,
)
from tests.ledger_books_town import F1, F2, V1, V2, frames, metres


def test_town_findings() -> None:
    town = frames()
    check = inventory_check(town["assets"], town["villages"], town["former_villages"])
    assert check.missing_location == (MissingLocation("JT-002", "石桥堰塘", ("no_footprint",)),
                                      MissingLocation("JT-005", "石桥门市", ("no_location_text",)))
    assert check.duplicate_codes == (CodeCollision("jt-001", ("JT-001", "jt-001")),)
    assert check.duplicate_names == (NameDuplicate("原白果村村委会", ("JT-001", "jt-001"), 10.0),)
    # JT-005 at (1200, 800) states V2 (x from 2000) and F1 (x up to 1000); it lies in V1 and F2.
    assert check.outside_village == (OutsideBoundary("village", "JT-005", "石桥门市", V2, V1, 800.0),)
    assert check.outside_former_village == (OutsideBoundary("former_village", "JT-005", "石桥门市", F1, F2, 200.0),)
    assert check.flagged()["JT-005"] == ["no_location_text", "outside_village", "outside_former_village"]


def test_distance_threshold_and_footprint() -> None:
    town = frames()
    assets = town["assets"].assign(has_footprint=town["assets"]["category"] == "pond")
    check = inventory_check(assets, town["villages"], town["former_villages"], within_m=9.99)
    assert check.duplicate_names == ()
    assert [m.code for m in check.missing_location] == ["JT-005"]


def test_unknown_stated_village_and_missing_point() -> None:
    town = frames()
    assets = town["assets"].copy()
    assets.loc[0, "village_code"] = "510923100299"
    assets.loc[1, "geometry"] = None
    check = inventory_check(assets, town["villages"], town["former_villages"])
    unknown = [o for o in check.outside_village if o.code == "JT-001"]
    assert unknown == [OutsideBoundary("village", "JT-001", "原白果村村委会", "510923100299", V1, None)]
    assert ("no_footprint" in next(m.reasons for m in check.missing_location if m.code == "JT-002")
            and "no_point" in next(m.reasons for m in check.missing_location if m.code == "JT-002"))


def test_boundary_point_counts_as_inside_and_lowest_index_wins() -> None:
    town = frames()
    on_edge = Point(*metres(1000, 500))  # shared edge of F1 and F2
    index = containing_index(pd.Series([on_edge, Point(0, 0)]).to_numpy(dtype=object),
                             town["former_villages"].geometry.to_numpy(dtype=object))
    assert index.tolist() == [0, -1]


def test_full_width_and_spaces_collide() -> None:
    assert normalise_text(" ＪＴ-００１ ") == normalise_text("jt-001") == "jt-001"


def test_refuses_degrees() -> None:
    town = frames()
    with pytest.raises(ValueError, match="EPSG:4544"):
        inventory_check(gpd.GeoDataFrame(town["assets"]).to_crs(4490), town["villages"], town["former_villages"])


# Five assets of one name: 1 is 100 m east of 0, 2 is 400 m north of 0 (412.31 m from 1); 3 and 4 are 700 m and
# 520 m from 0, beyond 500 m from every other member.
MEMBERS = ((0, 0), (100, 0), (0, 400), (700, 0), (0, -520))
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _crowded_town(groups: int) -> gpd.GeoDataFrame:
    """``groups`` names × 5 assets, the groups 30 m apart on a grid: thousands of other-name assets lie within
    500 m of each one, and member 1 and 2 write the name with a space and in full-width digits."""
    rows = []
    for g in range(groups):
        base_x, base_y = (g % 64) * 30.0, (g // 64) * 30.0
        spellings = (f"堰塘{g}", f"堰塘 {g}", f"堰塘{g}".translate(FULL_WIDTH), f"堰塘{g}", f"堰塘{g}")
        for m, ((dx, dy), name) in enumerate(zip(MEMBERS, spellings, strict=True)):
            rows.append((f"A{g:04d}-{m}", name, base_x + dx, base_y + dy))
    frame = pd.DataFrame(rows, columns=["code", "name", "x", "y"])
    return gpd.GeoDataFrame(frame[["code", "name"]], geometry=shapely.points(frame["x"] + 500_000,
                                                                            frame["y"] + 3_380_000),
                            crs=analysis_crs())


def test_same_name_pairs_among_20000_crowded_assets() -> None:
    assets = _crowded_town(4_000)
    assert len(assets) == 20_000
    found = duplicate_names(assets, 500.0)
    expected = sorted(
        (_code(g, a), _code(g, b), distance)
        for g in range(4_000) for a, b, distance in ((0, 1, 100.0), (0, 2, 400.0), (1, 2, 412.31)))
    assert [(*p.codes, p.distance_m) for p in found] == expected
    assert found[2] == NameDuplicate("堰塘 0", ("A0000-1", "A0000-2"), 412.31)  # the first one's spelling
    assert [p.codes for p in duplicate_names(assets, 100.0)] == [(_code(g, 0), _code(g, 1)) for g in range(4_000)]


def _code(group: int, member: int) -> str:
    return f"A{group:04d}-{member}"


def test_within_m_is_capped_at_500_m() -> None:
    town = frames()
    assert inventory_check(town["assets"], town["villages"], town["former_villages"], within_m=500).within_m == 500
    with pytest.raises(ValueError, match="between 0 and 500 metres"):
        inventory_check(town["assets"], town["villages"], town["former_villages"], within_m=10_000)
