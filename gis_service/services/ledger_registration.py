"""Registration pathways (确权登记, notice plan 2 §六): every asset sorted into one of the four pathways,
with the reason, from its certificate, its title documents and its overlay with the planning zones."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Engine

from gis_service.analysis.planning_conformance import Conformance, conformance
from gis_service.analysis.planning_overlay import PlanningOverlay, overlay_zones
from gis_service.crs import analysis_crs, storage_crs, transform_geometries
from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.layers.codelists import CODELISTS, code_lookup, label
from gis_service.ledger.rules import Pathway, registration_pathway
from gis_service.repositories.ledger_registration import RegistrationRepository

PATHWAYS = tuple(CODELISTS["registration_pathway"])
# Pathways whose choice depends on the planning overlay: their reason says what the overlay found.
DEPENDS_ON_PLANNING = frozenset({"joint_approval", "plan_first"})
# Around one asset, zones are read within this margin (degrees, about 100 m) of its extent.
ZONE_MARGIN_DEG = 0.001
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class ZoneTouch:
    """A planning zone an asset meets: overlap area in m² (0 for a location point) and share of the asset."""

    code: str
    zone_type: str
    land_use_code: str | None
    land_use_name: str | None
    area_m2: float
    share: float


@dataclass(frozen=True)
class AssetRegistration:
    """One asset's registration pathway and why."""

    code: str
    name: str
    village_code: str | None
    ownership: str | None
    category: str | None
    certificate_no: str | None
    documents_status: str | None
    conformance: Conformance
    pathway: Pathway
    zones: list[ZoneTouch]
    geometry: Any  # shapely point, EPSG:4490

    def reason(self, language: str = "zh") -> str:
        """The pathway's reason; for the pathways that depend on planning, with what the overlay found."""
        base = self.pathway.reason_zh if language == "zh" else self.pathway.reason_en
        if self.pathway.pathway not in DEPENDS_ON_PLANNING:
            return base
        found = self.conformance.reason_zh if language == "zh" else self.conformance.reason_en
        return f"{base}({found})" if language == "zh" else f"{base} ({found})"


@dataclass(frozen=True)
class RegistrationReport:
    """Assets with their pathways, and the count of each pathway per village (``""``: no village code)."""

    assets: list[AssetRegistration]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def totals(self) -> dict[str, int]:
        return {p: sum(c[p] for c in self.counts.values()) for p in PATHWAYS}


class LedgerRegistrationService:
    """Registration pathways for the assets of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def report(self, *, village: str | None = None, pathway: str | None = None) -> RegistrationReport:
        """Every asset (of ``village``) with its pathway; ``pathway`` (code or label) keeps one pathway, and
        the counts are always over all pathways."""
        wanted = parse_pathway(pathway) if pathway else None
        with self.engine.connect() as conn:
            repo = RegistrationRepository(conn)
            assets = repo.assets(village=village)
            zones = repo.zones(_bbox(assets))
        assessed = assess(assets, zones)
        counts: dict[str, Counter[str]] = {}
        for item in assessed:
            counts.setdefault(item.village_code or "", Counter())[item.pathway.pathway] += 1
        table = {v: {p: c[p] for p in PATHWAYS} for v, c in sorted(counts.items())}
        shown = [a for a in assessed if wanted is None or a.pathway.pathway == wanted]
        return RegistrationReport(shown, table)

    def one(self, code: str) -> AssetRegistration:
        """One asset's pathway; 404 if no asset has ``code``."""
        if _CONTROL.search(code):  # no code holds them, and PostgreSQL refuses NUL in a query
            raise NotFoundError(f"no asset with code {code!r}")
        with self.engine.connect() as conn:
            repo = RegistrationRepository(conn)
            assets = repo.assets(code=code)
            if assets.empty:
                raise NotFoundError(f"no asset with code '{code}'")
            zones = repo.zones(_bbox(assets))
        return assess(assets, zones)[0]


def parse_pathway(text: str) -> str:
    """A pathway code from its code or either label."""
    found = code_lookup("registration_pathway").get(text.strip().casefold())
    if found is None:
        raise InvalidInputError(f"unknown registration pathway '{text}'; use one of {', '.join(PATHWAYS)}")
    return found


def assess(assets: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> list[AssetRegistration]:
    """Pathways of ``assets`` (columns of :class:`RegistrationRepository`, EPSG:4490) against ``zones``.

    An asset is overlaid by its footprint where surveyed, else by its location point.
    """
    overlay = overlay_assets(assets, zones)
    verdicts = conformance(overlay, [_text(c) for c in assets["category"]])
    touches = _touches(overlay)
    result = []
    for i, row in enumerate(assets.itertuples(index=False)):
        verdict = verdicts[i]
        certificate, documents = _text(row.certificate_no), _text(row.documents_status)
        result.append(AssetRegistration(
            code=row.code, name=row.name, village_code=_text(row.village_code), ownership=_text(row.ownership),
            category=_text(row.category), certificate_no=certificate, documents_status=documents,
            conformance=verdict, pathway=registration_pathway(certificate, documents, verdict.conforming),
            zones=touches.get(i, []), geometry=row.geometry))
    return result


def overlay_assets(assets: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> PlanningOverlay:
    """The overlay of each asset's footprint (or location where it has none) with ``zones``, in EPSG:4544."""
    footprints = assets["footprint"].to_numpy(dtype=object) if "footprint" in assets else \
        np.full(len(assets), None, dtype=object)
    points = assets.geometry.to_numpy(dtype=object)
    shapes = np.where(shapely.is_missing(footprints), points, footprints)
    projected = transform_geometries(shapes, storage_crs(), analysis_crs())
    zone_geoms = transform_geometries(zones.geometry.to_numpy(dtype=object), storage_crs(), analysis_crs())
    zones_m = gpd.GeoDataFrame(zones.drop(columns=zones.geometry.name),
                               geometry=gpd.GeoSeries(zone_geoms, crs=analysis_crs()))
    return overlay_zones(gpd.GeoSeries(projected, crs=analysis_crs()), zones_m)


def _touches(overlay: PlanningOverlay) -> dict[int, list[ZoneTouch]]:
    zones = overlay.zones
    columns = {name: [_text(v) for v in zones[name]] if name in zones else [None] * len(zones)
               for name in ("code", "zone_type", "land_use_code", "land_use_name")}
    touches: dict[int, list[ZoneTouch]] = {}
    pairs = overlay.pairs
    for feature, zone, area, share in zip(pairs["feature"].tolist(), pairs["zone"].tolist(),
                                          pairs["area_m2"].tolist(), pairs["share"].tolist(), strict=True):
        touches.setdefault(feature, []).append(ZoneTouch(
            columns["code"][zone] or "", columns["zone_type"][zone] or "", columns["land_use_code"][zone],
            columns["land_use_name"][zone], round(area, 2), round(share, 4)))
    return touches


def _bbox(assets: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """The extent of the assets' locations and footprints, with a margin; ``None`` (all zones) when empty."""
    geoms = np.concatenate([assets.geometry.to_numpy(dtype=object),
                            assets["footprint"].to_numpy(dtype=object)])
    geoms = geoms[~shapely.is_missing(geoms)]
    if len(geoms) == 0:
        return None
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    m = ZONE_MARGIN_DEG
    return (float(xmin) - m, float(ymin) - m, float(xmax) + m, float(ymax) + m)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------- JSON (API and CLI)


def asset_json(item: AssetRegistration, language: str = "zh") -> dict[str, Any]:
    """One asset's pathway as JSON: codes plus labels and reasons in ``language``."""
    verdict = item.conformance
    return {
        "code": item.code, "name": item.name, "village_code": item.village_code, "ownership": item.ownership,
        "category": item.category, "certificate_no": item.certificate_no, "documents_status": item.documents_status,
        "pathway": item.pathway.pathway, "pathway_label": label("registration_pathway", item.pathway.pathway, language),
        "reason": item.reason(language),
        "conforming": verdict.conforming, "fitting_share": round(verdict.fitting_share, 4),
        "conformance_reason": verdict.reason_zh if language == "zh" else verdict.reason_en,
        "zones": [{**dataclasses.asdict(z), "zone_type_label": label("zone_type", z.zone_type, language)}
                  for z in item.zones],
    }


def report_json(report: RegistrationReport, language: str = "zh") -> dict[str, Any]:
    """The report as JSON: assets, counts per village and totals (pathway codes as keys), pathway labels."""
    return {
        "pathways": {code: label("registration_pathway", code, language) for code in PATHWAYS},
        "counts": [{"village_code": village or None, **counts} for village, counts in report.counts.items()],
        "totals": report.totals,
        "number": len(report.assets),
        "assets": [asset_json(item, language) for item in report.assets],
    }
