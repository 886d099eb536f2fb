"""Evaluating a scenario: coverage per village and for the town before (the base layers) and after (the base
with the scenario's changes applied in memory, never written), and the "1+N" diagnosis before and after when
service points change. Stored as analysis runs of kind ``scenario`` (see :mod:`gis_service.services.runs`).

Results: per standard, the town and every village before/after, and the settlements whose coverage changed
(covered or not, or another nearest facility); GeoJSON of the changed facilities and those settlements.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import orjson
import pandas as pd
import shapely
from sqlalchemy import Engine

from gis_service.analysis.coverage import CoverageSummary
from gis_service.analysis.one_plus_n import OnePlusN
from gis_service.analysis.standards import FACILITY_THRESHOLDS, FacilityStandard
from gis_service.crs import analysis_crs, storage_crs
from gis_service.errors import ConflictError, InvalidInputError
from gis_service.repositories.scenarios import ScenarioRepository
from gis_service.services import analysis_outputs as outputs
from gis_service.services.coverage import (
    NETWORK_LAYERS,
    CoverageResult,
    Frames,
    Method,
    coverage_of,
    one_plus_n_of,
    read_snapshot,
    road_network,
    standard_with,
)
from gis_service.services.runs import METHODS, Computed, number_parameter
from gis_service.services.scenarios import SCENARIO_LAYERS, Change, change_from_row, find_scenario

LAYERS = ("settlements", "villages", *SCENARIO_LAYERS, *NETWORK_LAYERS)
ONE_PLUS_N_FIELDS = ("has_centre", "stations", "share_centre", "share_all", "stations_needed", "verdict")


def normalise(params: dict[str, Any]) -> dict[str, Any]:
    """Checked parameters: ``scenario_id``; ``standards`` (keys; none: those of the layers the scenario
    changes), ``method``, and ``metres`` or ``minutes`` replacing every chosen standard's threshold."""
    try:
        scenario_id = int(params["scenario_id"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInputError("a scenario evaluation needs scenario_id") from None
    method = params.get("method") or "auto"
    if method not in METHODS:
        raise InvalidInputError(f"unknown method '{method}'; use auto, network or straight")
    standards = params.get("standards") or None
    if isinstance(standards, str):
        standards = [s for s in standards.split(",") if s]
    metres, minutes = number_parameter(params, "metres"), number_parameter(params, "minutes")
    for key in standards or ():
        standard_with(key, metres, minutes)
    return {"scenario_id": scenario_id, "standards": None if standards is None else list(standards),
            "method": method, "metres": metres, "minutes": minutes}


def layers(params: dict[str, Any]) -> tuple[str, ...]:
    return LAYERS


def compute(engine: Engine, params: dict[str, Any]) -> Computed:
    """Evaluate the scenario: base and scenario read in one transaction, changes applied in memory."""
    with engine.connect() as conn, conn.begin():
        repo = ScenarioRepository(conn)
        scenario = find_scenario(repo, str(params["scenario_id"]))
        changes = [change_from_row(row) for row in repo.changes(scenario.id)]
        snapshot = read_snapshot(conn, LAYERS)
    if scenario.status != "draft":
        raise ConflictError(f"scenario '{scenario.name}' was promoted: its changes are in the base layers now; "
                            "its earlier evaluations are kept as runs")
    method: Method = params["method"]
    before = snapshot.frames
    after, skipped = apply_changes(before, changes)
    chosen = _standards(params, changes)
    network = road_network(before, method)  # roads are not changed by scenarios: one network for both
    compared = [_compare(coverage_of(before, s, method, network), coverage_of(after, s, method, network))
                for s in chosen]
    diagnosis = None
    if any(c.layer == "service_points" for c in changes):
        diagnosis = _compare_one_plus_n(one_plus_n_of(before, method, network), one_plus_n_of(after, method, network))
    scenario_input = {"id": scenario.id, "name": scenario.name, "changes": len(changes),
                      "changes_hash": changes_hash(changes)}
    result = {"scenario": scenario_input, "method": compared[0]["method"] if compared else method,
              "standards": [{k: v for k, v in c.items() if k != "features"} for c in compared],
              "one_plus_n": diagnosis, "skipped_changes": skipped}
    features = _facility_features(before, changes) + [f for c in compared for f in c["features"]]
    return Computed(outputs.json_safe(result), outputs.json_safe(features),
                    {"layers": snapshot.versions, "scenario": scenario_input})


def changes_hash(changes: Sequence[Change]) -> str:
    """SHA-256 of what the changes do (not who made them or when): a re-run sees whether they changed."""
    content = [[c.layer, c.action, c.feature_code, c.base_etag, c.properties, c.geometry] for c in changes]
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def apply_changes(frames: Frames, changes: Sequence[Change]) -> tuple[Frames, list[dict[str, Any]]]:
    """The layers with the changes applied (copies of the changed layers; the inputs are left as they are),
    and the changes that could not be applied because their base feature is gone."""
    out = dict(frames)
    skipped: list[dict[str, Any]] = []
    for change in changes:
        frame = out[change.layer]
        present = frame["code"] == change.feature_code
        if change.action != "add" and not present.any():
            skipped.append({"change": change.id, "layer": change.layer, "code": change.feature_code,
                            "reason": "the base feature no longer exists"})
            continue
        if change.action == "add":
            out[change.layer] = _with_added(frame, change)
        elif change.action == "move":
            moved = frame.copy()
            moved.loc[present, moved.geometry.name] = _projected(change.geometry)
            out[change.layer] = moved
        else:
            out[change.layer] = frame[~present]
    return out, skipped


def _with_added(frame: gpd.GeoDataFrame, change: Change) -> gpd.GeoDataFrame:
    values = {k: v for k, v in (change.properties or {}).items() if k in frame.columns}
    row = gpd.GeoDataFrame([values], geometry=gpd.GeoSeries([_projected(change.geometry)], crs=frame.crs,
                                                            name=frame.geometry.name), crs=frame.crs)
    return gpd.GeoDataFrame(pd.concat([frame, row], ignore_index=True), geometry=frame.geometry.name,
                            crs=frame.crs)


def _projected(geometry: dict[str, Any] | None) -> Any:
    """A stored change geometry (GeoJSON, EPSG:4490) in the analysis CRS."""
    shape = shapely.from_geojson(orjson.dumps(geometry))
    return gpd.GeoSeries([shape], crs=storage_crs()).to_crs(analysis_crs()).iloc[0]


def _standards(params: dict[str, Any], changes: Sequence[Change]) -> list[FacilityStandard]:
    keys = params["standards"]
    if keys is None:
        touched = {c.layer for c in changes}
        keys = [k for k, s in FACILITY_THRESHOLDS.items() if s.layer in touched] or ["centre"]
    return [standard_with(k, params["metres"], params["minutes"]) for k in keys]


def _compare(before: CoverageResult, after: CoverageResult) -> dict[str, Any]:
    """Town and villages before/after, and the settlements whose coverage changed (with features)."""
    b, a = before.report, after.report
    villages = [{"village_code": vb.village_code, "before": _summary(vb), "after": _summary(va),
                 "covered_change": va.covered_demand - vb.covered_demand}
                for vb, va in zip(b.villages, a.villages, strict=True)]
    fb, fa = b.settlements.to_frame(), a.settlements.to_frame()
    changed = (fb["covered"] != fa["covered"]) | (fb["nearest_code"] != fa["nearest_code"])
    names = before.settlements["name"]
    settlements = [{"code": fb.at[i, "code"], "name": names[i], "village_code": fb.at[i, "village_code"],
                    "demand": fb.at[i, "demand"], "covered_before": bool(fb.at[i, "covered"]),
                    "covered_after": bool(fa.at[i, "covered"]), "nearest_before": fb.at[i, "nearest_code"],
                    "nearest_after": fa.at[i, "nearest_code"],
                    "distance_before_m": outputs.finite(fb.at[i, "distance_m"]),
                    "distance_after_m": outputs.finite(fa.at[i, "distance_m"])} for i in fb.index[changed]]
    places = outputs.lon_lat(before.settlements.loc[fb.index[changed]])
    features = [outputs.point_feature(lon, lat, {"kind": "settlement", "standard": b.standard.key, **s})
                for s, (lon, lat) in zip(settlements, places, strict=True)]
    return {"standard": outputs.standard_json(b.standard), "method": b.method,
            "town": {"before": _summary(b.town), "after": _summary(a.town),
                     "covered_change": a.town.covered_demand - b.town.covered_demand},
            "villages": villages, "settlements_changed": settlements, "features": features}


def _summary(summary: CoverageSummary) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(summary).items() if k != "village_code"}


def _compare_one_plus_n(before: Sequence[OnePlusN], after: Sequence[OnePlusN]) -> list[dict[str, Any]]:
    return [{"village_code": b.village_code, "name": b.name,
             "before": {k: getattr(b, k) for k in ONE_PLUS_N_FIELDS},
             "after": {k: getattr(a, k) for k in ONE_PLUS_N_FIELDS}}
            for b, a in zip(before, after, strict=True)]


def _facility_features(before: Frames, changes: Sequence[Change]) -> list[dict[str, Any]]:
    """Each changed facility where it will be (added, moved) or where it was (removed), in CRS84."""
    features = []
    for change in changes:
        properties = {"kind": "facility", "change": change.id, "layer": change.layer, "action": change.action,
                      "code": change.feature_code}
        frame = before[change.layer]
        base = frame[frame["code"] == change.feature_code]
        if change.geometry is not None:
            geometry = change.geometry  # EPSG:4490 lon/lat: CRS84 within centimetres
            if len(base):
                properties["from"] = list(outputs.lon_lat(base)[0])
        elif len(base):
            lon, lat = outputs.lon_lat(base)[0]
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        else:
            continue
        name = (change.properties or {}).get("name") or (base["name"].iloc[0] if len(base) else None)
        features.append({"type": "Feature", "geometry": geometry, "properties": {**properties, "name": name}})
    return features


