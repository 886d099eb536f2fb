"""Placement models (location-allocation): exact against spopt (CBC), heuristics against exact, small cases by hand.

Random instances: demand and candidates uniform over a 10 × 10 km square (seeded), costs straight-line
metres, weights 1-99. spopt is a test-only dependency; its models are solved with pulp's bundled CBC.
"""

from __future__ import annotations

import doctest
import importlib
import warnings
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist
from shapely.geometry import LineString, Point

from gis_service.analysis.placement import (
    LSCP,
    MCLP,
    CapacitatedCoverage,
    InfeasiblePlacementError,
    Method,
    PCenter,
    PlacementInputError,
    PlacementModel,
    PlacementResult,
    PMedian,
    candidate_sites,
)
from gis_service.analysis.placement.inputs import group_rows
from gis_service.errors import InvalidInputError

X0, Y0 = 520_000.0, 3_380_000.0  # inside EPSG:4544's zone (central meridian 105°E)
HEURISTIC_GAP = 0.03


def instance(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = cdist(rng.uniform(0, 10_000, (n, 2)), rng.uniform(0, 10_000, (m, 2)))
    return cost, rng.integers(1, 100, n).astype(float)


def spopt_objective(model: str, cost: np.ndarray, weights: np.ndarray, *, radius: float = 0.0, p: int = 0,
                    required: list[int] | None = None) -> float:
    locate = pytest.importorskip("spopt.locate")
    pulp = pytest.importorskip("pulp")
    predefined = None
    if required:
        predefined = np.zeros(cost.shape[1], dtype=int)
        predefined[required] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        built = _spopt_model(locate, model, cost, weights, radius, p, predefined)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pulp 3.x announces its 4.0 API on every variable
        built.solve(pulp.PULP_CBC_CMD(msg=False))
    return float(pulp.value(built.problem.objective))


def _spopt_model(locate: Any, model: str, cost: np.ndarray, weights: np.ndarray, radius: float, p: int,
                 predefined: np.ndarray | None) -> Any:
    if model == "lscp":
        return locate.LSCP.from_cost_matrix(cost, radius, predefined_facilities_arr=predefined)
    if model == "mclp":
        return locate.MCLP.from_cost_matrix(cost, weights, radius, p, predefined_facilities_arr=predefined)
    if model == "p-median":
        return locate.PMedian.from_cost_matrix(cost, weights, p, predefined_facilities_arr=predefined)
    return locate.PCenter.from_cost_matrix(cost, p, predefined_facilities_arr=predefined)


def ours(model: str, cost: np.ndarray, weights: np.ndarray, *, radius: float = 0.0, p: int = 0,
         required: list[int] | None = None) -> PlacementModel:
    factories: dict[str, Callable[[], PlacementModel]] = {
        "lscp": lambda: LSCP.from_cost_matrix(cost, radius=radius, weights=weights, required=required),
        "mclp": lambda: MCLP.from_cost_matrix(cost, radius=radius, p=p, weights=weights, required=required),
        "p-median": lambda: PMedian.from_cost_matrix(cost, p=p, weights=weights, required=required),
        "p-center": lambda: PCenter.from_cost_matrix(cost, p=p, required=required),
    }
    return factories[model]()


# model, seed, demand, candidates, radius (m), p, required
SPOPT_CASES = [
    ("lscp", 1, 187, 32, 2_600.0, 0, None),
    ("lscp", 2, 145, 27, 2_400.0, 0, [3]),
    ("lscp", 3, 120, 40, 2_300.0, 0, None),
    ("mclp", 4, 200, 40, 1_500.0, 6, None),
    ("mclp", 5, 132, 27, 2_000.0, 3, None),
    ("mclp", 6, 90, 30, 1_800.0, 5, [0, 7]),
    ("p-median", 7, 120, 30, 0.0, 5, None),
    ("p-median", 8, 80, 25, 0.0, 4, [2]),
    ("p-center", 9, 70, 22, 0.0, 4, None),
    ("p-center", 10, 60, 20, 0.0, 3, [5]),
]


@pytest.mark.parametrize(("model", "seed", "n", "m", "radius", "p", "required"), SPOPT_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in SPOPT_CASES])
def test_exact_equals_spopt_and_heuristic_is_close(model: str, seed: int, n: int, m: int, radius: float, p: int,
                                                   required: list[int] | None) -> None:
    cost, weights = instance(seed, n, m)
    expected = spopt_objective(model, cost, weights, radius=radius, p=p, required=required)
    problem = ours(model, cost, weights, radius=radius, p=p, required=required)
    exact = problem.solve("exact")
    heuristic = problem.solve("heuristic")

    assert exact.status == "optimal" and exact.method == "exact"
    assert exact.objective == pytest.approx(expected, rel=1e-7)
    maximise = model == "mclp"
    gap = (expected - heuristic.objective) / expected if maximise else (heuristic.objective - expected) / expected
    assert -1e-7 <= gap <= HEURISTIC_GAP  # CBC stops within its tolerances: a hair above the optimum
    assert heuristic.status == "heuristic"
    for result in (exact, heuristic):
        assert set(required or []) <= set(result.selected.tolist())
        if model != "lscp":
            assert len(result.selected) == p  # p counts every site, required ones included


# ---------------------------------------------------------------- small cases, checked by hand

# Demand on a line at x = 0, 1, 2, 10, 11, 20 (km); candidates at x = 1, 10.5, 20, 5.
LINE_DEMAND = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 20.0]) * 1000
LINE_SITES = np.array([1.0, 10.5, 20.0, 5.0]) * 1000
LINE_COST = np.abs(LINE_DEMAND[:, None] - LINE_SITES[None, :])
LINE_WEIGHTS = np.array([10.0, 10.0, 10.0, 30.0, 30.0, 5.0])


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_small_cases_by_hand(method: Method) -> None:
    # every point within 1 km: sites at 1, 10.5 and 20 km are all needed; 5 km helps nobody
    lscp = LSCP.from_cost_matrix(LINE_COST, radius=1_000, weights=LINE_WEIGHTS).solve(method)
    assert lscp.selected.tolist() == [0, 1, 2] and lscp.objective == 3
    assert lscp.covered is not None and lscp.covered.all()
    assert lscp.assignment.tolist() == [0, 0, 0, 1, 1, 2]
    assert lscp.cost.tolist() == [1000.0, 0.0, 1000.0, 500.0, 500.0, 0.0]

    # two sites within 1 km: the heavy pair at 10-11 km (60) and the left cluster (30) beat the far point (5)
    mclp = MCLP.from_cost_matrix(LINE_COST, radius=1_000, p=2, weights=LINE_WEIGHTS).solve(method)
    assert mclp.selected.tolist() == [0, 1] and mclp.objective == 90
    assert mclp.covered is not None and mclp.covered.tolist() == [True] * 5 + [False]
    assert mclp.assignment[5] == -1 and mclp.cost[5] == np.inf

    # two sites, least weighted distance: 1 km and 10.5 km, the far point travels 9.5 km
    median = PMedian.from_cost_matrix(LINE_COST, p=2, weights=LINE_WEIGHTS).solve(method)
    assert median.selected.tolist() == [0, 1]
    assert median.objective == pytest.approx(10 * 1000 + 10 * 1000 + 30 * 500 + 30 * 500 + 5 * 9500)
    assert median.covered is None

    # two sites, least worst distance: 5 km and 20 km; the worst is x = 11 (6 km), every other pair is worse
    center = PCenter.from_cost_matrix(LINE_COST, p=2).solve(method)
    assert center.objective == 6_000
    assert center.selected.tolist() == [2, 3]


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_p_center_fills_up_to_p_sites(method: Method) -> None:
    # a lone point at 100 km sets the optimum (10 km, to the site at 90 km) and one site near the cluster at
    # 0-2 km is enough for the rest; the third site goes where it cuts distance (2 km), not to 50 km
    demand, sites = np.array([0.0, 1.0, 2.0, 100.0]) * 1000, np.array([1.0, 90.0, 2.0, 50.0]) * 1000
    result = PCenter.from_cost_matrix(np.abs(demand[:, None] - sites[None, :]), p=3).solve(method)
    assert result.objective == 10_000
    assert result.selected.tolist() == [0, 1, 2]


def test_capacitated_small_case_by_hand() -> None:
    # three points of 2, 2 and 3 people; sites of capacity 4 and 3 at the ends, one of capacity 7 in the middle
    cost = np.array([[100.0, 500.0, 900.0], [100.0, 500.0, 900.0], [900.0, 500.0, 100.0]])
    model = CapacitatedCoverage.from_cost_matrix(cost, radius=600, capacity=[4, 7, 3], weights=[2, 2, 3])
    result = model.solve("exact")
    assert result.selected.tolist() == [1] and result.objective == 1  # the middle site takes all 7
    assert result.assignment.tolist() == [1, 1, 1]
    shorter = CapacitatedCoverage.from_cost_matrix(cost, radius=600, capacity=[4, 6, 3], weights=[2, 2, 3])
    assert shorter.solve("exact").objective == 2  # 6 < 7: two sites, whichever pair
    # one site, most weight served: the middle one takes a 2 and the 3 (5 of 7); the others take 4 or 3
    with_p = CapacitatedCoverage.from_cost_matrix(cost, radius=600, capacity=[4, 6, 3], weights=[2, 2, 3], p=1)
    one = with_p.solve("exact")
    assert one.selected.tolist() == [1] and one.objective == 5
    assert one.covered is not None and one.covered.tolist().count(True) == 2 and one.covered[2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_capacitated_matches_brute_force_and_respects_capacities(seed: int) -> None:
    # tight: 7 points of 1-5 people, 4 sites of capacity 6-11, each point with at least two sites in reach
    rng = np.random.default_rng(seed)
    n, m = 7, 4
    cost = cdist(rng.uniform(0, 3_000, (n, 2)), rng.uniform(0, 3_000, (m, 2)))
    weights = rng.integers(1, 6, n).astype(float)
    capacity = rng.integers(6, 12, m).astype(float)
    radius = float(np.sort(cost, axis=1)[:, 1].max())
    model = CapacitatedCoverage.from_cost_matrix(cost, radius=radius, capacity=capacity, weights=weights)
    exact = model.solve("exact")
    assert exact.objective == _brute_force_sites(cost, weights, capacity, radius)
    _check_capacities(exact, cost, weights, capacity, radius)
    assert exact.covered is not None and exact.covered.all()
    try:  # packing whole points into sites is NP-hard: the greedy may fail on instances this tight
        heuristic = model.solve("heuristic")
    except InfeasiblePlacementError as error:
        assert "method='exact'" in str(error)
    else:
        _check_capacities(heuristic, cost, weights, capacity, radius)
        assert heuristic.covered is not None and heuristic.covered.all()
        assert heuristic.objective >= exact.objective


def _brute_force_sites(cost: np.ndarray, weights: np.ndarray, capacity: np.ndarray, radius: float) -> int:
    """Fewest sites with a single-source assignment within radius and capacity, by enumeration."""
    n, m = cost.shape
    best = m + 1
    options = [np.flatnonzero(cost[i] <= radius) for i in range(n)]
    for choice in np.ndindex(*[len(o) for o in options]):
        sites = np.array([options[i][k] for i, k in enumerate(choice)])
        load = np.bincount(sites, weights=weights, minlength=m)
        if (load <= capacity).all():
            best = min(best, len(np.unique(sites)))
    return best


def _check_capacities(result: PlacementResult, cost: np.ndarray, weights: np.ndarray, capacity: np.ndarray,
                      radius: float) -> None:
    served = result.assignment >= 0
    load = np.bincount(result.assignment[served], weights=weights[served], minlength=len(capacity))
    assert (load <= capacity + 1e-9).all()
    assert np.isin(result.assignment[served], result.selected).all()
    assert (cost[np.flatnonzero(served), result.assignment[served]] <= radius).all()
    assert np.array_equal(result.cost[served], cost[np.flatnonzero(served), result.assignment[served]])


def test_capacitated_with_p_serves_the_most_within_capacity() -> None:
    cost, weights = instance(11, 40, 10)
    capacity = np.full(10, 300.0)
    model = CapacitatedCoverage.from_cost_matrix(cost, radius=3_000, capacity=capacity, weights=weights, p=3,
                                                 required=[4])
    exact, heuristic = model.solve("exact"), model.solve("heuristic")
    for result in (exact, heuristic):
        _check_capacities(result, cost, weights, capacity, 3_000)
        assert len(result.selected) == 3 and 4 in result.selected
    assert exact.objective <= 900 and heuristic.objective <= exact.objective


def test_capacitated_errors_name_what_cannot_be_served() -> None:
    cost = np.array([[100.0, 200.0], [100.0, 200.0], [150.0, 900.0]])
    with pytest.raises(InfeasiblePlacementError, match=r"capacity to serve 1 demand point \(2\)") as caught:
        CapacitatedCoverage.from_cost_matrix(cost, radius=500, capacity=[5, 9], weights=[1, 1, 6])
    assert caught.value.demand.tolist() == [2]
    with pytest.raises(InfeasiblePlacementError, match="exceeds the capacity"):
        CapacitatedCoverage.from_cost_matrix(cost, radius=500, capacity=[3, 2], weights=[2, 2, 2])


# ---------------------------------------------------------------- required sites, p, errors


@pytest.mark.parametrize("model", ["lscp", "mclp", "p-median", "p-center"])
@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_required_sites_are_kept_even_when_poor(model: str, method: Method) -> None:
    cost, weights = instance(12, 80, 20)
    free = ours(model, cost, weights, radius=3_500, p=4).solve("exact")
    unused = np.setdiff1d(np.arange(20), free.selected)
    corner = int(unused[np.argmax(cost[:, unused].mean(axis=0))])  # far from everyone, and not chosen freely
    result = ours(model, cost, weights, radius=3_500, p=4, required=[corner]).solve(method)
    assert corner in result.selected
    if model != "lscp":
        assert len(result.selected) == 4


def test_p_counts_required_sites() -> None:
    cost, weights = instance(13, 30, 10)
    with pytest.raises(PlacementInputError, match=r"must lie in 3\.\.10, got 2"):
        MCLP.from_cost_matrix(cost, radius=1_000, p=2, required=[0, 1, 2])
    with pytest.raises(PlacementInputError, match="got 11"):
        PMedian.from_cost_matrix(cost, p=11)
    only_required = PMedian.from_cost_matrix(cost, p=2, weights=weights, required=[3, 8]).solve()
    assert only_required.selected.tolist() == [3, 8]


def test_infeasible_lscp_names_the_unreachable_demand() -> None:
    demand = gpd.GeoDataFrame(
        {"population": [10, 20, 30, 40]}, index=["S-001", "S-002", "S-003", "S-004"],
        geometry=[Point(X0, Y0), Point(X0 + 500, Y0), Point(X0 + 9_000, Y0), Point(X0 + 9_500, Y0 + 100)],
        crs="EPSG:4544")
    sites = gpd.GeoDataFrame(geometry=[Point(X0 + 200, Y0), Point(X0 + 4_000, Y0)], crs="EPSG:4544")
    with pytest.raises(InfeasiblePlacementError, match=r"1,000 m of 2 demand points \(S-003, S-004\)") as caught:
        LSCP.from_geodataframe(demand, sites, radius=1_000, weights_column="population")
    error = caught.value
    assert error.demand.tolist() == [2, 3]
    assert isinstance(error, ValueError) and isinstance(error, InvalidInputError) and error.status == 400
    # weight 0 means "need not be covered"
    demand.loc[["S-003", "S-004"], "population"] = 0
    result = LSCP.from_geodataframe(demand, sites, radius=1_000, weights_column="population").solve()
    assert result.selected.tolist() == [0]
    assert result.covered is not None and result.covered.tolist() == [True, True, False, False]


def test_unreachable_demand_in_distance_models() -> None:
    cost = np.array([[100.0, np.inf], [np.inf, np.inf], [300.0, 50.0]])
    with pytest.raises(InfeasiblePlacementError, match=r"reach 1 demand point \(1\)"):
        PMedian.from_cost_matrix(cost, p=1)
    result = PMedian.from_cost_matrix(cost, p=1, weights=[1, 0, 1]).solve()
    assert result.selected.tolist() == [0] and result.assignment.tolist() == [0, -1, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"radius": 0}, "radius must be a positive"), ({"radius": float("nan")}, "radius must be a positive"),
     ({"radius": 100, "weights": [1, -1, 1]}, "non-negative"), ({"radius": 100, "weights": [1, 1]}, "one value per"),
     ({"radius": 100, "required": [5]}, r"0\.\.1"), ({"radius": 100, "weights": [0, 0, 0]}, "positive weight")],
)
def test_argument_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PlacementInputError, match=message):
        LSCP.from_cost_matrix(np.full((3, 2), 50.0), **kwargs)  # type: ignore[arg-type]


def test_cost_matrix_checks() -> None:
    with pytest.raises(PlacementInputError, match="NaN"):
        PMedian.from_cost_matrix([[1.0, np.nan]], p=1)
    with pytest.raises(PlacementInputError, match="negative"):
        PMedian.from_cost_matrix([[1.0, -2.0]], p=1)
    with pytest.raises(PlacementInputError, match="shape"):
        PMedian.from_cost_matrix([1.0, 2.0], p=1)
    with pytest.raises(PlacementInputError, match="dense"):
        LSCP.from_cost_matrix(sp.csr_array(np.ones((2, 2))), radius=1)


def test_solve_arguments_and_result() -> None:
    model = MCLP.from_cost_matrix(LINE_COST, radius=1_000, p=2, weights=LINE_WEIGHTS)
    with pytest.raises(PlacementInputError, match="method"):
        model.solve("fast")  # type: ignore[arg-type]
    with pytest.raises(PlacementInputError, match="time_limit"):
        model.solve(time_limit=0)
    result = model.solve(time_limit=30)
    assert result.method == "exact" and result.status == "optimal" and result.model == "mclp"
    assert result.seconds >= 0 and result.selected.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        result.selected[0] = 3


def test_auto_switches_to_the_heuristic_beyond_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    model = PMedian.from_cost_matrix(LINE_COST, p=2, weights=LINE_WEIGHTS)
    monkeypatch.setattr(PMedian, "exact_limit", model.size - 1)
    assert model.solve().method == "heuristic"


# ---------------------------------------------------------------- GeoDataFrames


def _frames(seed: int, n: int, m: int, crs: str = "EPSG:4544") -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    xy, sites = rng.uniform(0, 8_000, (n, 2)), rng.uniform(0, 8_000, (m, 2))
    demand = gpd.GeoDataFrame({"population": rng.integers(1, 100, n)},
                              geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=crs)
    candidates = gpd.GeoDataFrame({"existing": np.arange(m) == 2},
                                  geometry=gpd.points_from_xy(X0 + sites[:, 0], Y0 + sites[:, 1]), crs=crs)
    return demand, candidates


def test_from_geodataframe_agrees_with_the_cost_matrix() -> None:
    demand, candidates = _frames(14, 150, 25)
    cost = cdist(np.column_stack([demand.geometry.x, demand.geometry.y]),
                 np.column_stack([candidates.geometry.x, candidates.geometry.y]))
    weights = demand["population"].to_numpy(dtype=float)
    pairs: list[tuple[PlacementModel, PlacementModel]] = [
        (MCLP.from_geodataframe(demand, candidates, radius=1_500, p=5, weights_column="population",
                                required="existing"),
         MCLP.from_cost_matrix(cost, radius=1_500, p=5, weights=weights, required=[2])),
        (LSCP.from_geodataframe(demand, candidates, radius=3_000, weights_column="population"),
         LSCP.from_cost_matrix(cost, radius=3_000, weights=weights)),
        (PMedian.from_geodataframe(demand, candidates, p=4, weights_column="population", required="existing"),
         PMedian.from_cost_matrix(cost, p=4, weights=weights, required=[2])),
        (PCenter.from_geodataframe(demand, candidates, p=4), PCenter.from_cost_matrix(cost, p=4)),
    ]
    for from_frames, from_matrix in pairs:
        a, b = from_frames.solve("exact"), from_matrix.solve("exact")
        assert a.objective == pytest.approx(b.objective)
        np.testing.assert_allclose(a.cost, b.cost)
    # a cost matrix of one's own (road distances) replaces the straight lines
    roads = cost * 1.3
    model = PMedian.from_geodataframe(demand, candidates, p=4, weights_column="population", cost=roads)
    assert model.solve("exact").objective == pytest.approx(
        PMedian.from_cost_matrix(roads, p=4, weights=weights).solve("exact").objective)
    # city-block distances are longer: fewer points within the radius
    manhattan = MCLP.from_geodataframe(demand, candidates, radius=1_500, p=5, metric="manhattan").solve("exact")
    straight = MCLP.from_geodataframe(demand, candidates, radius=1_500, p=5).solve("exact")
    assert manhattan.objective < straight.objective


@pytest.mark.parametrize(
    ("change", "message"),
    [(lambda d, c: (d.set_crs(4490, allow_override=True), c.set_crs(4490, allow_override=True)),
      "not a projected CRS in metres"),
     (lambda d, c: (gpd.GeoDataFrame(d[["population"]], geometry=list(d.geometry)), c), "has no CRS"),
     (lambda d, c: (d, c.to_crs(3857)), "must share one CRS"),
     (lambda d, c: (d.set_geometry(gpd.GeoSeries([LineString([(0, 0), (1, 1)])] * len(d), index=d.index,
                                                  crs=d.crs)), c),
      "must be non-empty points"),
     (lambda d, c: (d.iloc[:0], c), "demand is empty")],
    ids=["geographic", "no-crs", "different-crs", "lines", "empty"],
)
def test_from_geodataframe_rejects_bad_frames(
        change: Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame], tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]],
        message: str) -> None:
    demand, candidates = _frames(15, 10, 4)
    demand, candidates = change(demand, candidates)
    with pytest.raises(PlacementInputError, match=message):
        MCLP.from_geodataframe(demand, candidates, radius=1_000, p=2)


def test_from_geodataframe_column_errors() -> None:
    demand, candidates = _frames(16, 10, 4)
    with pytest.raises(PlacementInputError, match="no column 'people'"):
        PMedian.from_geodataframe(demand, candidates, p=2, weights_column="people")
    with pytest.raises(PlacementInputError, match="no column 'kept'"):
        PMedian.from_geodataframe(demand, candidates, p=2, required="kept")
    with pytest.raises(PlacementInputError, match="no column 'beds'"):
        CapacitatedCoverage.from_geodataframe(demand, candidates, radius=1_000, capacity_column="beds")


def test_candidate_sites_joins_existing_facilities_and_idle_assets() -> None:
    assets = gpd.GeoDataFrame(
        {"code": ["A1", "A2", "A3", "A4"], "use_status": ["idle", "in_use", "partly_idle", "leased"]},
        geometry=[Point(X0 + i * 1_000, Y0) for i in range(4)], crs="EPSG:4544")
    stations = gpd.GeoDataFrame({"code": ["S1", "S2"], "host_asset_code": ["A3", None]},
                                geometry=[Point(X0 + 2_000, Y0), Point(X0 + 5_000, Y0)], crs="EPSG:4544")
    idle = candidate_sites(assets, existing=stations)
    assert idle.frame["code"].tolist() == ["S1", "S2", "A1"]  # A3 already hosts S1
    assert idle.frame["placement_role"].tolist() == ["existing", "existing", "candidate"]
    assert idle.required.tolist() == [0, 1]
    every = candidate_sites(assets, source="all")
    assert every.frame["code"].tolist() == ["A1", "A2", "A3", "A4"] and every.required.size == 0
    demand = gpd.GeoDataFrame(geometry=[Point(X0, Y0 + 100), Point(X0 + 5_000, Y0 + 100)], crs="EPSG:4544")
    result = MCLP.from_geodataframe(demand, idle.frame, radius=500, p=3, required=idle.required).solve()
    assert result.selected.tolist() == [0, 1, 2] and result.objective == 2
    with pytest.raises(PlacementInputError, match="source"):
        candidate_sites(assets, source="busy")  # type: ignore[arg-type]


# ---------------------------------------------------------------- internals worth pinning down


def test_group_rows_merges_identical_coverage_only() -> None:
    pattern = sp.csr_array(np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=float))
    group, first = group_rows(pattern)
    assert len(first) == 4
    assert group[0] == group[2] and group[3] == group[5]
    assert len({group[0], group[1], group[3], group[4]}) == 4


def test_mclp_groups_keep_the_objective() -> None:
    cost, weights = instance(17, 300, 12)
    model = MCLP.from_cost_matrix(np.repeat(cost, 3, axis=0), radius=2_500, p=3, weights=np.repeat(weights, 3))
    assert model.pattern.shape[0] <= 300
    assert model.solve("exact").objective == pytest.approx(
        3 * MCLP.from_cost_matrix(cost, radius=2_500, p=3, weights=weights).solve("exact").objective)


@pytest.mark.parametrize("module", ["coverage", "distance", "capacitated", "geo"])
def test_docstring_examples_run(module: str) -> None:
    found = importlib.import_module(f"gis_service.analysis.placement.{module}")
    assert doctest.testmod(found, raise_on_error=False).failed == 0


def test_capacitated_with_nobody_in_reach_serves_nobody() -> None:
    # Found by the API fuzzer: with p sites and no demand within the radius nothing is served, and the result
    # must say so (scipy returns a sparse array for an empty fancy index).
    cost, weights = instance(12, 5, 3)
    model = CapacitatedCoverage.from_cost_matrix(cost + 1e6, radius=10, capacity=np.full(3, 10.0),
                                                 weights=weights, p=1)
    result = model.solve("heuristic")
    assert result.objective == 0 and result.covered is not None and not result.covered.any()
    assert np.isinf(result.cost).all()
