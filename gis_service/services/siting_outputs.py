"""A siting as JSON (per asset its ranked uses with scores, factors and reasons) and as GeoJSON features (each
idle asset with its top recommendation, CRS84). Labels follow the language; reasons carry both languages."""

from __future__ import annotations

import math
from typing import Any

from gis_service.analysis.siting import SitingResult, TownAssignment
from gis_service.analysis.siting_reasons import reasons
from gis_service.analysis.siting_uses import FACTORS
from gis_service.layers.codelists import label
from gis_service.services.analysis_outputs import json_safe, lon_lat, point_feature
from gis_service.services.siting import SitingOutcome


def siting_json(outcome: SitingOutcome, rows: list[int], language: str = "zh") -> dict[str, Any]:
    """The siting of the assets at ``rows``: parameters, then per asset its ranking, best first."""
    result = outcome.result
    body: dict[str, Any] = {
        "method": result.measurements.method, "centre": outcome.centre or None,
        "weights": result.parameters.weights.as_dict(),
        "uses": [{"code": u.code, "label": label("target_use", u.code, language)} for u in result.uses],
        "assets": [asset_json(result, i, language) for i in rows],
    }
    if outcome.assignment is not None:
        body["assignment"] = assignment_json(result, outcome.assignment, language)
    safe: dict[str, Any] = json_safe(body)
    return safe


def asset_json(result: SitingResult, i: int, language: str) -> dict[str, Any]:
    """One asset: its identity, its top use and every scored use, best first."""
    row = result.assets.iloc[i]
    ranking = [use_json(result, i, j, language) for j in result.ranking(i)]
    return {"code": row["code"], "name": row["name"], "village_code": row["village_code"],
            "category": row["category"], "subject": row["subject"],
            "top": ranking[0] if ranking else None, "ranking": ranking}


def use_json(result: SitingResult, i: int, j: int, language: str) -> dict[str, Any]:
    """One (asset, use): score, rank, planning verdict, reasons (zh and en) and every factor considered."""
    use = result.uses[j]
    verdict = result.permitted[i, j]
    factors = {}
    for name in FACTORS:
        value = float(result.values[name][i, j])
        if math.isfinite(value):
            factors[name] = {"value": round(value, 4), "raw": _number(result.raw[name][i, j]),
                             "contribution": round(float(result.contributions[name][i, j]), 4)}
    return {"use": use.code, "label": label("target_use", use.code, language),
            "score": round(float(result.scores[i, j]), 4), "rank": int(result.rank[i, j]),
            "permitted": verdict.permitted, "unsafe": bool(result.unsafe[i, j]),
            "reasons": [{"factor": r.factor, "zh": r.zh, "en": r.en} for r in reasons(result, i, j)],
            "factors": factors}


def assignment_json(result: SitingResult, assignment: TownAssignment, language: str) -> dict[str, Any]:
    """The town plan: each assigned asset with its use, step, marginal score and whom it serves."""
    codes = result.assets["code"].tolist()
    steps = []
    for step in assignment.steps:
        i, j = codes.index(step.asset_code), result.use_codes.index(step.use)
        steps.append({"asset_code": step.asset_code, "name": result.assets["name"].iloc[i], "use": step.use,
                      "label": label("target_use", step.use, language), "step": step.step,
                      "score": step.score, "ranked_score": step.ranked_score, "served": list(step.served),
                      "served_demand": step.served_demand, "new_coverage": step.new_coverage,
                      "reasons": [{"factor": r.factor, "zh": r.zh, "en": r.en} for r in reasons(result, i, j)]})
    return {"steps": steps, "unassigned": list(assignment.unassigned)}


def siting_features(outcome: SitingOutcome, rows: list[int], language: str = "zh") -> list[dict[str, Any]]:
    """The assets at ``rows`` as GeoJSON point features (CRS84) with their top use, score and reasons (and
    the use the town assignment gives them, when made)."""
    result = outcome.result
    points = lon_lat(outcome.assets.iloc[rows])
    features = []
    for i, (lon, lat) in zip(rows, points, strict=True):
        asset = asset_json(result, i, language)
        top = asset["top"] or {}
        properties = {key: asset[key] for key in ("code", "name", "village_code", "category")}
        properties.update({"top_use": top.get("use"), "top_use_label": top.get("label"), "score": top.get("score"),
                           "reasons": [r[language] for r in top.get("reasons", [])]})
        if outcome.assignment is not None:
            properties["assigned_use"] = outcome.assignment.use_of(asset["code"])
        features.append(point_feature(lon, lat, properties))
    safe: list[dict[str, Any]] = json_safe(features)
    return safe


def _number(value: float) -> float | None:
    value = float(value)
    return round(value, 1) if math.isfinite(value) else None
