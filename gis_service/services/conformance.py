"""Planning conformance of a layer's features, of proposed sites, or of a placement's proposed stations.

Reads the features and the planning zones around them in one read transaction, overlays them in EPSG:4544
(:func:`gis_service.services.ledger_registration.overlay_assets`: an asset's footprint where surveyed, else its
location) and judges each for its intended use (:func:`gis_service.analysis.conformance.check_conformance`).

Default uses: an asset is judged as it stands (its category's registration rule, so the answer agrees with the
registration pathway); a service point, school or facility by its kind (:data:`DEFAULT_USES`). The stations a
stored placement run proposed are judged for the use of the run's standard (:data:`STANDARD_USES`), at the
points the run stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from gis_service.analysis.conformance import VERDICTS, Verdict, check_conformance, current_use
from gis_service.analysis.conformance_uses import PermittedTable, load_permitted_uses, use_codes, use_label
from gis_service.crs import parse_crs, storage_crs, transform_geometries
from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.layers.codelists import CODELISTS, label
from gis_service.layers.registry import get_layer
from gis_service.repositories.layers import LayerRepository
from gis_service.repositories.ledger_registration import RegistrationRepository
from gis_service.services.ledger_registration import ZONE_MARGIN_DEG, overlay_assets
from gis_service.settings import Settings

LAYERS = ("assets", "service_points", "schools", "facilities")
# The field that says what a feature of each layer is, and the use that kind stands for.
DEFAULT_USES: dict[str, tuple[str, dict[str, str]]] = {
    "service_points": ("kind", {"centre": "party_centre", "agency_station": "agency_station"}),
    "schools": ("level", {"kindergarten": "kindergarten", "primary": "school", "junior": "school",
                          "nine_year": "school"}),
    "facilities": ("kind", {"health_centre": "health_centre", "village_clinic": "clinic",
                            "elderly_day_care": "elderly_day_care", "nursing_home": "nursing_home",
                            "culture_room": "culture_room"}),
}
# The use of a station proposed by a placement run, by the run's standard.
STANDARD_USES = {"agency_station": "agency_station", "centre": "party_centre", "kindergarten": "kindergarten",
                 "primary_school": "school", "elderly_day_care": "elderly_day_care", "village_clinic": "clinic"}
MAX_SITES = 5000


@dataclass(frozen=True)
class Judged:
    """Features (EPSG:4490, with ``code`` and ``name``) and their verdicts, in the same order."""

    features: gpd.GeoDataFrame
    verdicts: list[Verdict]
    source: dict[str, Any]

    def counts(self) -> dict[str, int]:
        found = pd.Series([v.verdict for v in self.verdicts], dtype=object).value_counts()
        return {verdict: int(found.get(verdict, 0)) for verdict in VERDICTS}


def table_from(settings: Settings) -> PermittedTable:
    """The permitted-use table the settings ask for (``GIS_PERMITTED_USES_FILE``)."""
    return load_permitted_uses(settings.permitted_uses_file)


def parse_use(text: str) -> str:
    """A use code from its code or either label (target uses and the current uses of features)."""
    spellings = {spelling.casefold(): code for code in use_codes()
                 for spelling in (code, use_label(code, "zh"), use_label(code, "en"))}
    found = spellings.get(text.strip().casefold())
    if found is None:
        raise InvalidInputError(f"unknown use '{text}'; use one of {', '.join(use_codes())}")
    return found


class ConformanceService:
    """Conformance checks on one database with one permitted-use table."""

    def __init__(self, engine: Engine, table: PermittedTable | None = None) -> None:
        self.engine = engine
        self.table = table

    def layer(self, layer: str = "assets", *, use: str | None = None, code: str | None = None) -> Judged:
        """Every feature of ``layer`` (or the one with ``code``) for ``use`` (default: by its kind)."""
        if layer not in LAYERS:
            raise InvalidInputError(f"unknown layer '{layer}' for conformance; use one of {', '.join(LAYERS)}")
        wanted = parse_use(use) if use else None
        with self.engine.connect() as conn:
            features = _read_features(conn, layer)
            if code is not None:
                features = features[features["code"] == code].reset_index(drop=True)
                if features.empty:
                    raise NotFoundError(f"no feature with code '{code}' in {layer}")
            zones = RegistrationRepository(conn).zones(_bbox(features))
        uses = [wanted] * len(features) if wanted else _default_uses(features, layer)
        return Judged(features, self._judge(features, zones, uses), {"layer": layer, "use": wanted})

    def sites(self, collection: Any, crs: str | None = None) -> Judged:
        """Proposed sites: a GeoJSON FeatureCollection (CRS84, or ``crs``), each feature with a ``use``."""
        features, uses = _sites(collection, crs)
        with self.engine.connect() as conn:
            zones = RegistrationRepository(conn).zones(_bbox(features))
        return Judged(features, self._judge(features, zones, uses), {"sites": len(features)})

    def placement(self, run_id: int) -> Judged:
        """The stations proposed by the stored placement run ``run_id``, for its standard's use."""
        from gis_service.services.runs import RunService

        run = RunService(self.engine).get(run_id)
        if run.kind != "placement" or run.status != "ok" or not run.features:
            raise InvalidInputError(f"run {run_id} is not a finished placement with proposed stations")
        use = STANDARD_USES.get(str(run.parameters.get("standard")))
        if use is None:
            raise InvalidInputError(f"run {run_id}: no use is known for standard '{run.parameters.get('standard')}'")
        collection = {"type": "FeatureCollection", "features": [
            {**f, "properties": {**f["properties"], "use": use}} for f in run.features]}
        judged = self.sites(collection)
        return Judged(judged.features, judged.verdicts, {"placement": run_id, "use": use})

    def _judge(self, features: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, uses: Sequence[str]) -> list[Verdict]:
        if features.empty:
            return []
        overlay = overlay_assets(features, zones)
        return check_conformance(overlay, list(uses), self.table)


def _read_features(conn: Any, layer: str) -> gpd.GeoDataFrame:
    if layer == "assets":
        return RegistrationRepository(conn).assets()
    frame = LayerRepository(conn, get_layer(layer)).read_frame()
    return frame.sort_values("code").reset_index(drop=True)


def _default_uses(features: gpd.GeoDataFrame, layer: str) -> list[str]:
    if layer == "assets":
        return [current_use(c if isinstance(c, str) else None) for c in features["category"]]
    column, uses = DEFAULT_USES[layer]
    return [uses.get(str(kind), "agency_station" if layer == "service_points" else "clinic")
            for kind in features[column]]


def _bbox(features: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    geoms = features.geometry.to_numpy(dtype=object)
    if "footprint" in features:
        geoms = np.concatenate([geoms, features["footprint"].to_numpy(dtype=object)])
    geoms = geoms[~shapely.is_missing(geoms)]
    if len(geoms) == 0:
        return None
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    m = ZONE_MARGIN_DEG
    return (float(xmin) - m, float(ymin) - m, float(xmax) + m, float(ymax) + m)


def _sites(collection: Any, crs: str | None) -> tuple[gpd.GeoDataFrame, list[str]]:
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection" \
            or not isinstance(collection.get("features"), list):
        raise InvalidInputError("the body must be a GeoJSON FeatureCollection")
    items = collection["features"]
    if not 1 <= len(items) <= MAX_SITES:
        raise InvalidInputError(f"send between 1 and {MAX_SITES} proposed sites, not {len(items)}")
    named = collection.get("crs", {}).get("properties", {}).get("name") if isinstance(collection.get("crs"), dict) \
        else None
    source = parse_crs(crs or named or "OGC:CRS84")
    geoms, uses, codes, names = [], [], [], []
    for i, item in enumerate(items):
        where = f"features[{i}]"
        properties = item.get("properties") if isinstance(item, dict) else None
        if not isinstance(properties, dict) or not isinstance(properties.get("use"), str):
            raise InvalidInputError(f"{where}.properties.use: every proposed site needs a use")
        try:
            geom = shapely.geometry.shape(item.get("geometry"))
        except Exception:  # shapely raises several kinds for malformed GeoJSON
            raise InvalidInputError(f"{where}.geometry: not a GeoJSON geometry") from None
        if geom.geom_type not in ("Point", "Polygon", "MultiPolygon") or geom.is_empty or not geom.is_valid:
            raise InvalidInputError(f"{where}.geometry: needs a valid point or polygon, not {geom.geom_type}")
        try:
            uses.append(parse_use(properties["use"]))
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}.properties.use: {exc.detail}") from None
        geoms.append(geom)
        codes.append(str(properties.get("code") or f"site-{i + 1}"))
        names.append(properties.get("name") if isinstance(properties.get("name"), str) else None)
    stored = transform_geometries(np.asarray(geoms, dtype=object), source, storage_crs())
    points = np.array([g if g.geom_type == "Point" else g.representative_point() for g in stored], dtype=object)
    footprints = np.array([None if g.geom_type == "Point" else g for g in stored], dtype=object)
    frame = gpd.GeoDataFrame({"code": codes, "name": names}, geometry=gpd.GeoSeries(points, crs=storage_crs()))
    frame["footprint"] = footprints
    return frame, uses


# ---------------------------------------------------------------------- JSON (API and CLI)


def verdict_json(verdict: Verdict, feature: Any, language: str = "zh") -> dict[str, Any]:
    """One feature's verdict as JSON: codes plus labels and reasons in ``language``."""
    use = verdict.use
    current = use.startswith("current:")
    return {
        "code": feature["code"], "name": feature.get("name"),
        "use": None if current else use,
        "use_label": ("现状用途" if language == "zh" else "current use") if current else use_label(use, language),
        "verdict": verdict.verdict, "verdict_label": label("conformance_verdict", verdict.verdict, language),
        "fitting_share": round(verdict.fitting_share, 4),
        "on_permanent_farmland": verdict.on_permanent_farmland,
        "on_ecological_redline": verdict.on_ecological_redline,
        "in_development_boundary": None if verdict.in_development_boundary is None
        else round(verdict.in_development_boundary, 4),
        "reasons": [r.text(language) for r in verdict.reasons],
        "zones": [{"code": z.code, "zone_type": z.zone_type,
                   "zone_type_label": label("zone_type", z.zone_type, language), "land_use_code": z.land_use_code,
                   "land_use_name": z.land_use_name, "area_m2": z.area_m2,
                   "share": z.share} for z in verdict.zones],
    }


def judged_json(judged: Judged, language: str = "zh") -> dict[str, Any]:
    """Every verdict with the counts per verdict and the verdicts' labels."""
    rows = judged.features.to_dict("records")
    return {
        **judged.source,
        "verdicts": {code: label("conformance_verdict", code, language) for code in CODELISTS["conformance_verdict"]},
        "counts": judged.counts(),
        "number": len(judged.verdicts),
        "features": [verdict_json(v, rows[v.feature], language) for v in judged.verdicts],
    }


def judged_features(judged: Judged, language: str = "zh") -> list[dict[str, Any]]:
    """GeoJSON features (CRS84 points: the location, or a point inside a proposed polygon) with the verdicts."""
    rows = judged.features.to_dict("records")
    points = judged.features.geometry.to_numpy(dtype=object)
    return [{"type": "Feature", "geometry": shapely.geometry.mapping(points[v.feature]),
             "properties": {k: val for k, val in verdict_json(v, rows[v.feature], language).items() if k != "zones"}}
            for v in judged.verdicts]
