"""Errors of the placement models: domain errors (a status and a safe message), and ``ValueError`` too."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gis_service.errors import GisServiceError, InvalidInputError

SHOWN = 10  # demand points named in a message; the error keeps all of them


class PlacementInputError(InvalidInputError, ValueError):
    """A placement request that cannot be computed as given (shapes, CRS, ``p``, radius, weights)."""

    title = "Invalid placement request"


class InfeasiblePlacementError(PlacementInputError):
    """No selection satisfies the request, e.g. some demand has no candidate within the radius.

    ``demand`` holds the positions (row numbers) of the demand points at fault, when known.
    """

    title = "Infeasible placement"

    def __init__(self, detail: str, demand: np.ndarray | None = None) -> None:
        super().__init__(detail)
        self.demand = np.asarray([], dtype=np.int64) if demand is None else np.asarray(demand, dtype=np.int64)


class PlacementSolverError(GisServiceError):
    """The MILP solver stopped without a usable solution (time limit before any feasible point, or a failure)."""

    title = "Placement solver failed"


def name_demand(positions: np.ndarray, labels: Sequence[object] | None) -> str:
    """``"3 demand points (0, 5, 9)"``, with the first few labels (the frame's index) or positions."""
    count = len(positions)
    shown = [str(labels[i]) if labels is not None else str(i) for i in positions[:SHOWN]]
    more = f", ... {count - SHOWN} more" if count > SHOWN else ""
    noun = "demand point" if count == 1 else "demand points"
    return f"{count} {noun} ({', '.join(shown)}{more})"
