"""Models on the dense cost matrix: p-median and p-center."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Literal, Self

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from gis_service.analysis.placement import cover_search, distance_search, milp
from gis_service.analysis.placement.base import PlacementModel, Solution, nearest_in_matrix
from gis_service.analysis.placement.errors import InfeasiblePlacementError, PlacementSolverError, name_demand
from gis_service.analysis.placement.geo import Metric, distance_matrix, read_frames
from gis_service.analysis.placement.inputs import as_cost, check_p, group_rows
from gis_service.analysis.placement.result import PlacementResult

# "auto" limits. p-median: assignment pairs left after the exact reductions (91,000 took 8 s here, see
# PMedian._exact). p-center: cost matrix entries (the binary search solves about log2(entries) small
# set-covering problems; 200,000 took 5 s).
PMEDIAN_EXACT_LIMIT = 50_000
PCENTER_EXACT_LIMIT = 200_000
PMEDIAN_DEPTH_MARGIN = 2  # first exact round: candidates beyond each point's nearest heuristic site
PMEDIAN_RESTARTS = 10  # iterated local search rounds of the heuristic (each a few passes over the matrix)


@dataclass(frozen=True, eq=False)
class _Relaxed:
    """One round of ``PMedian._exact``: the sites, the lower bound, the points that took the farther option."""

    sites: np.ndarray
    bound: float
    farther: np.ndarray
    status: str


class DistanceModel(PlacementModel):
    """Shared by p-median and p-center: every demand point goes to its nearest selected site."""

    def __init__(self, cost: np.ndarray, p: int, *, weights: ArrayLike | None, required: ArrayLike | None,
                 labels: list[object] | None) -> None:
        super().__init__(cost.shape[0], cost.shape[1], weights=weights, required=required, labels=labels)
        self.cost = cost
        self.p = check_p(p, self.n_candidates, len(self.required))
        unreachable = np.flatnonzero(self.active & ~np.isfinite(cost).any(axis=1))
        if len(unreachable):
            raise InfeasiblePlacementError(f"no candidate can reach {name_demand(unreachable, labels)} "
                                           "(every cost is inf)", unreachable)
        self.rows = np.flatnonzero(self.active)

    @classmethod
    def from_cost_matrix(cls, cost: ArrayLike, *, p: int, weights: ArrayLike | None = None,
                         required: ArrayLike | None = None) -> Self:
        """From a demand × candidate cost matrix in metres (``inf``: unreachable).

        Parameters
        ----------
        cost : array_like
            Demand × candidate costs (metres).
        p : int
            Sites in the solution, required ones included.
        weights : array_like, optional
            Demand weights (e.g. population); ones by default.
        required : array_like, optional
            Candidate indices (or a boolean mask) that must be selected: existing facilities.
        """
        return cls(as_cost(cost), p, weights=weights, required=required, labels=None)

    @classmethod
    def from_geodataframe(cls, demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, p: int,
                          weights_column: str | None = None, required: str | ArrayLike | None = None,
                          metric: Metric = "euclidean", cost: ArrayLike | None = None) -> Self:
        """From point layers in one projected CRS in metres (e.g. EPSG:4544).

        Costs are straight-line (``metric``) distances from ``scipy.spatial.distance.cdist``, or ``cost``
        when given (e.g. road distances, rows and columns in the frames' order). ``required`` may name a
        boolean column of ``candidates``.
        """
        frames = read_frames(demand, candidates, weights_column=weights_column, required=required)
        return cls(distance_matrix(frames, metric, cost), p, weights=frames.weights, required=frames.required,
                   labels=frames.labels)

    def _search_cost(self) -> np.ndarray:
        """Positive-weight rows, ``inf`` replaced by a penalty the heuristics can subtract."""
        sub = self.cost[self.rows]
        finite = np.isfinite(sub)
        if finite.all():
            return sub
        return np.where(finite, sub, 4.0 * float(sub[finite].max(initial=0.0)) + 1.0)

    def _nearest(self, solution: Solution) -> tuple[np.ndarray, np.ndarray]:
        assignment, cost = nearest_in_matrix(self.cost, np.sort(solution.selected))
        stranded = np.flatnonzero(self.active & ~np.isfinite(cost))
        if len(stranded):
            raise InfeasiblePlacementError(f"the sites found leave {name_demand(stranded, self.labels)} without a "
                                           "reachable site; solve with method='exact'", stranded)
        return assignment, cost


class PMedian(DistanceModel):
    """p-median: ``p`` sites (required ones included) with the least total weighted cost to the nearest site.

    Examples
    --------
    >>> cost = [[0, 4, 9], [1, 3, 9], [9, 4, 0], [9, 5, 1]]
    >>> result = PMedian.from_cost_matrix(cost, p=2).solve()
    >>> result.selected.tolist(), result.objective
    ([0, 2], 2.0)
    """

    name = "p-median"
    exact_limit: ClassVar[int] = PMEDIAN_EXACT_LIMIT

    @cached_property
    def _ranked(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidates of each positive-weight point from nearest to farthest, and how many of them an optimal
        assignment may use.

        Exact reductions: with ``p`` sites open at most ``m - p`` are closed, so one of each point's
        ``m - p + 1`` nearest candidates is open; and a required site is always open. The nearest open site
        is never farther than either, so farther candidates are never used.
        """
        sub = self.cost[self.rows]
        order = np.argsort(sub, axis=1, kind="stable")
        bound = np.partition(sub, self.n_candidates - self.p, axis=1)[:, self.n_candidates - self.p]
        if len(self.required):
            bound = np.minimum(bound, sub[:, self.required].min(axis=1))
        usable = ((sub <= bound[:, None]) & np.isfinite(sub)).sum(axis=1)
        return order, usable

    @property
    def size(self) -> int:
        return int(self._ranked[1].sum())

    def _exact(self, deadline: float | None) -> Solution:
        """Assignment MILP on each point's nearest candidates, widened until it proves itself optimal.

        Each point may be assigned to one of its ``depth`` nearest candidates, or to a "farther" option
        costing the distance to the next one, which underestimates any farther assignment. That problem is a
        relaxation: its optimum is a lower bound. When the true cost of its sites (each point to its nearest)
        meets the bound, they are optimal; otherwise the points that took the farther option get a deeper
        list, and it is solved again (at full depth it is the plain assignment MILP). The full model has
        about ``n × m`` assignment variables, and HiGHS needed 124 s for 91,000 of them (1,000 × 100,
        p = 10); starting from the ``2m / p`` nearest (and at least two past the nearest of the heuristic's
        sites) it needed one round of 21,000 variables and 8 s.
        """
        order, usable = self._ranked
        n, m = order.shape
        rank = np.empty_like(order)
        rank[np.arange(n)[:, None], order] = np.arange(m)
        guess = distance_search.pmedian_search(self._search_cost(), self.weights[self.rows], self.p, self.required,
                                               deadline)
        depth = np.maximum(rank[:, guess].min(axis=1) + 1 + PMEDIAN_DEPTH_MARGIN, int(np.ceil(2 * m / self.p)))
        depth = np.minimum(usable, depth)
        cost, weights = self.cost[self.rows], self.weights[self.rows]
        while True:
            relaxed = self._truncated(order, depth, usable, deadline)
            if relaxed.status != "optimal":
                return Solution(relaxed.sites, "time_limit")
            true = float(weights @ cost[:, relaxed.sites].min(axis=1))
            if true <= relaxed.bound + 1e-9 * max(abs(relaxed.bound), 1.0) or not len(relaxed.farther):
                return Solution(relaxed.sites, "optimal")
            needed = rank[:, relaxed.sites].min(axis=1) + 1  # depth that reaches the nearest of these sites
            wider = np.minimum(usable, np.maximum(2 * depth, needed))
            depth[relaxed.farther] = wider[relaxed.farther]

    def _truncated(self, order: np.ndarray, depth: np.ndarray, usable: np.ndarray,
                   deadline: float | None) -> _Relaxed:
        """Solve the assignment MILP on the ``depth`` nearest candidates of each point (see ``_exact``)."""
        m, n = self.n_candidates, len(self.rows)
        rows = np.repeat(np.arange(n), depth)
        cols = order[rows, np.arange(len(rows)) - np.repeat(np.cumsum(depth) - depth, depth)]
        farther = np.flatnonzero(depth < usable)
        k, f = len(rows), len(farther)
        z, far = m + np.arange(k), m + k + np.arange(f)
        total = m + k + f
        # min Σ w c z + Σ w c' far  s.t.  Σ_j z_ij + far_i = 1,  z_ij <= x_j,  Σ x_j = p,  x binary
        assign = sp.csr_array((np.ones(k + f), (np.concatenate([rows, farther]), np.concatenate([z, far]))),
                              shape=(n, total))
        count = sp.csr_array((np.ones(m), (np.zeros(m, dtype=np.int64), np.arange(m))), shape=(1, total))
        link = sp.csr_array((np.concatenate([np.ones(k), -np.ones(k)]),
                             (np.tile(np.arange(k), 2), np.concatenate([z, cols]))), shape=(k, total))
        cost, weights = self.cost[self.rows], self.weights[self.rows]
        next_cost = cost[farther, order[farther, depth[farther]]]
        c = np.concatenate([np.zeros(m), weights[rows] * cost[rows, cols], weights[farther] * next_cost])
        lb = np.zeros(total)
        lb[self.required] = 1.0
        problem = milp.Problem(c=c, a_ub=link, b_ub=np.zeros(k), a_eq=sp.vstack([assign, count], format="csr"),
                               b_eq=np.concatenate([np.ones(n), [float(self.p)]]), lb=lb, ub=np.ones(total),
                               integer=np.arange(total) < m)
        outcome = milp.solve(problem, deadline, lp_first=False)
        if outcome.x is None:  # cannot happen: any p sites are feasible
            raise InfeasiblePlacementError("the p-median problem has no solution")
        return _Relaxed(np.flatnonzero(outcome.x[:m] > 0.5), float(c @ outcome.x), farther[outcome.x[far] > 0.5],
                        outcome.status)

    def _heuristic(self, deadline: float | None) -> Solution:
        selected = distance_search.pmedian_search(self._search_cost(), self.weights[self.rows], self.p,
                                                  self.required, deadline, restarts=PMEDIAN_RESTARTS)
        return Solution(selected, "heuristic")

    def _result(self, solution: Solution, method: Literal["exact", "heuristic"], start: float) -> PlacementResult:
        assignment, cost = self._nearest(solution)
        objective = float(self.weights[self.rows] @ cost[self.rows])
        return self._build(solution, method, start, objective=objective, assignment=assignment, cost=cost,
                           covered=None)


class PCenter(DistanceModel):
    """p-center: ``p`` sites (required ones included) with the least largest cost from a point to its site.

    Unweighted, as in spopt: weights say which points count (weight > 0), and among site sets with the same
    largest cost the one with the least total weighted cost is preferred (the sites the largest cost does
    not need are placed as in the p-median); that second choice is greedy, not proven optimal.

    Examples
    --------
    >>> cost = [[0, 4, 9], [1, 3, 9], [9, 4, 0], [9, 5, 1]]
    >>> result = PCenter.from_cost_matrix(cost, p=1).solve()
    >>> result.selected.tolist(), result.objective
    ([1], 5.0)
    """

    name = "p-center"
    exact_limit: ClassVar[int] = PCENTER_EXACT_LIMIT

    @property
    def size(self) -> int:
        return len(self.rows) * self.n_candidates

    def _exact(self, deadline: float | None) -> Solution:
        """Binary search over the distinct costs, each step a set-covering feasibility question.

        The assignment MILP (minimise W with W >= Σ_j c_ij z_ij) has a notoriously weak LP bound and
        n × m assignment variables; "can p sites cover every point within r?" is a small sparse set-covering
        problem whose LP bound is strong, usually answered by the LSCP heuristic ("yes" with a cover of at
        most p sites) or by one HiGHS call. About log2(distinct costs) questions settle the optimum.
        """
        cost = self._search_cost()
        best = distance_search.pcenter_swaps(cost, self.p, self.required, deadline)
        best_value = float(cost[:, best].min(axis=1).max())
        levels = np.unique(cost[cost < best_value])
        levels = levels[levels >= cost.min(axis=1).max()]
        low, high, status = 0, len(levels), "optimal"
        while low < high:
            middle = (low + high) // 2
            try:
                sites = self._cover_within(cost, levels[middle], deadline)
            except PlacementSolverError:
                if deadline is None or time.perf_counter() < deadline:
                    raise
                status = "time_limit"  # out of time before an answer: keep the best so far
                break
            if sites is None:
                low = middle + 1
                continue
            best = sites
            best_value = float(cost[:, best].min(axis=1).max())
            high = int(np.searchsorted(levels, best_value, side="left"))
        selected = distance_search.polish_center(cost, self.weights[self.rows], best, self.required, self.p)
        return Solution(selected, "optimal" if status == "optimal" else "time_limit")

    def _cover_within(self, cost: np.ndarray, level: float, deadline: float | None) -> np.ndarray | None:
        """At most ``p`` sites covering every point within ``level``, or ``None`` if there are none."""
        rows, cols = np.nonzero(cost <= level)
        pattern = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=cost.shape)
        _, first = group_rows(pattern)
        pattern = pattern[first]
        sites = cover_search.lscp_search(pattern, self.required, deadline, rounds=distance_search.ORACLE_ROUNDS)
        if len(sites) <= self.p:
            return sites
        if deadline is not None and time.perf_counter() >= deadline:
            raise PlacementSolverError("time limit")
        m = self.n_candidates
        lb = np.zeros(m)
        lb[self.required] = 1.0
        # min Σ x  s.t.  every point covered, Σ x <= p; any feasible point answers the question
        a_ub = sp.vstack([-pattern, sp.csr_array(np.ones((1, m)))], format="csr")
        problem = milp.Problem(c=np.ones(m), a_ub=a_ub, b_ub=np.concatenate([-np.ones(pattern.shape[0]), [self.p]]),
                               a_eq=None, b_eq=None, lb=lb, ub=np.ones(m), integer=np.ones(m, dtype=bool))
        outcome = milp.solve(problem, deadline, feasibility=True)
        return None if outcome.x is None else np.flatnonzero(outcome.x > 0.5)

    def _heuristic(self, deadline: float | None) -> Solution:
        selected = distance_search.pcenter_search(self._search_cost(), self.weights[self.rows], self.p,
                                                  self.required, deadline)
        return Solution(selected, "heuristic")

    def _result(self, solution: Solution, method: Literal["exact", "heuristic"], start: float) -> PlacementResult:
        assignment, cost = self._nearest(solution)
        objective = float(cost[self.rows].max(initial=0.0))
        return self._build(solution, method, start, objective=objective, assignment=assignment, cost=cost,
                           covered=None)
