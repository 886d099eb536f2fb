"""Greedy plus interchange on a dense cost matrix (demand × candidates): p-median and p-center.

The arrays hold only demand points of positive weight, and finite costs (the caller replaces ``inf`` by a
large penalty). One full evaluation of all swaps costs a few passes over the ``n × m`` matrix.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from gis_service.analysis.placement.cover_search import lscp_search

ORACLE_ROUNDS = 20  # weighting rounds when the p-center asks "can p sites cover within r?" (LSCP: 40)


def nearest_two(cost: np.ndarray, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per demand point: cost to the nearest and second-nearest of ``sites``, and the nearest's position."""
    sub = cost[:, sites]
    if len(sites) == 1:
        return sub[:, 0].copy(), np.full(len(cost), _penalty(cost)), np.zeros(len(cost), dtype=np.int64)
    two = np.argpartition(sub, 1, axis=1)[:, :2]
    rows = np.arange(len(cost))
    first, second = sub[rows, two[:, 0]], sub[rows, two[:, 1]]
    swap = second < first
    owner = np.where(swap, two[:, 1], two[:, 0])
    return np.minimum(first, second), np.maximum(first, second), owner


def _penalty(cost: np.ndarray) -> float:
    return 2.0 * float(cost.max()) + 1.0


def fill_median(cost: np.ndarray, weights: np.ndarray, selected: np.ndarray, p: int) -> np.ndarray:
    """Add sites to ``selected`` until there are ``p``, each the one that lowers total weighted cost most."""
    chosen = np.zeros(cost.shape[1], dtype=bool)
    chosen[selected] = True
    nearest = cost[:, selected].min(axis=1) if len(selected) else None
    while chosen.sum() < p:
        # the first site: least total cost; then the largest saving against the sites so far
        score = -(weights @ cost) if nearest is None else weights @ np.maximum(nearest[:, None] - cost, 0.0)
        score[chosen] = -np.inf
        site = int(np.argmax(score))
        chosen[site] = True
        nearest = cost[:, site].copy() if nearest is None else np.minimum(nearest, cost[:, site])
    return np.flatnonzero(chosen)


def polish_center(cost: np.ndarray, weights: np.ndarray, sites: np.ndarray, required: np.ndarray,
                  p: int) -> np.ndarray:
    """``p`` sites with the same largest cost, those it does not need spent on total cost instead.

    Sites the largest cost does not depend on are dropped (least weight served first), then the set is
    refilled to ``p`` by p-median gains; the refill is kept only if it lowers the total weighted cost
    (compared with ``sites`` filled up to ``p`` the same way).
    """
    value = float(cost[:, sites].min(axis=1).max())
    nearest = np.argmin(cost[:, sites], axis=1)
    served = np.bincount(nearest, weights=weights, minlength=len(sites))
    core = list(sites)
    for site in sites[np.argsort(served, kind="stable")]:
        trial = [s for s in core if s != site]
        if site not in required and trial and cost[:, trial].min(axis=1).max() <= value:
            core = trial
    refilled = fill_median(cost, weights, np.array(core, dtype=np.int64), p)
    filled = fill_median(cost, weights, sites, p)  # sites as they are (filled up if fewer than p)
    better = weights @ cost[:, refilled].min(axis=1) < weights @ cost[:, filled].min(axis=1)
    return refilled if better else filled


def pmedian_search(cost: np.ndarray, weights: np.ndarray, p: int, required: np.ndarray,
                   deadline: float | None = None, restarts: int = 0) -> np.ndarray:
    """Least total weighted cost with ``p`` sites: greedy (largest saving first), then the fast interchange.

    Swapping out site ``k`` for ``c`` changes the total by ``loss[k] - gain[c] + both[k, c]`` (Whitaker's
    fast interchange): ``gain`` is what ``c`` saves against the nearest sites, ``loss`` what the points
    served by ``k`` pay to move to their second-nearest, and ``both`` corrects for the points of ``k`` that
    ``c`` serves. All pairs come from a few array passes and one sparse product per iteration. With
    ``restarts``, an iterated local search follows (1-3 seeded random swaps, then the interchange again).
    """
    best = _interchange(cost, weights, fill_median(cost, weights, required, p), required, deadline)
    best_value = _total(cost, weights, best)
    rng = np.random.default_rng(0)
    for attempt in range(restarts):
        free = np.setdiff1d(best, required)
        closed = np.setdiff1d(np.arange(cost.shape[1]), best)
        if not len(free) or not len(closed) or (deadline is not None and time.perf_counter() >= deadline):
            break
        k = min(1 + attempt % 3, len(free), len(closed))
        start = np.union1d(np.setdiff1d(best, rng.choice(free, k, replace=False)), rng.choice(closed, k, replace=False))
        trial = _interchange(cost, weights, start, required, deadline)
        value = _total(cost, weights, trial)
        if value < best_value - 1e-9 * max(best_value, 1.0):
            best, best_value = trial, value
    return best


def _total(cost: np.ndarray, weights: np.ndarray, sites: np.ndarray) -> float:
    return float(weights @ cost[:, sites].min(axis=1))


def _interchange(cost: np.ndarray, weights: np.ndarray, start: np.ndarray, required: np.ndarray,
                 deadline: float | None) -> np.ndarray:
    selected = np.zeros(cost.shape[1], dtype=bool)
    selected[start] = True
    removable = np.ones(cost.shape[1], dtype=bool)
    removable[required] = False
    while deadline is None or time.perf_counter() < deadline:
        sites = np.flatnonzero(selected)
        if not removable[sites].any():
            break
        first, second, owner = nearest_two(cost, sites)
        closer = np.maximum(first[:, None] - cost, 0.0)
        gain = weights @ closer
        loss = np.bincount(owner, weights=weights * (second - first), minlength=len(sites))
        closer -= np.maximum(second[:, None] - cost, 0.0)
        closer *= weights[:, None]
        served = sp.csr_array((np.ones(len(cost)), (owner, np.arange(len(cost)))), shape=(len(sites), len(cost)))
        change = served @ closer + (loss[:, None] - gain[None, :])
        change[:, selected] = np.inf
        change[~removable[sites], :] = np.inf
        k, c = np.unravel_index(int(np.argmin(change)), change.shape)
        if not change[k, c] < -1e-9 * max(float(weights @ first), 1.0):
            break
        selected[sites[k]] = False
        selected[c] = True
    return np.flatnonzero(selected)


def pcenter_search(cost: np.ndarray, weights: np.ndarray, p: int, required: np.ndarray,
                   deadline: float | None = None) -> np.ndarray:
    """Least largest cost with ``p`` sites.

    1. Greedy: add the site that lowers the largest cost most (ties: the lower total), then interchange:
       only a swap that brings every critical point (those at the largest cost) closer can lower it, which
       prunes the candidates to try.
    2. Binary search below that value over the distinct costs, asking the LSCP search whether ``p`` sites
       can cover every point within the level (a heuristic answer: "no" may be wrong, "yes" never is).
    3. ``polish_center``: sites the largest cost does not need go where they cut the total weighted cost.
    """
    best = pcenter_swaps(cost, p, required, deadline)
    best_value = float(cost[:, best].min(axis=1).max())
    levels = np.unique(cost[cost < best_value])
    levels = levels[levels >= cost.min(axis=1).max()]  # every point needs its nearest candidate at least
    low, high = 0, len(levels)  # levels[high:] are known feasible (best_value above them all)
    while low < high and (deadline is None or time.perf_counter() < deadline):
        middle = (low + high) // 2
        sites = _cover_within(cost, levels[middle], p, required, deadline)
        if sites is None:
            low = middle + 1
            continue
        sites = pcenter_swaps(cost, p, required, deadline, start=sites)
        value = float(cost[:, sites].min(axis=1).max())
        if value < best_value:
            best, best_value = sites, value
        high = int(np.searchsorted(levels, value, side="left"))
    return polish_center(cost, weights, best, required, p)


def _cover_within(cost: np.ndarray, level: float, p: int, required: np.ndarray,
                  deadline: float | None) -> np.ndarray | None:
    """``p`` sites (at most; filled up) covering every point within ``level``, if the LSCP search finds them."""
    rows, cols = np.nonzero(cost <= level)
    pattern = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=cost.shape)
    sites = lscp_search(pattern, required, deadline, rounds=ORACLE_ROUNDS)
    return sites if len(sites) <= p else None


def pcenter_swaps(cost: np.ndarray, p: int, required: np.ndarray, deadline: float | None,
                  start: np.ndarray | None = None) -> np.ndarray:
    """Greedy from ``start`` (default ``required``) up to ``p`` sites, then improving swaps (step 1 above)."""
    selected = np.zeros(cost.shape[1], dtype=bool)
    selected[required if start is None else start] = True
    nearest = cost[:, selected].min(axis=1) if selected.any() else None
    while selected.sum() < p:
        reach = cost if nearest is None else np.minimum(nearest[:, None], cost)
        order = np.lexsort((reach.sum(axis=0), reach.max(axis=0)))
        site = int(order[~selected[order]][0])
        selected[site] = True
        nearest = reach[:, site]
    removable = np.ones(cost.shape[1], dtype=bool)
    removable[required] = False
    while (deadline is None or time.perf_counter() < deadline) and _best_center_swap(cost, selected, removable):
        pass
    return np.flatnonzero(selected)


def _best_center_swap(cost: np.ndarray, selected: np.ndarray, removable: np.ndarray) -> bool:
    """Apply the swap that lowers the largest cost most; ``False`` when none lowers it."""
    sites = np.flatnonzero(selected)
    first, second, owner = nearest_two(cost, sites)
    value = first.max()
    critical = first >= value
    options = np.flatnonzero(~selected & (cost[critical].max(axis=0) < value))
    best_value, best_pair = value, None
    for k in np.flatnonzero(removable[sites]):
        base = np.where(owner == k, second, first)
        largest = np.minimum(base[:, None], cost[:, options]).max(axis=0) if len(options) else base[:0]
        if len(largest) and largest.min() < best_value:
            best_value, best_pair = float(largest.min()), (sites[k], options[int(np.argmin(largest))])
    if best_pair is None:
        return False
    selected[best_pair[0]] = False
    selected[best_pair[1]] = True
    return True
