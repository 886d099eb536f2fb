"""The inventory check (账实相符) and the spatial reconciliation of the transfer, on the stored ledger.

Each report reads what it needs in one transaction (one consistent state) as plain frames, projects the
geometries to EPSG:4544 and hands them to the pure code in :mod:`gis_service.ledger`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from sqlalchemy import Engine

from gis_service.crs import analysis_crs, storage_crs, transform_geometries
from gis_service.errors import InvalidInputError
from gis_service.ledger.checks import DEFAULT_WITHIN_M, MAX_WITHIN_M, InventoryCheck, inventory_check
from gis_service.ledger.reconciliation import Reconciliation, reconcile
from gis_service.repositories.ledger_books import LedgerBooksRepository


@dataclass(frozen=True)
class CheckResult:
    """The inventory check and the flagged assets (code, name, village_code, problems; points in EPSG:4490)."""

    check: InventoryCheck
    flagged: gpd.GeoDataFrame


class LedgerCheckService:
    """Does the ledger match the map, and do the books of the transfer balance?"""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def inventory_check(self, within_m: float = DEFAULT_WITHIN_M) -> CheckResult:
        """Assets without location, duplicate codes and names (same name within ``within_m`` metres), and
        assets outside the merged or former village they state."""
        if not 0 <= within_m <= MAX_WITHIN_M:
            raise InvalidInputError(f"within_m: must be between 0 and {MAX_WITHIN_M:g} metres (got {within_m:g})")
        with self.engine.connect() as conn, conn.begin():
            repo = LedgerBooksRepository(conn)
            assets, villages, former = repo.assets(), repo.villages(), repo.former_villages()
        check = inventory_check(to_metres(assets), to_metres(villages), to_metres(former), within_m=within_m)
        problems = check.flagged()
        flagged = assets.loc[assets["code"].isin(list(problems)), ["code", "name", "village_code", "geometry"]].copy()
        flagged["problems"] = flagged["code"].map(problems)
        return CheckResult(check, gpd.GeoDataFrame(flagged, geometry="geometry", crs=assets.crs))

    def reconciliation(self) -> Reconciliation:
        """Every asset against the former and merged village boundaries, and the books before and after."""
        with self.engine.connect() as conn, conn.begin():
            repo = LedgerBooksRepository(conn)
            assets, villages, former = repo.assets(), repo.villages(), repo.former_villages()
            transfers, claims = repo.transfers(), repo.claims()
        return reconcile(to_metres(assets), to_metres(villages), to_metres(former), transfers, claims)


def to_metres(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` (EPSG:4490) projected to EPSG:4544 on the shared PROJ thread (see :mod:`gis_service.crs`)."""
    geometries = transform_geometries(np.asarray(frame.geometry.to_numpy(dtype=object)), storage_crs(), analysis_crs())
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=gpd.GeoSeries(geometries, index=frame.index,
                                                                                   crs=analysis_crs()))


def reconciliation_json(report: Reconciliation, with_assets: bool = True) -> dict[str, Any]:
    """The reconciliation report as JSON-ready data (also used by the CLI's ``--json``)."""
    places = report.assets.astype(object).where(report.assets.notna(), None)
    return {
        "balanced": report.balanced, "townBefore": report.town_before, "townAfter": report.town_after,
        "imbalances": [{**asdict(i), "difference": i.difference} for i in report.imbalances],
        "causes": report.causes, "stillOwnedByFormerVillage": report.still_owned, "misassigned": report.misassigned,
        "pendingTransfers": report.pending_transfers, "formerVillages": report.former_villages,
        "villages": report.villages, **({"assets": places.to_dict("records")} if with_assets else {}),
    }
