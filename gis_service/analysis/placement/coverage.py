"""Covering models on the sparse coverage relation (cost <= radius): LSCP and MCLP."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from gis_service.analysis.placement import cover_search, milp
from gis_service.analysis.placement.base import PlacementModel, Solution, nearest_in_reach
from gis_service.analysis.placement.errors import InfeasiblePlacementError, name_demand
from gis_service.analysis.placement.geo import Metric, reach_within, read_frames
from gis_service.analysis.placement.inputs import Reach, as_cost, check_p, check_radius, group_rows
from gis_service.analysis.placement.result import PlacementResult

# "auto" solves exactly up to this many non-zeros in the grouped coverage matrix. The 20,000 × 500 MCLP
# benchmark (clustered settlements) has 26,700 at a 2.5 km radius (solved in 0.5 s) and 95,700 at 4 km (1.6 s).
COVER_EXACT_LIMIT = 2_000_000
MCLP_RESTARTS = 30  # iterated local search rounds of the heuristic (each a few sparse products)


class CoveringModel(PlacementModel):
    """Shared by LSCP and MCLP: demand points grouped by the set of candidates that reach them."""

    exact_limit: ClassVar[int] = COVER_EXACT_LIMIT

    def __init__(self, reach: Reach, radius: float, *, weights: ArrayLike | None, required: ArrayLike | None,
                 labels: list[object] | None) -> None:
        super().__init__(reach.n_demand, reach.n_candidates, weights=weights, required=required, labels=labels)
        self.reach = reach
        self.radius = radius
        rows = np.flatnonzero(self.active & (reach.counts > 0))
        pattern = reach.pattern()[rows]
        group, first = group_rows(pattern)
        self.pattern: sp.csr_array = pattern[first]
        self.group_weight = np.bincount(group, weights=self.weights[rows], minlength=len(first))

    @property
    def size(self) -> int:
        return int(self.pattern.nnz)

    def _open_groups(self) -> np.ndarray:
        """Groups that no required site covers: the only ones the decision is about."""
        if not len(self.required):
            return np.arange(self.pattern.shape[0])
        return np.flatnonzero(self.pattern[:, self.required].sum(axis=1) == 0)

    def _covered(self, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assignment, cost = nearest_in_reach(self.reach, selected)
        return assignment, cost, assignment >= 0


class LSCP(CoveringModel):
    """Location set covering: the fewest sites that serve every demand point within ``radius``.

    The objective is the number of sites, required ones included. Demand of weight 0 need not be covered.

    Examples
    --------
    >>> cost = [[100, 900, 900], [900, 100, 900], [900, 900, 100], [500, 500, 900]]
    >>> LSCP.from_cost_matrix(cost, radius=500).solve().selected.tolist()
    [0, 1, 2]
    """

    name = "lscp"

    def __init__(self, reach: Reach, radius: float, *, weights: ArrayLike | None = None,
                 required: ArrayLike | None = None, labels: list[object] | None = None) -> None:
        super().__init__(reach, radius, weights=weights, required=required, labels=labels)
        unreachable = np.flatnonzero(self.active & (reach.counts == 0))
        if len(unreachable):
            raise InfeasiblePlacementError(
                f"no candidate lies within {radius:,.0f} m of {name_demand(unreachable, labels)}: widen the "
                "radius, add candidates near them, or give them weight 0", unreachable)

    @classmethod
    def from_cost_matrix(cls, cost: ArrayLike, *, radius: float, weights: ArrayLike | None = None,
                         required: ArrayLike | None = None) -> Self:
        """From a demand × candidate cost matrix in metres (``inf``: unreachable).

        Parameters
        ----------
        cost : array_like
            Demand × candidate costs (metres).
        radius : float
            Service radius: a candidate serves a demand point when ``cost <= radius``.
        weights : array_like, optional
            Demand weights; only whether a weight is 0 (ignore the point) matters here.
        required : array_like, optional
            Candidate indices (or a boolean mask) that must be selected: existing facilities.
        """
        radius = check_radius(radius)
        return cls(Reach.from_cost(as_cost(cost), radius), radius, weights=weights, required=required)

    @classmethod
    def from_geodataframe(cls, demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, radius: float,
                          weights_column: str | None = None, required: str | ArrayLike | None = None,
                          metric: Metric = "euclidean", cost: ArrayLike | None = None) -> Self:
        """From point layers in one projected CRS in metres (e.g. EPSG:4544).

        The coverage relation comes from a KD-tree (no dense matrix), or from ``cost`` when given (e.g. road
        distances, rows and columns in the frames' order). ``required`` may name a boolean column of
        ``candidates``. Errors name demand points by the demand frame's index.
        """
        radius = check_radius(radius)
        frames = read_frames(demand, candidates, weights_column=weights_column, required=required)
        return cls(reach_within(frames, radius, metric, cost), radius, weights=frames.weights,
                   required=frames.required, labels=frames.labels)

    def _exact(self, deadline: float | None) -> Solution:
        pattern = self.pattern[self._open_groups()]
        if pattern.shape[0] == 0:
            return Solution(self.required, "optimal")
        m = self.n_candidates
        lb = np.zeros(m)
        lb[self.required] = 1.0
        problem = milp.Problem(c=np.ones(m), a_ub=-pattern, b_ub=-np.ones(pattern.shape[0]), a_eq=None, b_eq=None,
                               lb=lb, ub=np.ones(m), integer=np.ones(m, dtype=bool))
        outcome = milp.solve(problem, deadline)
        if outcome.x is None:  # cannot happen: every group has a candidate
            raise InfeasiblePlacementError("the covering problem has no solution")
        return Solution(np.flatnonzero(outcome.x > 0.5), "optimal" if outcome.status == "optimal" else "time_limit")

    def _heuristic(self, deadline: float | None) -> Solution:
        pattern = self.pattern[self._open_groups()]
        if pattern.shape[0] == 0:
            return Solution(self.required, "heuristic")
        return Solution(cover_search.lscp_search(pattern, self.required, deadline), "heuristic")

    def _result(self, solution: Solution, method: Literal["exact", "heuristic"], start: float) -> PlacementResult:
        assignment, cost, covered = self._covered(solution.selected)
        return self._build(solution, method, start, objective=len(solution.selected), assignment=assignment,
                           cost=cost, covered=covered)


class MCLP(CoveringModel):
    """Maximal covering: ``p`` sites (required ones included) covering the most demand weight within ``radius``.

    The objective is the covered weight.

    Examples
    --------
    >>> cost = [[100, 900, 900], [900, 100, 900], [900, 100, 900], [900, 900, 100]]
    >>> result = MCLP.from_cost_matrix(cost, radius=500, p=2, weights=[5, 1, 1, 3]).solve()
    >>> result.selected.tolist(), result.objective
    ([0, 2], 8.0)
    """

    name = "mclp"

    def __init__(self, reach: Reach, radius: float, p: int, *, weights: ArrayLike | None = None,
                 required: ArrayLike | None = None, labels: list[object] | None = None) -> None:
        super().__init__(reach, radius, weights=weights, required=required, labels=labels)
        self.p = check_p(p, self.n_candidates, len(self.required))

    @classmethod
    def from_cost_matrix(cls, cost: ArrayLike, *, radius: float, p: int, weights: ArrayLike | None = None,
                         required: ArrayLike | None = None) -> Self:
        """From a demand × candidate cost matrix in metres (``inf``: unreachable).

        Parameters
        ----------
        cost : array_like
            Demand × candidate costs (metres).
        radius : float
            Service radius: a candidate covers a demand point when ``cost <= radius``.
        p : int
            Sites in the solution, required ones included.
        weights : array_like, optional
            Demand weights (e.g. population); ones by default.
        required : array_like, optional
            Candidate indices (or a boolean mask) that must be selected: existing facilities.
        """
        radius = check_radius(radius)
        return cls(Reach.from_cost(as_cost(cost), radius), radius, p, weights=weights, required=required)

    @classmethod
    def from_geodataframe(cls, demand: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, radius: float, p: int,
                          weights_column: str | None = None, required: str | ArrayLike | None = None,
                          metric: Metric = "euclidean", cost: ArrayLike | None = None) -> Self:
        """From point layers in one projected CRS in metres; see ``LSCP.from_geodataframe``."""
        radius = check_radius(radius)
        frames = read_frames(demand, candidates, weights_column=weights_column, required=required)
        return cls(reach_within(frames, radius, metric, cost), radius, p, weights=frames.weights,
                   required=frames.required, labels=frames.labels)

    def _exact(self, deadline: float | None) -> Solution:
        groups = self._open_groups()
        if self.p == len(self.required) or not len(groups):
            return Solution(cover_search.mclp_search(self.pattern, self.group_weight, self.p, self.required),
                            "optimal")  # nothing left to decide (or any p sites do): the fill is optimal
        pattern, weight = self.pattern[groups], self.group_weight[groups]
        m, g = self.n_candidates, len(groups)
        # max Σ w_g y_g  s.t.  y_g <= Σ_{j covers g} x_j,  Σ x_j = p,  x binary, 0 <= y <= 1
        a_ub = sp.hstack([-pattern, sp.eye_array(g, format="csr")], format="csr")
        a_eq = sp.csr_array(np.concatenate([np.ones(m), np.zeros(g)])[None, :])
        lb = np.zeros(m + g)
        lb[self.required] = 1.0
        problem = milp.Problem(c=np.concatenate([np.zeros(m), -weight]), a_ub=a_ub, b_ub=np.zeros(g), a_eq=a_eq,
                               b_eq=np.array([float(self.p)]), lb=lb, ub=np.ones(m + g),
                               integer=np.arange(m + g) < m)
        outcome = milp.solve(problem, deadline)
        if outcome.x is None:  # cannot happen: any p sites are feasible
            raise InfeasiblePlacementError("the maximal covering problem has no solution")
        return Solution(np.flatnonzero(outcome.x[:m] > 0.5),
                        "optimal" if outcome.status == "optimal" else "time_limit")

    def _heuristic(self, deadline: float | None) -> Solution:
        selected = cover_search.mclp_search(self.pattern, self.group_weight, self.p, self.required, deadline=deadline,
                                            restarts=MCLP_RESTARTS)
        return Solution(selected, "heuristic")

    def _result(self, solution: Solution, method: Literal["exact", "heuristic"], start: float) -> PlacementResult:
        assignment, cost, covered = self._covered(solution.selected)
        return self._build(solution, method, start, objective=float(self.weights[covered].sum()),
                           assignment=assignment, cost=cost, covered=covered)
