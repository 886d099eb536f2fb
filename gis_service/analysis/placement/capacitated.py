"""Capacitated coverage: every demand point assigned whole to one site within the radius, within capacity."""

from __future__ import annotations

import time
from typing import ClassVar, Literal, Self

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from gis_service.analysis.placement import capacity_search, milp
from gis_service.analysis.placement.base import PlacementModel, Solution
from gis_service.analysis.placement.errors import InfeasiblePlacementError, PlacementInputError, name_demand
from gis_service.analysis.placement.geo import Metric, reach_within, read_frames
from gis_service.analysis.placement.inputs import Reach, as_cost, check_p, check_radius
from gis_service.analysis.placement.result import PlacementResult

# "auto" solves exactly up to this many (demand, candidate) pairs within the radius. Single-source
# assignment under capacities is a generalised assignment problem, much harder than plain covering: 1,000
# pairs (120 × 25) took 0.6-5 s here.
CAPACITATED_EXACT_LIMIT = 5_000


class CapacitatedCoverage(PlacementModel):
    """Capacitated coverage: each demand point is served whole by one selected site within ``radius``, and
    the weight a site serves never exceeds its ``capacity``.

    Without ``p``: the fewest sites that serve all demand (capacitated LSCP; objective: number of sites).
    With ``p``: ``p`` sites (required ones included) serving the most weight (objective: served weight).
    The exact method then chooses, among optimal site sets, an assignment of least total weighted cost.

    Examples
    --------
    >>> cost = [[100, 200], [100, 200], [200, 100]]
    >>> model = CapacitatedCoverage.from_cost_matrix(cost, radius=300, capacity=[2, 2])
    >>> result = model.solve()
    >>> result.selected.tolist(), result.assignment.tolist()
    ([0, 1], [0, 0, 1])
    """

    name = "capacitated"
    exact_limit: ClassVar[int] = CAPACITATED_EXACT_LIMIT

    def __init__(self, reach: Reach, radius: float, capacity: ArrayLike, p: int | None = None, *,
                 weights: ArrayLike | None = None, required: ArrayLike | None = None,
                 labels: list[object] | None = None) -> None:
        super().__init__(reach.n_demand, reach.n_candidates, weights=weights, required=required, labels=labels)
        self.reach = reach
        self.radius = radius
        self.capacity = np.asarray(capacity, dtype=np.float64).reshape(-1)
        if self.capacity.shape != (self.n_candidates,) or not np.isfinite(self.capacity).all() \
                or (self.capacity < 0).any():
            raise PlacementInputError(f"capacity needs one finite, non-negative value per candidate "
                                      f"({self.n_candidates})")
        self.p = None if p is None else check_p(p, self.n_candidates, len(self.required))
        rows = reach.rows
        keep = self.active[rows]
        self.pair_row, self.pair_site, self.pair_cost = rows[keep], reach.indices[keep], reach.cost[keep]
        if self.p is None:
            self._check_servable()

    def _check_servable(self) -> None:
        weight = self.weights[self.pair_row]
        fits = np.zeros(self.n_demand, dtype=bool)
        fits[self.pair_row[self.capacity[self.pair_site] >= weight]] = True
        stuck = np.flatnonzero(self.active & ~fits)
        if len(stuck):
            raise InfeasiblePlacementError(f"no candidate within {self.radius:,.0f} m has the capacity to serve "
                                           f"{name_demand(stuck, self.labels)}", stuck)
        total, room = self.weights.sum(), self.capacity.sum()
        if total > room:
            raise InfeasiblePlacementError(f"the demand ({total:,.0f}) exceeds the capacity of all candidates "
                                           f"together ({room:,.0f})")

    @classmethod
    def from_cost_matrix(cls, cost: ArrayLike, *, radius: float, capacity: ArrayLike, p: int | None = None,
                         weights: ArrayLike | None = None, required: ArrayLike | None = None) -> Self:
        """From a demand × candidate cost matrix in metres (``inf``: unreachable).

        Parameters
        ----------
        cost : array_like
            Demand × candidate costs (metres).
        radius : float
            Service radius: a site may serve a demand point when ``cost <= radius``.
        capacity : array_like
            Weight each candidate can serve, in the units of ``weights``.
        p : int, optional
            Sites in the solution, required ones included; without it, the fewest sites that serve everyone.
        weights : array_like, optional
            Demand weights (e.g. population); ones by default.
        required : array_like, optional
            Candidate indices (or a boolean mask) that must be selected: existing facilities.
        """
        radius = check_radius(radius)
        return cls(Reach.from_cost(as_cost(cost), radius), radius, capacity, p, weights=weights, required=required)

    @classmethod
    def from_geodataframe(cls, demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, radius: float,
                          capacity_column: str, p: int | None = None, weights_column: str | None = None,
                          required: str | ArrayLike | None = None, metric: Metric = "euclidean",
                          cost: ArrayLike | None = None) -> Self:
        """From point layers in one projected CRS in metres; capacities from ``capacity_column``."""
        radius = check_radius(radius)
        if capacity_column not in candidates.columns:
            raise PlacementInputError(f"candidates have no column '{capacity_column}'")
        frames = read_frames(demand, candidates, weights_column=weights_column, required=required)
        return cls(reach_within(frames, radius, metric, cost), radius, candidates[capacity_column].to_numpy(), p,
                   weights=frames.weights, required=frames.required, labels=frames.labels)

    @property
    def size(self) -> int:
        return len(self.pair_row)

    def _problem(self, objective: Literal["sites", "weight", "cost"], pairs: np.ndarray, *, serve_all: bool,
                 fixed: np.ndarray | None = None) -> milp.Problem:
        """x (sites) then z (the given pairs), all binary.

        Rows: each demand point with pairs is served once (``serve_all``) or at most once; the weight a site
        serves is within its capacity if open, else 0; ``z <= x`` (a tighter LP than capacity rows alone);
        and ``Σ x = p`` unless the sites are ``fixed``.
        """
        m, k = self.n_candidates, len(pairs)
        demand, site, weight = self.pair_row[pairs], self.pair_site[pairs], self.weights[self.pair_row[pairs]]
        points, row = np.unique(demand, return_inverse=True)
        z = m + np.arange(k)
        assign = sp.csr_array((np.ones(k), (row, z)), shape=(len(points), m + k))
        capacity = sp.csr_array((np.concatenate([weight, -self.capacity]),
                                 (np.concatenate([site, np.arange(m)]), np.concatenate([z, np.arange(m)]))),
                                shape=(m, m + k))
        link = sp.csr_array((np.concatenate([np.ones(k), -np.ones(k)]),
                             (np.tile(np.arange(k), 2), np.concatenate([z, site]))), shape=(k, m + k))
        upper = [capacity, link] if serve_all else [assign, capacity, link]
        a_ub = sp.vstack(upper, format="csr")
        b_ub = np.zeros(a_ub.shape[0])
        if not serve_all:
            b_ub[:len(points)] = 1.0
        equal, b_eq = [], []
        if serve_all:
            equal.append(assign)
            b_eq.append(np.ones(len(points)))
        if self.p is not None and fixed is None:
            equal.append(sp.csr_array(np.concatenate([np.ones(m), np.zeros(k)])[None, :]))
            b_eq.append(np.array([float(self.p)]))
        c = {"sites": np.concatenate([np.ones(m), np.zeros(k)]),
             "weight": np.concatenate([np.zeros(m), -weight]),
             "cost": np.concatenate([np.zeros(m), weight * self.pair_cost[pairs]])}[objective]
        lb, ub = np.zeros(m + k), np.ones(m + k)
        lb[self.required] = 1.0
        if fixed is not None:
            lb[:m] = ub[:m] = fixed
        return milp.Problem(c=c, a_ub=a_ub, b_ub=b_ub, a_eq=sp.vstack(equal, format="csr") if equal else None,
                            b_eq=np.concatenate(b_eq) if b_eq else None, lb=lb, ub=ub,
                            integer=np.ones(m + k, dtype=bool))

    def _exact(self, deadline: float | None) -> Solution:
        """Phase 1: the fewest sites (or the most served weight); phase 2, with the sites fixed and the same
        points served: the assignment of least total weighted cost (phase 1 leaves it arbitrary)."""
        pairs = np.arange(self.size)
        outcome = milp.solve(self._problem("sites" if self.p is None else "weight", pairs,
                                           serve_all=self.p is None), deadline)
        if outcome.x is None:
            raise InfeasiblePlacementError("no selection of sites serves every demand point within the radius and "
                                           "the capacities")
        m = self.n_candidates
        sites, chosen = outcome.x[:m], pairs[outcome.x[m:] > 0.5]
        status: Literal["optimal", "time_limit"] = "optimal" if outcome.status == "optimal" else "time_limit"
        if status == "optimal" and len(chosen) and (deadline is None or time.perf_counter() < deadline):
            served = np.zeros(self.n_demand, dtype=bool)
            served[self.pair_row[chosen]] = True
            keep = pairs[served[self.pair_row]]
            polished = milp.solve(self._problem("cost", keep, serve_all=True, fixed=sites), deadline)
            if polished.status == "optimal" and polished.x is not None:
                chosen = keep[polished.x[m:] > 0.5]
        return Solution(np.flatnonzero(sites > 0.5), status, self._assignment(chosen))

    def _assignment(self, pairs: np.ndarray) -> np.ndarray:
        assignment = np.full(self.n_demand, -1, dtype=np.int64)
        assignment[self.pair_row[pairs]] = self.pair_site[pairs]
        return assignment

    def _heuristic(self, deadline: float | None) -> Solution:
        pairs = capacity_search.Pairs.sorted(self.pair_row, self.pair_site, self.pair_cost, self.n_demand)
        selected, assignment = capacity_search.capacitated_search(pairs, self.weights, self.capacity, self.p,
                                                                  self.required, deadline)
        return Solution(selected, "heuristic", assignment)

    def _result(self, solution: Solution, method: Literal["exact", "heuristic"], start: float) -> PlacementResult:
        assignment = solution.assignment if solution.assignment is not None else np.full(self.n_demand, -1)
        served = assignment >= 0
        lookup = sp.csr_array((np.arange(1, self.size + 1), (self.pair_row, self.pair_site)),
                              shape=(self.n_demand, self.n_candidates))
        cost = np.full(self.n_demand, np.inf)
        if served.any():  # scipy hands back a sparse array, not an ndarray, for an empty fancy index
            cost[served] = self.pair_cost[np.asarray(lookup[np.flatnonzero(served), assignment[served]]) - 1]
        objective = len(solution.selected) if self.p is None else float(self.weights[served].sum())
        return self._build(solution, method, start, objective=objective, assignment=assignment, cost=cost,
                           covered=served)
