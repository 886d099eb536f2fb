"""Greedy plus local search on a 0/1 coverage matrix (demand groups × candidates): MCLP and LSCP.

Every step is a sparse matrix-vector or matrix-matrix product over the coverage pattern, so one full
evaluation of all swaps costs about ``nnz × p`` operations: on 20,000 × 500 with p = 20 the whole search
takes a fraction of a second.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp


class Cover:
    """Coverage counts of a selection, updated site by site."""

    def __init__(self, pattern: sp.csr_array, columns: sp.csc_array, selected: np.ndarray) -> None:
        self.pattern = pattern
        self.columns = columns  # the same matrix in CSC, for a site's rows
        self.transposed = columns.T  # CSR candidates × rows, for the products over candidates
        self.selected = np.zeros(pattern.shape[1], dtype=bool)
        self.selected[selected] = True
        self.count = pattern @ self.selected.astype(np.float64)

    @property
    def sites(self) -> np.ndarray:
        return np.flatnonzero(self.selected)

    def rows_of(self, site: int) -> np.ndarray:
        return self.columns.indices[self.columns.indptr[site]:self.columns.indptr[site + 1]]

    def add(self, site: int) -> None:
        self.selected[site] = True
        self.count[self.rows_of(site)] += 1

    def remove(self, site: int) -> None:
        self.selected[site] = False
        self.count[self.rows_of(site)] -= 1

    def gain(self, weights: np.ndarray) -> np.ndarray:
        """Weight each candidate would newly cover."""
        return self.transposed @ (weights * (self.count == 0))

    def covered_weight(self, weights: np.ndarray) -> float:
        return float(weights[self.count > 0].sum())

    def sole_cover(self, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows covered by exactly one selected site, and the position of that site in ``sites`` (rows whose
        one site is not in ``sites`` are left out)."""
        rows = np.flatnonzero(self.count == 1)
        # for a row with one selected site, the sum of (index + 1) over its selected sites names that site
        label = np.where(self.selected, np.arange(1, len(self.selected) + 1), 0).astype(np.float64)
        owner = np.rint((self.pattern @ label)[rows]).astype(np.int64) - 1
        position = np.full(len(self.selected), -1, dtype=np.int64)
        position[sites] = np.arange(len(sites))
        keep = position[owner] >= 0
        return rows[keep], position[owner[keep]]


def mclp_search(pattern: sp.csr_array, weights: np.ndarray, p: int, required: np.ndarray,
                deadline: float | None = None, restarts: int = 0) -> np.ndarray:
    """Most covered weight with ``p`` sites (``required`` among them): greedy by marginal gain, then
    best-improvement swaps.

    With ``restarts``, an iterated local search follows: 1-3 random swaps away from the best solution
    (seeded, so results repeat), then the swap search again, keeping any improvement.
    """
    columns = pattern.tocsc()
    best = _swap_search(pattern, columns, weights, p, required, required, deadline)
    best_value = best.covered_weight(weights)
    rng = np.random.default_rng(0)
    everything = np.arange(pattern.shape[1])
    for attempt in range(restarts):
        free, closed = np.setdiff1d(best.sites, required), np.setdiff1d(everything, best.sites)
        if not len(free) or not len(closed) or (deadline is not None and time.perf_counter() >= deadline):
            break
        k = min(1 + attempt % 3, len(free), len(closed))
        start = np.union1d(np.setdiff1d(best.sites, rng.choice(free, k, replace=False)),
                           rng.choice(closed, k, replace=False))
        trial = _swap_search(pattern, columns, weights, p, required, start, deadline)
        value = trial.covered_weight(weights)
        if value > best_value + 1e-9 * max(best_value, 1.0):
            best, best_value = trial, value
    return best.sites


def _swap_search(pattern: sp.csr_array, columns: sp.csc_array, weights: np.ndarray, p: int, required: np.ndarray,
                 start: np.ndarray, deadline: float | None) -> Cover:
    """Greedy fill from ``start`` up to ``p`` sites, then best-improvement swaps until none improves.

    A swap (close ``k``, open ``c``) changes the covered weight by ``gain[c] - loss[k] + both[c, k]``: what
    ``c`` newly covers, minus what only ``k`` covers, plus what only ``k`` covers and ``c`` covers too. All
    of them come from three sparse products per iteration.
    """
    cover = Cover(pattern, columns, start)
    while cover.selected.sum() < p:
        gain = cover.gain(weights)
        gain[cover.selected] = -1.0
        cover.add(int(np.argmax(gain)))
    removable = np.ones(pattern.shape[1], dtype=bool)
    removable[required] = False
    tolerance = 1e-9 * max(float(weights.sum()), 1.0)
    while deadline is None or time.perf_counter() < deadline:
        sites = cover.sites
        rows, owner = cover.sole_cover(sites)
        loss = np.bincount(owner, weights=weights[rows], minlength=len(sites))
        only = np.zeros((pattern.shape[0], len(sites)))
        only[rows, owner] = weights[rows]
        delta = cover.transposed @ only + (cover.gain(weights)[:, None] - loss[None, :])
        delta[cover.selected, :] = -np.inf
        delta[:, ~removable[sites]] = -np.inf
        best = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[best] > tolerance:
            break
        cover.remove(int(sites[best[1]]))
        cover.add(int(best[0]))
    return cover


def lscp_search(pattern: sp.csr_array, required: np.ndarray, deadline: float | None = None,
                rounds: int = 40) -> np.ndarray:
    """Fewest sites covering every row (each must have a candidate): greedy cover, then look for a cover
    with one site fewer, repeatedly.

    Greedy set cover is often one or two sites above the optimum, and with optima of a handful of sites that
    is 10-30 %. So, while it succeeds, the search closes the least useful site and runs the MCLP swaps on
    row weights that grow on the rows left uncovered after each round (a weighting local search, as in
    Gao et al. 2015 for set cover): rows that stay uncovered pull the swaps towards them.
    """
    columns = pattern.tocsc()
    cover = Cover(pattern, columns, required)
    ones = np.ones(pattern.shape[0])
    while (cover.count == 0).any():
        gain = cover.gain(ones)
        gain[cover.selected] = -1.0
        cover.add(int(np.argmax(gain)))
    _drop_redundant(cover, required)
    while len(cover.sites) > max(len(required), 1) and (deadline is None or time.perf_counter() < deadline):
        free = np.setdiff1d(cover.sites, required)
        _, owner = cover.sole_cover(free)
        drop = free[int(np.argmin(np.bincount(owner, minlength=len(free))))]
        found = _cover_with(pattern, columns, np.setdiff1d(cover.sites, [drop]), required, rounds, deadline)
        if found is None:
            break
        cover = found
    return cover.sites


def _cover_with(pattern: sp.csr_array, columns: sp.csc_array, start: np.ndarray, required: np.ndarray, rounds: int,
                deadline: float | None) -> Cover | None:
    """A full cover with ``len(start)`` sites found by weighted swap rounds from ``start``, or ``None``."""
    weights = np.ones(pattern.shape[0])
    sites = start
    for _ in range(rounds):
        cover = _swap_search(pattern, columns, weights, len(start), required, sites, deadline)
        uncovered = cover.count == 0
        if not uncovered.any():
            _drop_redundant(cover, required)
            return cover
        if deadline is not None and time.perf_counter() >= deadline:
            break
        weights[uncovered] += 1.0
        sites = cover.sites
    return None


def _drop_redundant(cover: Cover, required: np.ndarray) -> None:
    """Close sites (not required) whose rows all have another site, least useful first, one at a time."""
    fixed = np.zeros(len(cover.selected), dtype=bool)
    fixed[required] = True
    while True:
        sites = np.flatnonzero(cover.selected & ~fixed)
        if not len(sites):
            break
        _, owner = cover.sole_cover(sites)
        redundant = sites[np.bincount(owner, minlength=len(sites)) == 0]
        if not len(redundant):
            break
        cover.remove(int(redundant[0]))
