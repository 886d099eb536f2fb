"""Analysis results as JSON: the summaries the API and CLI show and the GeoJSON features (CRS84) for maps.

They are what an analysis run stores as its outputs, so a stored run is shown exactly as it was first answered.
Everything returned is plain JSON (``nan`` and ``inf`` become ``null``; numpy values become Python ones).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from gis_service.analysis.one_plus_n import OnePlusN
from gis_service.analysis.standards import FacilityStandard
from gis_service.crs import CRS84_URI, output_geometries, parse_crs
from gis_service.services.coverage import CoverageResult
from gis_service.services.placement import PlacementOutcome


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types, the way the API writes it (orjson: ``nan`` → ``null``)."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
                                     default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def finite(value: float) -> float | None:
    """A distance or time rounded to 0.1, ``None`` when unreachable."""
    return None if value is None or not math.isfinite(value) else round(float(value), 1)


def standard_json(standard: FacilityStandard) -> dict[str, Any]:
    return {"key": standard.key, "label": standard.label, "layer": standard.layer, "kinds": list(standard.kinds),
            "demand": standard.demand, "metres": standard.metres, "minutes": standard.minutes,
            "source": standard.source}


def coverage_json(result: CoverageResult) -> dict[str, Any]:
    """Per-village and town coverage, and the uncovered settlements (farthest first)."""
    report = result.report
    uncovered = report.settlements.uncovered()
    names = result.settlements["name"]
    return json_safe({
        "standard": standard_json(report.standard), "method": report.method, "facilities": report.facilities,
        "town": dataclasses.asdict(report.town),
        "villages": [dataclasses.asdict(v) for v in report.villages],
        "uncovered": [{"code": row.code, "name": names[index], "village_code": row.village_code,
                       "demand": row.demand, "nearest": row.nearest_code, "distance_m": finite(row.distance_m),
                       "minutes": finite(row.minutes)} for index, row in uncovered.iterrows()],
    })


def settlement_features(result: CoverageResult) -> list[dict[str, Any]]:
    """Every settlement with its coverage, as GeoJSON features in CRS84."""
    frame = result.report.settlements.to_frame()
    places = lon_lat(result.settlements)
    features = []
    for (_, row), name, (lon, lat) in zip(frame.iterrows(), result.settlements["name"], places, strict=True):
        features.append(point_feature(lon, lat, {
            "code": row.code, "name": name, "village_code": row.village_code, "demand": row.demand,
            "covered": bool(row.covered), "nearest": row.nearest_code, "distance_m": finite(row.distance_m),
            "minutes": finite(row.minutes), "via_network": bool(row.via_network)}))
    safe: list[dict[str, Any]] = json_safe(features)
    return safe


def one_plus_n_json(diagnoses: Sequence[OnePlusN], method: str) -> dict[str, Any]:
    return json_safe({"method": method, "villages": [dataclasses.asdict(d) for d in diagnoses]})


def placement_json(outcome: PlacementOutcome) -> dict[str, Any]:
    """The chosen sites and the demand covered before and after (solver seconds are the run's, not here)."""
    chosen = [{**_site_properties(row), "lon": lon, "lat": lat}
              for (_, row), (lon, lat) in zip(outcome.sites.iterrows(), lon_lat(outcome.sites), strict=True)]
    result = outcome.result
    return json_safe({
        "standard": outcome.standard, "model": outcome.model, "method": outcome.method, "new_sites": chosen,
        "demand": outcome.demand, "covered_before": outcome.covered_before, "covered_after": outcome.covered_after,
        "share_before": outcome.share_before, "share_after": outcome.share_after,
        "objective": result.objective, "left_out": list(outcome.left_out),
        "solver": {"model": result.model, "status": result.status, "method": result.method},
    })


def placement_features(outcome: PlacementOutcome) -> list[dict[str, Any]]:
    """The chosen new sites as GeoJSON features in CRS84."""
    features = [point_feature(lon, lat, {key: row[key] for key in ("code", "name", "village_code")})
                for (_, row), (lon, lat) in zip(outcome.sites.iterrows(), lon_lat(outcome.sites), strict=True)]
    safe: list[dict[str, Any]] = json_safe(features)
    return safe


def point_feature(lon: float, lat: float, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def _site_properties(row: Any) -> dict[str, Any]:
    return {"code": row["code"], "name": row["name"], "village_code": row["village_code"],
            "category": row.get("category"), "use_status": row.get("use_status")}


def lon_lat(frame: Any) -> list[tuple[float, float]]:
    """Point coordinates of an EPSG:4544 frame in CRS84 (lon, lat)."""
    if frame.empty:
        return []
    geometries = output_geometries(frame.to_crs(4490).geometry.to_numpy(), parse_crs(CRS84_URI))
    return [(float(g.x), float(g.y)) for g in geometries]
