"""The typed result every placement model returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["exact", "heuristic", "auto"]
Status = Literal["optimal", "time_limit", "heuristic"]


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """The sites chosen by one ``solve`` and what they achieve.

    Attributes
    ----------
    model : str
        ``"lscp"``, ``"mclp"``, ``"p-median"``, ``"p-center"`` or ``"capacitated"``.
    selected : numpy.ndarray
        Sorted candidate indices (int64) of every site in the solution, required sites included.
    objective : float
        LSCP: number of sites. MCLP: covered weight. p-median: total weighted cost. p-center: largest cost
        from a (positive-weight) demand point to its site. Capacitated: number of sites, or with ``p`` the
        assigned weight. Always recomputed from ``selected`` (and the assignment), whatever the method.
    assignment : numpy.ndarray
        Candidate index serving each demand point (int64), -1 for none: the nearest selected site (within
        the radius for covering models), or the site the capacitated model assigned.
    cost : numpy.ndarray
        Cost (metres) from each demand point to its assigned site; ``inf`` where unassigned.
    covered : numpy.ndarray or None
        Covering models: whether each demand point is served within the radius. ``None`` otherwise.
    status : {"optimal", "time_limit", "heuristic"}
        ``"optimal"`` when the MILP proved optimality, ``"time_limit"`` for the best solution found when the
        time limit stopped it, ``"heuristic"`` for the greedy plus local search.
    method : {"exact", "heuristic"}
        What ``solve`` ran (``"auto"`` resolved).
    seconds : float
        Wall time of ``solve``.
    """

    model: str
    selected: np.ndarray
    objective: float
    assignment: np.ndarray
    cost: np.ndarray
    covered: np.ndarray | None
    status: Status
    method: Literal["exact", "heuristic"]
    seconds: float

    def __post_init__(self) -> None:
        for array in (self.selected, self.assignment, self.cost, self.covered):
            if array is not None:
                array.setflags(write=False)  # the dataclass is frozen; so are its arrays
