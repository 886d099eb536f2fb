"""What every placement model shares: argument checks, ``solve`` and the result's assignment."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike

from gis_service.analysis.placement.errors import PlacementInputError
from gis_service.analysis.placement.inputs import Reach, as_required, as_weights
from gis_service.analysis.placement.result import Method, PlacementResult, Status


@dataclass(frozen=True, eq=False)
class Solution:
    """What an exact or heuristic run hands back to ``solve``."""

    selected: np.ndarray
    status: Status
    assignment: np.ndarray | None = None  # only models that decide the assignment themselves


class PlacementModel(ABC):
    """A location-allocation problem over ``n_demand`` demand points and ``n_candidates`` candidate sites.

    Build one with ``from_cost_matrix`` or ``from_geodataframe``, then call ``solve``. ``p`` always counts
    every site of the solution, required ones included (as in spopt), and required sites are always in it.
    Demand points of weight 0 are ignored by the objective and constraints (covering and distance models
    still report their nearest site).
    """

    name: ClassVar[str]
    exact_limit: ClassVar[int]  # "auto" solves exactly when ``size`` is at most this

    def __init__(self, n_demand: int, n_candidates: int, *, weights: ArrayLike | None, required: ArrayLike | None,
                 labels: list[object] | None) -> None:
        self.n_demand = n_demand
        self.n_candidates = n_candidates
        self.weights = as_weights(weights, n_demand)
        self.required = as_required(required, n_candidates)
        self.labels = labels
        self.active = self.weights > 0
        if not self.active.any():
            raise PlacementInputError("no demand point has a positive weight: there is nothing to place sites for")

    @property
    @abstractmethod
    def size(self) -> int:
        """The size that decides ``method="auto"`` (variables or non-zeros of the exact model)."""

    def solve(self, method: Method = "auto", *, time_limit: float | None = None) -> PlacementResult:
        """Choose the sites.

        Parameters
        ----------
        method : {"auto", "exact", "heuristic"}
            ``"exact"``: a MILP solved by HiGHS; ``"heuristic"``: greedy plus local search; ``"auto"``: exact
            when ``size <= exact_limit``, else the heuristic.
        time_limit : float, optional
            Seconds. The MILP then returns its best solution with status ``"time_limit"`` (or raises
            ``PlacementSolverError`` if it has none); the heuristic stops improving.

        Returns
        -------
        PlacementResult
        """
        if method not in ("auto", "exact", "heuristic"):
            raise PlacementInputError(f"method must be 'auto', 'exact' or 'heuristic', got {method!r}")
        if time_limit is not None and not time_limit > 0:
            raise PlacementInputError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
        start = time.perf_counter()
        deadline = None if time_limit is None else start + time_limit
        used: Literal["exact", "heuristic"] = "heuristic"
        if method == "exact" or (method == "auto" and self.size <= self.exact_limit):
            used = "exact"
        solution = self._exact(deadline) if used == "exact" else self._heuristic(deadline)
        return self._result(solution, used, start)

    @abstractmethod
    def _exact(self, deadline: float | None) -> Solution: ...

    @abstractmethod
    def _heuristic(self, deadline: float | None) -> Solution: ...

    @abstractmethod
    def _result(self, solution: Solution, method: Literal["exact", "heuristic"], start: float) -> PlacementResult:
        ...

    def _build(self, solution: Solution, method: Literal["exact", "heuristic"], start: float, *, objective: float,
               assignment: np.ndarray, cost: np.ndarray, covered: np.ndarray | None) -> PlacementResult:
        return PlacementResult(model=self.name, selected=np.sort(solution.selected).astype(np.int64),
                               objective=float(objective), assignment=assignment, cost=cost, covered=covered,
                               status=solution.status, method=method, seconds=time.perf_counter() - start)


def nearest_in_reach(reach: Reach, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per demand point: the nearest selected candidate within reach (-1 if none) and its cost (``inf``)."""
    chosen = np.zeros(reach.n_candidates, dtype=bool)
    chosen[selected] = True
    pairs = np.flatnonzero(chosen[reach.indices])
    rows = reach.rows[pairs]
    order = np.lexsort((reach.cost[pairs], rows))
    pairs, rows = pairs[order], rows[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    assignment = np.full(reach.n_demand, -1, dtype=np.int64)
    cost = np.full(reach.n_demand, np.inf)
    assignment[rows[first]] = reach.indices[pairs[first]]
    cost[rows[first]] = reach.cost[pairs[first]]
    return assignment, cost


def nearest_in_matrix(cost: np.ndarray, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per demand point: the nearest selected candidate (-1 if all are unreachable) and its cost."""
    sub = cost[:, selected]
    position = np.argmin(sub, axis=1)
    nearest = sub[np.arange(len(cost)), position]
    assignment = np.where(np.isfinite(nearest), selected[position], -1).astype(np.int64)
    return assignment, nearest
