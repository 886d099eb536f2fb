"""Batch coverage partitioned by town: single process, Dask, and a KD-tree over everything agree (no database).

Hand-made case (EPSG:4544 metres, threshold 1,000 m, search 2,000 m): town A (510001001) is the cell
x 0-10,000, town B (510001002) the cell x 10,000-20,000, both y 0-10,000; county 510001.

==========  ===============  ======  ===============================================  ===========
settlement  where            people  nearest facility (by hand)                       covered
==========  ===============  ======  ===============================================  ===========
s0 (A)      (9,900, 5,000)   100     f0 (10,200, 5,000), across the border: 300 m     yes
s1 (A)      (5,000, 5,000)   50      f1 (5,000, 5,800): 800 m                          yes
s2 (B)      (15,000, 5,000)  30      f2 (15,000, 6,000): exactly 1,000 m               yes (<=)
s3 (B)      (19,000, 9,000)  20      f3 (19,000, 7,500): 1,500 m                       no
s4 (B)      (15,000, 500)    40      none within 2,000 m (f2 5,500 m, f0 6,550 m)      no
==========  ===============  ======  ===============================================  ===========

Town A: 2 settlements, demand 150, covered 150. Town B: 3, 2 uncovered, demand 90, covered 30.
County: 5 settlements, demand 240, covered 180 (share 0.75).
"""

from __future__ import annotations

import doctest
import os
import pickle
from collections.abc import Iterator
from types import ModuleType

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from distributed import Client
from shapely.geometry import Point

from gis_service.analysis import batch, batch_dask, batch_synthetic
from gis_service.analysis.batch import (
    BatchSettlements,
    FacilityIndex,
    aligned,
    batch_coverage,
    partition_by_town,
)
from gis_service.analysis.batch_dask import (
    WORKER_MALLOC,
    batch_coverage_dask,
    local_client,
    synthetic_coverage_dask,
)
from gis_service.analysis.batch_synthetic import (
    ProvinceSpec,
    province_facilities,
    province_settlements,
    synthetic_coverage,
)
from gis_service.analysis.coverage import straight_line_nearest

A, B = 510_001_001, 510_001_002
HOMES = [[9_900, 5_000], [5_000, 5_000], [15_000, 5_000], [19_000, 9_000], [15_000, 500]]
PEOPLE = [100, 50, 30, 20, 40]
CENTRES = [[10_200, 5_000], [5_000, 5_800], [15_000, 6_000], [19_000, 7_500]]
# 200,000 settlements, 2,000 facilities, 50 towns of 12.5 km (a 1,000 m threshold leaves about half uncovered).
SPEC = ProvinceSpec(towns=50, settlements=200_000, facilities=2_000, seed=7)
THRESHOLD, SEARCH = 1_000.0, 2_000.0
BARE_TOWN = 22  # a town in the grid's interior, stripped of its own facilities


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two worker processes: tasks and facilities really travel by pickle, as on a cluster."""
    with local_client(n_workers=2, processes=True) as c:
        yield c


def _hand_made() -> tuple[BatchSettlements, FacilityIndex]:
    return (BatchSettlements.from_arrays(HOMES, town_code=[A, A, B, B, B], demand=PEOPLE),
            FacilityIndex.build(CENTRES))


def _check_hand_made(report: pd.DataFrame | None, towns: pd.DataFrame) -> None:
    assert report is not None
    assert report["nearest"].tolist() == [0, 1, 2, 3, -1]
    assert report["distance_m"].tolist() == [300.0, 800.0, 1_000.0, 1_500.0, np.inf]
    assert report["covered"].tolist() == [True, True, True, False, False]
    assert towns[["town_code", "settlements", "uncovered_settlements", "demand", "covered_demand"]].values.tolist() \
        == [[A, 2, 0, 150, 150], [B, 3, 2, 90, 30]]


def test_hand_made_single_process() -> None:
    homes, centres = _hand_made()
    report = batch_coverage(homes, centres, THRESHOLD, search_m=SEARCH)
    _check_hand_made(report.settlements, report.towns)
    county = report.counties()
    assert county[["county_code", "settlements", "demand", "covered_demand", "share"]].values.tolist() \
        == [[510001, 5, 240, 180, 0.75]]
    assert report.total()["share"] == 0.75


def test_hand_made_on_a_cluster_made_for_the_call() -> None:
    homes, centres = _hand_made()
    report = batch_coverage_dask(homes, centres, THRESHOLD, search_m=SEARCH, towns_per_task=1)
    _check_hand_made(report.settlements, report.towns)


def test_search_radius_limits_the_partition_and_the_answer() -> None:
    homes, centres = _hand_made()
    near = batch_coverage(homes, centres, THRESHOLD)  # search = threshold: s3's facility at 1,500 m is not looked for
    assert near.settlements is not None
    assert near.settlements["nearest"].tolist() == [0, 1, 2, -1, -1]
    # Town A's box grown by 1,000 m (+1 m) reaches x 10,901 and takes f0 from B's side with its own f1;
    # B's box starts at x 13,999: f2 and f3.
    assert near.towns["facilities_searched"].tolist() == [2, 2]


def test_from_geodataframes_checks_crs_and_fields() -> None:
    homes = gpd.GeoDataFrame({"town_code": ["510001001", "510001002"], "population": [10, 20]},
                             geometry=[Point(9_900, 5_000), Point(15_000, 5_000)], crs="EPSG:4544")
    centres = gpd.GeoDataFrame(geometry=[Point(10_200, 5_000)], crs="EPSG:4544")
    report = batch_coverage(BatchSettlements.from_geodataframe(homes), FacilityIndex.from_geodataframe(centres), 500)
    assert report.towns["covered_demand"].tolist() == [10, 0]
    with pytest.raises(ValueError, match="projected CRS"):
        BatchSettlements.from_geodataframe(homes.to_crs(4490))
    with pytest.raises(ValueError, match="lack field"):
        BatchSettlements.from_geodataframe(homes.drop(columns="population"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"town_code": [5100, 5100]}, "9-digit"),
    ({"town_code": [A]}, "differ in length"),
    ({"town_code": [A, A], "demand": [1, -1]}, "not negative"),
])
def test_bad_settlements_are_refused(kwargs: dict[str, list[int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchSettlements.from_arrays([[0, 0], [1, 1]], **kwargs)


def test_search_below_threshold_is_refused() -> None:
    homes, centres = _hand_made()
    with pytest.raises(ValueError, match="at least threshold_m"):
        batch_coverage(homes, centres, 1_000, search_m=500)


# ---------------------------------------------------------------- a small province


def _border_facilities(rng: np.random.Generator, count: int) -> np.ndarray:
    """Facilities within 30 m of a vertical town border, on either side, anywhere along it."""
    columns = rng.integers(1, SPEC.columns, count)
    x = SPEC.origin[0] + columns * SPEC.town_side_m + rng.uniform(-30.0, 30.0, count)
    rows = (SPEC.towns + SPEC.columns - 1) // SPEC.columns
    y = SPEC.origin[1] + rng.uniform(0.0, rows * SPEC.town_side_m, count)
    return np.column_stack([x, y])


@pytest.fixture(scope="module")
def province() -> tuple[BatchSettlements, np.ndarray]:
    """SPEC's settlements; its facilities less the bare town's, plus 300 placed just across town borders."""
    facilities = province_facilities(SPEC)
    per_town = SPEC.facilities // SPEC.towns
    keep = np.ones(len(facilities), dtype=bool)
    keep[BARE_TOWN * per_town:(BARE_TOWN + 1) * per_town] = False
    extra = _border_facilities(np.random.default_rng(11), 300)
    return province_settlements(SPEC), np.vstack([facilities[keep], extra])


def test_single_process_equals_a_kdtree_over_everything(province: tuple[BatchSettlements, np.ndarray]) -> None:
    settlements, facility_xy = province
    report = batch_coverage(settlements, FacilityIndex.build(facility_xy), THRESHOLD, search_m=SEARCH)
    index, distance = straight_line_nearest(settlements.xy, facility_xy, max_distance=np.nextafter(SEARCH, np.inf))
    assert report.settlements is not None
    np.testing.assert_array_equal(report.settlements["nearest"].to_numpy(), index)
    np.testing.assert_array_equal(report.settlements["distance_m"].to_numpy(), distance)
    np.testing.assert_array_equal(report.settlements["covered"].to_numpy(), distance <= THRESHOLD)
    # The borders were really at stake: many settlements are served from another town's cell, the bare
    # town's covered ones all are, and no partition searched more than a small part of the facilities.
    own_town = _town_of(facility_xy[index[index >= 0]]) == settlements.town_code[index >= 0]
    assert (~own_town).sum() > 1_000
    bare = settlements.town_code == _town_code(BARE_TOWN)
    assert report.settlements["covered"][bare].sum() > 0
    assert report.towns["facilities_searched"].max() < len(facility_xy) / 5


def _town_of(xy: np.ndarray) -> np.ndarray:
    """Town code of the cell each point falls in."""
    column = ((xy[:, 0] - SPEC.origin[0]) // SPEC.town_side_m).astype(np.int64)
    row = ((xy[:, 1] - SPEC.origin[1]) // SPEC.town_side_m).astype(np.int64)
    return _town_code(row * SPEC.columns + column)


def _town_code(town: np.ndarray | int) -> np.ndarray:
    """The NBS code of town number ``town``, worked out again here (county of 20 towns, province 51)."""
    return 510_000_000 + (np.asarray(town) // SPEC.towns_per_county + 1) * 1_000 + np.asarray(town) % 20 + 1


def test_dask_equals_single_process(province: tuple[BatchSettlements, np.ndarray], client: Client) -> None:
    settlements, facility_xy = province
    index = FacilityIndex.build(facility_xy)
    single = batch_coverage(settlements, index, THRESHOLD, search_m=SEARCH)
    for towns_per_task in (1, 16):
        dask = batch_coverage_dask(settlements, index, THRESHOLD, search_m=SEARCH, client=client,
                                   towns_per_task=towns_per_task)
        pd.testing.assert_frame_equal(dask.settlements, single.settlements)
        pd.testing.assert_frame_equal(dask.towns, single.towns)
        pd.testing.assert_frame_equal(dask.counties(), single.counties())


def test_generated_in_the_workers_equals_single_process(province: tuple[BatchSettlements, np.ndarray],
                                                        client: Client) -> None:
    settlements, facility_xy = province
    index = FacilityIndex.build(facility_xy)
    single = batch_coverage(settlements, index, THRESHOLD, search_m=SEARCH)
    loop = synthetic_coverage(SPEC, THRESHOLD, search_m=SEARCH, facilities=index)
    dask = synthetic_coverage_dask(SPEC, THRESHOLD, search_m=SEARCH, facilities=index, client=client)
    pd.testing.assert_frame_equal(loop.towns, single.towns)
    pd.testing.assert_frame_equal(dask.towns, single.towns)
    assert dask.settlements is None
    assert int(dask.total()["settlements"]) == SPEC.settlements
    assert 0.2 < dask.total()["share"] < 0.8  # neither all nor nothing covered: the flags carry information


def test_synthetic_towns_are_whole_and_seeded() -> None:
    first, again = province_settlements(SPEC), province_settlements(SPEC)
    np.testing.assert_array_equal(first.xy, again.xy)
    parts = partition_by_town(first)
    assert [p.town_code for p in parts] == sorted(p.town_code for p in parts)
    assert len(parts) == SPEC.towns and sum(len(p.rows) for p in parts) == SPEC.settlements
    # Every settlement lies in its own town's cell (edges included: the generator clips onto them).
    for town, part in enumerate(parts):
        assert part.town_code == _town_code(town)
        assert (part.xy >= SPEC.cell(town)).all() and (part.xy <= SPEC.cell(town) + SPEC.town_side_m).all()


@pytest.mark.parametrize("module", [batch, batch_dask, batch_synthetic])
def test_docstring_examples_run(module: ModuleType) -> None:
    failures, tried = doctest.testmod(module, raise_on_error=False)
    assert tried > 0 and failures == 0


def test_workers_keep_arrays_on_the_heap(client: Client) -> None:
    """Without these, Dask's own malloc setting doubles the workers' CPU time on town-sized arrays."""
    seen = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("MALLOC_MMAP_THRESHOLD_")))
    assert set(seen.values()) == {(str(WORKER_MALLOC["MALLOC_TRIM_THRESHOLD_"]),
                                   str(WORKER_MALLOC["MALLOC_MMAP_THRESHOLD_"]))}


def _unpickled_at_odd_addresses(value: object) -> object:
    """``value`` pickled with out-of-band buffers and loaded from copies of them that start one byte off alignment."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    odd = []
    for buffer in buffers:
        raw = buffer.raw()
        holder = bytearray(raw.nbytes + 1)
        holder[1:] = raw
        odd.append(memoryview(holder)[1:])
    return pickle.loads(data, buffers=odd)


def test_facility_index_is_aligned_after_unpickling() -> None:
    """Dask may hand over an array at any byte offset; a binary search then copies it first, town after town."""
    index = FacilityIndex.build(np.random.default_rng(3).uniform(0, 1e5, (1_000, 2)))
    plain = pickle.loads(pickle.dumps(index, protocol=5))  # arrays inside the pickle
    loaded = _unpickled_at_odd_addresses(index)
    for again in (plain, loaded):
        assert isinstance(again, FacilityIndex)
        for name in ("x", "y", "order"):
            array = getattr(again, name)
            assert array.flags.aligned and array.flags.c_contiguous
            np.testing.assert_array_equal(array, getattr(index, name))
    # The unaligned input really was unaligned: without the realignment numpy would have kept it.
    raw = np.frombuffer(memoryview(bytearray(8 * 10 + 1))[1:], dtype=np.float64)
    assert not raw.flags.aligned and aligned(raw).flags.aligned


def test_workers_search_an_aligned_facility_index(client: Client) -> None:
    """Through the real transport: the index scattered to every worker arrives aligned in each."""
    index = client.scatter(FacilityIndex.build(province_facilities(SPEC)), broadcast=True)

    def flags(facilities: FacilityIndex) -> tuple[bool, ...]:
        return tuple(getattr(facilities, name).flags.aligned for name in ("x", "y", "order"))

    for worker in client.scheduler_info()["workers"]:
        assert client.submit(flags, index, workers=[worker], pure=False).result() == (True, True, True)
