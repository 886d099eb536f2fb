"""The town-level assignment: at most one use per idle asset, greedily by marginal gain.

Scores per (asset, use) rank each asset on its own; the town needs one plan in which two neighbouring assets are
not both made day-care centres for the same old people. :func:`assign_town` repeats: take the (asset, use) with
the highest current score, give the asset that use, and — for a use that serves people — mark the settlements
within the asset's reach as served for that use. The demand factors (``demand``, ``coverage_gain``) of every
other asset for that use are then recomputed from the people not yet served, which lowers their scores (the
marginal gain). A use that serves people is only given where it covers someone not covered before (by an
existing facility or an earlier assignment); uses that serve no local demand (workshop, warehouse…) can go to
any number of assets. Assets whose every remaining score is 0 (forbidden by the plan) stay unassigned.

Greedy, not optimal: like the greedy MCLP it is quick and explainable (every step is the best single move);
``TownAssignment.steps`` keeps the order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gis_service.analysis.network import BoolArray, FloatArray
from gis_service.analysis.siting_factors import Reach
from gis_service.analysis.siting_result import SitingResult
from gis_service.analysis.siting_uses import saturate


@dataclass(frozen=True)
class Assignment:
    """One asset's use in the town plan.

    Attributes
    ----------
    asset_code, use
        The asset and the use it is given.
    step
        When it was chosen (1 = first, the best move).
    score
        Its marginal score when chosen (its own score with the demand already served by earlier steps removed).
    ranked_score
        Its score in the per-asset ranking (before any assignment).
    served
        Settlement codes it is credited with (within reach, not served by an earlier assignment of the use).
    served_demand, new_coverage
        Their demand, and the part not covered by any existing facility before.
    """

    asset_code: str
    use: str
    step: int
    score: float
    ranked_score: float
    served: tuple[str, ...] = ()
    served_demand: float = 0.0
    new_coverage: float = 0.0


@dataclass(frozen=True)
class TownAssignment:
    """The town plan: the assigned assets in step order, and those left without a use."""

    steps: tuple[Assignment, ...]
    unassigned: tuple[str, ...]

    def use_of(self, asset_code: str) -> str | None:
        """The use given to an asset (None when unassigned)."""
        return next((a.use for a in self.steps if a.asset_code == asset_code), None)


def assign_town(result: SitingResult, *, min_score: float = 0.0) -> TownAssignment:
    """Give each asset of ``result`` at most one use, greedily by marginal gain (see the module's notes).

    Parameters
    ----------
    result
        A solved siting.
    min_score
        Only (asset, use) pairs scoring above this are assigned (default: anything the plan does not forbid).

    Returns
    -------
    TownAssignment
    """
    state = _State.start(result)
    steps: list[Assignment] = []
    codes = result.assets["code"].tolist()
    while True:
        current = np.where(state.open[:, None] & state.eligible(), state.scores, -np.inf)
        if not current.size or not np.isfinite(current).any():
            break
        i, j = np.unravel_index(int(np.argmax(current)), current.shape)
        if current[i, j] <= min_score:
            break
        served, demand, new = state.take(int(i), int(j))
        steps.append(Assignment(codes[i], result.uses[j].code, len(steps) + 1, round(float(current[i, j]), 6),
                                round(float(result.scores[i, j]), 6), served, demand, new))
    return TownAssignment(tuple(steps), tuple(c for c, is_open in zip(codes, state.open, strict=True) if is_open))


@dataclass(eq=False)
class _State:
    """What the greedy steps change: open assets, people served per use, current scores."""

    result: SitingResult
    scores: FloatArray
    open: BoolArray
    taken: dict[int, BoolArray]  # use column → settlements served by an assignment of that use

    @classmethod
    def start(cls, result: SitingResult) -> _State:
        taken = {j: np.zeros(len(result.measurements.settlement_codes), dtype=bool)
                 for j, use in enumerate(result.uses) if use.code in result.measurements.reach}
        scores = np.where(np.isnan(result.scores), -np.inf, result.scores)
        return cls(result, scores, np.ones(len(result.assets), dtype=bool), taken)

    def eligible(self) -> npt.NDArray[np.bool_]:
        """Pairs that may be chosen: a use serving people only where it adds coverage."""
        ok = np.ones_like(self.scores, dtype=bool)
        for j in self.taken:
            ok[:, j] = self._gain(j) > 0
        return ok

    def take(self, i: int, j: int) -> tuple[tuple[str, ...], float, float]:
        """Assign column ``j`` to asset ``i``; return whom it serves, their demand and the new coverage."""
        self.open[i] = False
        if j not in self.taken:
            return (), 0.0, 0.0
        reach = self._reach(j)
        mine = reach.within[i] & ~self.taken[j]
        new = mine & ~reach.covered
        self.taken[j] |= mine
        self._rescore(j)
        codes = self.result.measurements.settlement_codes[mine]
        return tuple(str(c) for c in codes), float(reach.demand[mine].sum()), float(reach.demand[new].sum())

    def _reach(self, j: int) -> Reach:
        return self.result.measurements.reach[self.result.uses[j].code]

    def _gain(self, j: int) -> FloatArray:
        reach = self._reach(j)
        return reach.within.astype(float) @ np.where(reach.covered | self.taken[j], 0.0, reach.demand)

    def _rescore(self, j: int) -> None:
        """Replace the demand factors of column ``j`` by those of the people not yet served."""
        reach, use, res = self._reach(j), self.result.uses[j], self.result
        people = reach.within.astype(float) @ np.where(self.taken[j], 0.0, reach.demand)
        gain = self._gain(j)
        column = np.nan_to_num(res.scores[:, j], nan=-np.inf)
        for name, amount in (("demand", people), ("coverage_gain", gain)):
            old = np.nan_to_num(res.contributions[name][:, j])
            new = res.shares[name][:, j] * saturate(amount, use.demand_half)
            column = column - old + new
        allowed = np.array([v.permitted is not False for v in res.permitted[:, j]], dtype=bool) & ~res.unsafe[:, j]
        self.scores[:, j] = np.where(np.isfinite(column), np.where(allowed, column, 0.0), -np.inf)

