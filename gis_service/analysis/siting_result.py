"""The types of a siting: planning verdicts, parameters and the result (scores, ranks, factor contributions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from gis_service.analysis.network import FloatArray
from gis_service.analysis.siting_factors import Measurements
from gis_service.analysis.siting_uses import FACTORS, SitingWeights, UseProfile


@dataclass(frozen=True)
class PlanningVerdict:
    """Whether the plan permits a use at an asset (None: no planning data there), and why; ``conditional``: it
    permits it only under a condition (the reason quotes it)."""

    permitted: bool | None
    reason_zh: str = ""
    reason_en: str = ""
    conditional: bool = False


# asset code → use code → verdict (a bare bool or None will do); missing entries are unknown.
PermittedTable = Mapping[str, Mapping[str, "PlanningVerdict | bool | None"]]


@dataclass(frozen=True)
class SitingParameters:
    """Weights and the distances that scale the factors (see the module's notes)."""

    weights: SitingWeights = field(default_factory=SitingWeights)
    access_full_m: float = 50.0  # a building on the road, or a short lane to it
    access_zero_m: float = 500.0  # farther than this from any road: no access for a public use
    centre_zero_m: float = 5000.0  # about the town's radius
    scenic_zero_m: float = 1500.0  # a walk from the homestay or study base
    industrial_zero_m: float = 3000.0


@dataclass(frozen=True, eq=False)
class SitingResult:
    """Scores of every (asset, use), best first per asset.

    Attributes
    ----------
    assets
        The assets scored (code, name, village_code, category, subject), in input order.
    uses
        The use profiles, in column order.
    scores
        (assets, uses) score in 0–1; ``nan`` where the asset cannot take the use.
    rank
        (assets, uses) 1 = the asset's best use; 0 where not scored.
    values, contributions
        Factor → (assets, uses) normalised value (``nan`` where not considered) and its share of the score.
    shares
        Factor → (assets, uses) the factor's weight over the total weight of the (asset, use): a value of 1
        would add this much to the score (``contribution = share · value``).
    raw
        Factor → (assets, uses) the measured quantity behind the value (people, metres, minutes, m²).
    permitted
        (assets, uses) planning verdicts.
    unsafe
        (assets, uses) True where an unsafe building cannot take a use that hosts people (score 0).
    measurements
        What was measured (for the assignment: who is within reach of what).
    parameters
        Weights and scales used.
    """

    assets: pd.DataFrame
    uses: tuple[UseProfile, ...]
    scores: FloatArray
    rank: npt.NDArray[np.int64]
    values: Mapping[str, FloatArray]
    contributions: Mapping[str, FloatArray]
    shares: Mapping[str, FloatArray]
    raw: Mapping[str, FloatArray]
    permitted: npt.NDArray[np.object_]
    unsafe: npt.NDArray[np.bool_]
    measurements: Measurements
    parameters: SitingParameters

    @property
    def use_codes(self) -> list[str]:
        return [u.code for u in self.uses]

    def position(self, asset_code: str, use: str) -> tuple[int, int]:
        codes = self.assets["code"].tolist()
        if asset_code not in codes or use not in self.use_codes:
            raise KeyError((asset_code, use))
        return codes.index(asset_code), self.use_codes.index(use)

    def score(self, asset_code: str, use: str) -> float:
        """The score of one (asset, use)."""
        i, j = self.position(asset_code, use)
        return float(self.scores[i, j])

    def ranking(self, i: int) -> list[int]:
        """Use columns scored for asset ``i``, best first."""
        scored = np.flatnonzero(self.rank[i] > 0)
        return scored[np.argsort(self.rank[i, scored], kind="stable")].tolist()

    def top(self) -> pd.DataFrame:
        """Each asset's best use and its score (``None`` when no use was scored)."""
        best = [self.ranking(i)[:1] for i in range(len(self.assets))]
        return self.assets.assign(
            use=[self.uses[b[0]].code if b else None for b in best],
            score=[float(self.scores[i, b[0]]) if b else np.nan for i, b in enumerate(best)])

    def table(self) -> pd.DataFrame:
        """One row per scored (asset, use): score, rank, verdict and every factor's value and contribution."""
        i, j = np.nonzero(self.rank > 0)
        frame = pd.DataFrame({"asset_code": self.assets["code"].to_numpy()[i],
                              "use": np.array(self.use_codes, dtype=object)[j], "score": self.scores[i, j],
                              "rank": self.rank[i, j], "permitted": self.permitted[i, j]})
        for name in FACTORS:
            frame[name] = self.values[name][i, j]
            frame[f"{name}_contribution"] = self.contributions[name][i, j]
        return frame.sort_values(["asset_code", "rank"], kind="stable").reset_index(drop=True)



def as_verdict(value: PlanningVerdict | bool | None) -> PlanningVerdict:
    """A verdict from a bare bool or None (unknown)."""
    return value if isinstance(value, PlanningVerdict) else PlanningVerdict(value)
