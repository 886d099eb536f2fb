"""Placement (location-allocation) for "1+N" service points, shaped like spopt's ``locate`` models.

Models: ``LSCP`` (fewest sites covering all demand within a radius), ``MCLP`` (most demand weight covered by
``p`` sites), ``PMedian`` (least total weighted cost), ``PCenter`` (least largest cost) and
``CapacitatedCoverage`` (demand assigned whole to sites within the radius and their capacities). Each has
``from_cost_matrix(cost, ...)`` (a demand × candidate array in metres), ``from_geodataframe(demand,
candidates, ...)`` (points in one projected CRS in metres, e.g. EPSG:4544) and ``solve(method, time_limit)``
returning a ``PlacementResult``.

Conventions, the same in every model:

- ``p`` is the total number of sites in the solution, required ones included (spopt's meaning);
- ``required`` are candidate indices (or a boolean mask, or in ``from_geodataframe`` a boolean column)
  that are always selected: existing facilities kept. With :func:`candidate_sites` the candidates are the
  existing facilities plus idle assets (or all assets, or any point layer), so that revitalising an asset
  and placing a station are one decision;
- weights are demand (population); a point of weight 0 is ignored;
- ``method="exact"`` solves a MILP with HiGHS (``scipy.optimize``) built from sparse matrices,
  ``"heuristic"`` runs greedy plus local search, and ``"auto"`` (default) solves exactly up to the model's
  ``exact_limit`` (``COVER_EXACT_LIMIT``, ``PMEDIAN_EXACT_LIMIT``, ``PCENTER_EXACT_LIMIT``,
  ``CAPACITATED_EXACT_LIMIT``) and uses the heuristic beyond;
- a request without a solution raises ``InfeasiblePlacementError`` (a ``ValueError`` and an HTTP 400 domain
  error) naming the demand points at fault.
"""

from gis_service.analysis.placement.base import PlacementModel
from gis_service.analysis.placement.capacitated import CAPACITATED_EXACT_LIMIT, CapacitatedCoverage
from gis_service.analysis.placement.coverage import COVER_EXACT_LIMIT, LSCP, MCLP
from gis_service.analysis.placement.distance import PCENTER_EXACT_LIMIT, PMEDIAN_EXACT_LIMIT, PCenter, PMedian
from gis_service.analysis.placement.errors import InfeasiblePlacementError, PlacementInputError, PlacementSolverError
from gis_service.analysis.placement.geo import CandidateSites, Metric, candidate_sites
from gis_service.analysis.placement.result import Method, PlacementResult, Status

__all__ = [
    "CAPACITATED_EXACT_LIMIT",
    "COVER_EXACT_LIMIT",
    "LSCP",
    "MCLP",
    "PCENTER_EXACT_LIMIT",
    "PMEDIAN_EXACT_LIMIT",
    "CandidateSites",
    "CapacitatedCoverage",
    "InfeasiblePlacementError",
    "Method",
    "Metric",
    "PCenter",
    "PMedian",
    "PlacementInputError",
    "PlacementModel",
    "PlacementResult",
    "PlacementSolverError",
    "Status",
    "candidate_sites",
]
