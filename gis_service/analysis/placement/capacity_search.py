"""Greedy heuristic for capacitated coverage: open the most useful sites, assign the most constrained points first."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gis_service.analysis.placement.errors import InfeasiblePlacementError

SWAP_EVALUATIONS = 200  # trial assignments when improving a p-site solution by swaps


@dataclass(frozen=True, eq=False)
class Pairs:
    """(demand, site, cost) pairs within the radius of positive-weight points, sorted by demand then cost."""

    row: np.ndarray
    site: np.ndarray
    cost: np.ndarray
    start: np.ndarray  # pairs of point i: start[i]:start[i + 1]

    @classmethod
    def sorted(cls, row: np.ndarray, site: np.ndarray, cost: np.ndarray, n_demand: int) -> Pairs:
        order = np.lexsort((cost, row))
        row, site, cost = row[order], site[order], cost[order]
        return cls(row, site, cost, np.searchsorted(row, np.arange(n_demand + 1)))


def assign(pairs: Pairs, weights: np.ndarray, capacity: np.ndarray, open_sites: np.ndarray) -> np.ndarray:
    """Each point whole to an open site with room: the point with the fewest sites left first (heaviest on
    ties), to its nearest site with room; then points left over try to make room by moving one served point
    elsewhere. Points that still fit nowhere stay at -1."""
    room = np.where(open_sites, capacity, 0.0)
    assignment = np.full(len(pairs.start) - 1, -1, dtype=np.int64)
    waiting = np.zeros(len(assignment), dtype=bool)
    waiting[pairs.row] = True
    pair_weight = weights[pairs.row]
    usable = open_sites[pairs.site]
    while True:
        live = usable & waiting[pairs.row] & (room[pairs.site] >= pair_weight)
        options = np.bincount(pairs.row[live], minlength=len(assignment))
        ready = np.flatnonzero(waiting & (options > 0))
        if not len(ready):
            _make_room(pairs, weights, np.flatnonzero(waiting), assignment, room, usable)
            return assignment
        point = int(ready[np.lexsort((-weights[ready], options[ready]))[0]])
        first = pairs.start[point]
        k = first + int(np.argmax(live[first:pairs.start[point + 1]]))
        assignment[point] = pairs.site[k]
        room[pairs.site[k]] -= weights[point]
        waiting[point] = False


def _make_room(pairs: Pairs, weights: np.ndarray, left: np.ndarray, assignment: np.ndarray, room: np.ndarray,
               usable: np.ndarray) -> None:
    """For each point left over (heaviest first): at one of its open sites, move a served point to another
    of its own open sites with room, if that frees enough room (an ejection chain of length one)."""
    for point in left[np.argsort(-weights[left], kind="stable")]:
        mine = slice(pairs.start[point], pairs.start[point + 1])
        for site in pairs.site[mine][usable[mine]]:
            need = weights[point] - room[site]
            moved = False
            for other in np.flatnonzero(assignment == site):
                theirs = slice(pairs.start[other], pairs.start[other + 1])
                targets = pairs.site[theirs][usable[theirs]]
                targets = targets[(targets != site) & (room[targets] >= weights[other])]
                if weights[other] >= need and len(targets):
                    room[targets[0]] -= weights[other]
                    room[site] += weights[other] - weights[point]
                    assignment[other], assignment[point] = targets[0], site
                    moved = True
                    break
            if moved:
                break


def capacitated_search(pairs: Pairs, weights: np.ndarray, capacity: np.ndarray, p: int | None,
                       required: np.ndarray, deadline: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Sites and assignment: open the site able to take the most unserved weight until everyone is served
    (no ``p``) or there are ``p`` sites; then close sites that are not needed (no ``p``) or try swaps that
    serve more weight (``p``), within ``SWAP_EVALUATIONS`` trial assignments."""
    m = len(capacity)
    reach = sp.csr_array((np.ones(len(pairs.row)), (pairs.row, pairs.site)), shape=(len(pairs.start) - 1, m))
    selected = np.zeros(m, dtype=bool)
    selected[required] = True
    assignment = assign(pairs, weights, capacity, selected)
    waiting = np.zeros(len(assignment), dtype=bool)
    waiting[pairs.row] = True

    def short() -> bool:
        return bool((waiting & (assignment < 0)).any()) if p is None else int(selected.sum()) < p

    while short():
        score = np.minimum(reach.T @ (weights * (waiting & (assignment < 0))), capacity)
        score[selected] = -1.0
        if p is None and score.max() <= 0:
            raise InfeasiblePlacementError("the heuristic found no sites that serve every demand point; solve "
                                           "with method='exact'")
        selected[int(np.argmax(score))] = True
        assignment = assign(pairs, weights, capacity, selected)
    served = float(weights[assignment >= 0].sum())
    fixed = np.zeros(m, dtype=bool)
    fixed[required] = True
    budget = SWAP_EVALUATIONS
    improved = True
    while improved and budget > 0 and (deadline is None or time.perf_counter() < deadline):
        improved = False
        load = np.bincount(assignment[assignment >= 0], weights=weights[assignment >= 0], minlength=m)
        free = np.flatnonzero(selected & ~fixed)
        for site in free[np.argsort(load[free], kind="stable")]:
            for other in [None] if p is None else np.flatnonzero(~selected)[:budget].tolist():
                trial = selected.copy()
                trial[site] = False
                if other is not None:
                    trial[other] = True
                budget -= 1
                attempt = assign(pairs, weights, capacity, trial)
                weight = float(weights[attempt >= 0].sum())
                if weight > served + 1e-9 or (p is None and weight >= served - 1e-9):
                    selected, assignment, served, improved = trial, attempt, weight, True
                    break
            if improved or budget <= 0:
                break
    return np.flatnonzero(selected), assignment
