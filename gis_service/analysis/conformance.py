"""Planning conformance (规划符合性): may each feature take its intended use where it lies?

Pure: reads a :class:`~gis_service.analysis.planning_overlay.PlanningOverlay` and the permitted-use table of
:mod:`gis_service.analysis.conformance_uses`. For every (feature, use) it gives the zones touched with area and
share, the flags for the three control lines, a verdict and its reasons in Chinese and English:

``not_conforming``
    A use that needs a building touching permanent basic farmland or the ecological red line (beyond a sliver);
    or less than 95 % of the feature on land that allows the use.
``conditional``
    At least 95 % on land that allows the use, some of it only with a condition (homestay on a rural homestead
    0703…); a town use (workshop, warehouse) partly or wholly outside the development boundary; a land use
    (farming, forestry) in the ecological red line.
``conforming``
    At least 95 % on land that allows the use outright.
``unknown``
    No planning zone covers the feature, or the part without planning data could make it fit.

Land-use parcels (zones with a land-use code) decide; zones without a code (control lines, village
construction land of no stated use) judge only the part of a feature that no parcel covers: their pieces minus
the union of the feature's parcel pieces (computed per feature only for features that touch both kinds; a
point in a parcel is judged by the parcel alone).

The *current* use of an asset (``current_use(category)``) is judged by the registration rule of
:mod:`gis_service.analysis.planning_conformance` with the same machinery, so registration pathways and this
analysis never disagree about an asset as it stands.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> from gis_service.analysis.planning_overlay import overlay_zones
>>> zones = gpd.GeoDataFrame({"zone_type": ["village_construction", "permanent_farmland"],
...                           "land_use_code": ["0704", "0101"]},
...                          geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=4544)
>>> overlay = overlay_zones(gpd.GeoSeries([box(2, 2, 8, 8), box(5, 0, 15, 10)], crs=4544), zones)
>>> [v.verdict for v in check_conformance(overlay, ["agency_station", "agency_station"])]
['conforming', 'not_conforming']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gis_service.analysis.conformance_uses import (
    LAND_USES,
    PERMITTED_USES,
    TOWN_USES,
    PermittedTable,
    use_label,
)
from gis_service.analysis.planning_conformance import CONFORMING_SHARE, LandUseRule, rule_for
from gis_service.analysis.planning_overlay import PlanningOverlay
from gis_service.layers.codelists import label

VERDICTS = ("conforming", "conditional", "not_conforming", "unknown")
CURRENT = "current:"
# Control lines a use that needs a building must not touch (the rule of registration's BUILT_LAND as well).
FORBIDDEN_FOR_BUILDINGS = ("permanent_farmland", "ecological_redline")


def current_use(category: str | None) -> str:
    """The use code meaning "as it stands" for an asset of ``category`` (judged by the registration rule)."""
    return f"{CURRENT}{category or ''}"


@dataclass(frozen=True)
class Reason:
    zh: str
    en: str

    def text(self, language: str = "zh") -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class ZoneShare:
    """A zone a feature touches: overlap in m² (0 for a point) and its share of the feature."""

    zone: int  # position in the overlay's zones
    code: str | None
    zone_type: str
    land_use_code: str | None
    land_use_name: str | None
    area_m2: float
    share: float


@dataclass(frozen=True)
class Verdict:
    """One feature's verdict for one use.

    Attributes
    ----------
    feature
        Position of the feature in the overlay.
    use
        The use judged (a use code, or ``current:<category>``).
    verdict
        ``conforming``, ``conditional``, ``not_conforming`` or ``unknown``.
    fitting_share
        Share (0–1) of the feature on land allowing the use (with or without a condition).
    zones
        The zones it touches.
    on_permanent_farmland, on_ecological_redline
        Whether it touches these control lines (beyond a sliver).
    in_development_boundary
        Share inside the town development boundary; ``None`` when the data have no boundary.
    reasons
        Why, first the deciding reason.
    """

    feature: int
    use: str
    verdict: str
    fitting_share: float
    zones: tuple[ZoneShare, ...]
    on_permanent_farmland: bool
    on_ecological_redline: bool
    in_development_boundary: float | None
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class _UseJudgement:
    """Per feature, for one use: shares on allowing land (outright / at all) and with any planning data."""

    yes: np.ndarray
    allowed: np.ndarray
    covered: np.ndarray
    conditions: dict[int, Reason]  # zone position → the condition of a conditional zone
    building: bool
    what: Reason  # what allowing land is called, for reasons


def check_conformance(overlay: PlanningOverlay, uses: Sequence[str],
                      table: PermittedTable | None = None) -> list[Verdict]:
    """The verdict of every feature of ``overlay`` for its intended use ``uses[i]``.

    Parameters
    ----------
    overlay
        Features overlaid with planning zones (``zone_type``, ``land_use_code``; ``code``, ``land_use_name``
        are reported when present).
    uses
        One use per feature: a use code of the table, or :func:`current_use` of the asset's category.
    table
        The permitted-use table (default: the built-in one).

    Returns
    -------
    list of Verdict
        In the features' order.
    """
    if len(uses) != overlay.n_features:
        raise ValueError(f"{len(uses)} uses for {overlay.n_features} features")
    return check_requests(overlay, list(enumerate(uses)), table)


def check_requests(overlay: PlanningOverlay, requests: Sequence[tuple[int, str]],
                   table: PermittedTable | None = None) -> list[Verdict]:
    """The verdict of each ``(feature, use)`` request: several uses per feature (or none) in one pass.

    Parameters
    ----------
    overlay
        Features overlaid with planning zones, as for :func:`check_conformance`.
    requests
        ``(position of the feature in the overlay, use)`` pairs, in any order.
    table
        The permitted-use table (default: the built-in one).

    Returns
    -------
    list of Verdict
        In the requests' order.
    """
    table = table or PermittedTable.of(PERMITTED_USES)
    zones = _Zones.of(overlay)
    flags = _Flags.of(overlay, zones)
    verdicts: list[Verdict | None] = [None] * len(requests)
    by_use: dict[str, list[int]] = {}
    for k, (_, use) in enumerate(requests):
        by_use.setdefault(use, []).append(k)
    for use, members in by_use.items():
        chosen = np.zeros(overlay.n_features, dtype=bool)
        chosen[[requests[k][0] for k in members]] = True
        judgement = _judge_use(overlay, zones, table, use, chosen)
        for k in members:
            verdicts[k] = _verdict(requests[k][0], use, judgement, zones, flags)
    return [v for v in verdicts if v is not None]


# ---------------------------------------------------------------- zones and flags


@dataclass(frozen=True)
class _Zones:
    types: np.ndarray
    codes: list[str | None]
    names: list[str | None]
    ids: list[str | None]
    pair_feature: np.ndarray
    pair_zone: np.ndarray
    pair_area: np.ndarray
    pair_share: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    coded: np.ndarray  # per zone: has a land-use code (a parcel)
    on_parcel: np.ndarray  # per feature: meets a parcel
    parcel_union: np.ndarray  # per feature: union of its parcel pieces, where it is a polygon meeting both kinds
    in_parcels: np.ndarray  # per feature: wholly in parcels (so zones without a code judge none of it)

    @classmethod
    def of(cls, overlay: PlanningOverlay) -> _Zones:
        frame = overlay.zones
        pairs = overlay.pairs
        features, zone = pairs["feature"].to_numpy(), pairs["zone"].to_numpy()
        positions = np.arange(overlay.n_features)
        codes = _texts(frame, "land_use_code")
        coded = np.array([c is not None for c in codes], dtype=bool)
        on_parcel = np.zeros(overlay.n_features, dtype=bool)
        on_parcel[features[coded[zone]]] = True
        off_parcel = np.zeros(overlay.n_features, dtype=bool)
        off_parcel[features[~coded[zone]]] = True
        both = on_parcel & off_parcel & (overlay.areas > 0)
        parcel_union = np.full(overlay.n_features, None, dtype=object)
        selected = coded[zone] & both[features]
        owners, unions = piece_unions(features[selected], overlay.pieces[selected])
        parcel_union[owners] = unions
        in_parcels = np.zeros(overlay.n_features, dtype=bool)
        in_parcels[owners] = shapely.area(unions) >= overlay.areas[owners] * (1 - 1e-9)
        return cls(frame["zone_type"].astype(object).to_numpy(), codes, _texts(frame, "land_use_name"),
                   _texts(frame, "code"), features, zone, pairs["area_m2"].to_numpy(), pairs["share"].to_numpy(),
                   np.searchsorted(features, positions, side="left"), np.searchsorted(features, positions, "right"),
                   coded, on_parcel, parcel_union, in_parcels)

    def of_feature(self, i: int) -> slice:
        return slice(int(self.starts[i]), int(self.stops[i]))

    def land_name(self, zone: int, language: str) -> str:
        code, name = self.codes[zone], self.names[zone]
        if code:
            return f"{name}({code})" if name else code
        return label("zone_type", str(self.types[zone]), language)


def _texts(frame: pd.DataFrame, column: str) -> list[str | None]:
    if column not in frame:
        return [None] * len(frame)
    return [v if isinstance(v, str) and v else None for v in frame[column]]


@dataclass(frozen=True)
class _Flags:
    farmland: np.ndarray
    redline: np.ndarray
    boundary: np.ndarray | None

    @classmethod
    def of(cls, overlay: PlanningOverlay, zones: _Zones) -> _Flags:
        has_boundary = bool((zones.types == "development_boundary").any())
        return cls(overlay.touches("permanent_farmland"), overlay.touches("ecological_redline"),
                   overlay.covered_share(overlay.zone_mask(("development_boundary",))) if has_boundary else None)


def union_share(overlay: PlanningOverlay, pair_mask: np.ndarray) -> np.ndarray:
    """Per feature: the share of it in the union of the pieces of the selected pairs (1 for a point in one).

    Like :meth:`PlanningOverlay.covered_share`, but over any subset of pairs (zones × features), so that a use
    held by a few features does not pay for all of them.
    """
    share = np.zeros(overlay.n_features, dtype=float)
    features = overlay.pairs["feature"].to_numpy()[pair_mask]
    pieces = overlay.pieces[pair_mask]
    points = overlay.areas[features] == 0
    share[features[points]] = 1.0
    owners, unions = piece_unions(features[~points], pieces[~points])
    if len(owners):
        share[owners] = np.minimum(shapely.area(unions) / overlay.areas[owners], 1.0)
    return share


def piece_unions(features: np.ndarray, pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``features`` (sorted, as the overlay's pairs are) and the union of each one's ``pieces``.

    A feature with one piece keeps it as it is: only features with several pieces pay for a union.
    """
    if len(features) == 0:
        return features, pieces
    starts = np.flatnonzero(np.r_[True, features[1:] != features[:-1]])
    counts = np.diff(np.r_[starts, len(features)])
    unions = pieces[starts].copy()
    for k in np.flatnonzero(counts > 1):
        unions[k] = shapely.union_all(pieces[starts[k]:starts[k] + counts[k]])
    return features[starts], unions


def _share_off_parcels(overlay: PlanningOverlay, zones: _Zones, pair_mask: np.ndarray) -> np.ndarray:
    """Per feature: the share of it in the union of the selected pairs' pieces that no parcel covers.

    Exact: a zone without a code (the development boundary) over a parcel must not stand in for the part of a
    feature that has no data at all. Only polygons meeting both kinds need the difference of the unions.
    """
    share = union_share(overlay, pair_mask)
    features = zones.pair_feature[pair_mask]
    mixed = zones.on_parcel[features]
    if not mixed.any():
        return share
    features, pieces = features[mixed], overlay.pieces[pair_mask][mixed]
    points = overlay.areas[features] == 0
    share[features[points | zones.in_parcels[features]]] = 0.0  # a point in a parcel: the parcel alone decides
    rest = ~points & ~zones.in_parcels[features]  # only these pay for a difference
    owners, unions = piece_unions(features[rest], pieces[rest])
    if len(owners):
        rest = shapely.difference(unions, zones.parcel_union[owners])
        share[owners] = np.minimum(shapely.area(rest) / overlay.areas[owners], 1.0)
    return share


# ---------------------------------------------------------------- judging


def _judge_use(overlay: PlanningOverlay, zones: _Zones, table: PermittedTable, use: str,
               chosen: np.ndarray) -> _UseJudgement:
    in_use = chosen[zones.pair_feature]
    if use.startswith(CURRENT):
        return _judge_current(overlay, zones, rule_for(use[len(CURRENT):] or None), in_use)
    levels = [table.allows(code, str(kind), use) for code, kind in zip(zones.codes, zones.types, strict=True)]
    yes_zone = np.array([lv == "yes" for lv in levels], dtype=bool)
    allowed_zone = np.array([lv is not None for lv in levels], dtype=bool)
    coded = zones.coded[zones.pair_zone]

    def share(zone_mask: np.ndarray) -> np.ndarray:
        """Share on the selected zones: parcels, plus zones without a code where no parcel lies."""
        pairs = in_use & zone_mask[zones.pair_zone]
        total = union_share(overlay, pairs & coded) + _share_off_parcels(overlay, zones, pairs & ~coded)
        return np.minimum(total, 1.0)

    conditions = {}
    for zone, level in enumerate(levels):
        if level == "conditional":
            found = table.level(zones.codes[zone], str(zones.types[zone]), use)
            assert found is not None
            conditions[zone] = Reason(found.note_zh, found.note_en)
    name = Reason(use_label(use, "zh"), use_label(use, "en"))
    return _UseJudgement(share(yes_zone), share(allowed_zone), share(np.ones(len(levels), dtype=bool)),
                         conditions, use not in LAND_USES,
                         Reason(f"允许{name.zh}的用地", f"land allowing {name.en}"))


def _judge_current(overlay: PlanningOverlay, zones: _Zones, rule: LandUseRule, in_use: np.ndarray) -> _UseJudgement:
    fits = np.array([rule.fits(str(t), c) for t, c in zip(zones.types, zones.codes, strict=True)], dtype=bool)
    allowed = union_share(overlay, in_use & fits[zones.pair_zone])
    covered = union_share(overlay, in_use)
    return _UseJudgement(allowed, allowed, covered, {}, bool(rule.forbidden), Reason(rule.zh, rule.en))


def _verdict(i: int, use: str, judged: _UseJudgement, zones: _Zones, flags: _Flags) -> Verdict:
    mine = zones.of_feature(i)
    touched = tuple(ZoneShare(int(z), zones.ids[z], str(zones.types[z]), zones.codes[z], zones.names[z],
                              round(float(a), 2), round(float(s), 4))
                    for z, a, s in zip(zones.pair_zone[mine], zones.pair_area[mine], zones.pair_share[mine],
                                       strict=True))
    boundary = None if flags.boundary is None else float(flags.boundary[i])
    verdict, reasons = _decide(i, use, judged, zones, touched, boundary)

    return Verdict(i, use, verdict, float(judged.allowed[i]), touched, bool(flags.farmland[i]),
                   bool(flags.redline[i]), boundary, tuple(reasons))


def _decide(i: int, use: str, judged: _UseJudgement, zones: _Zones, touched: tuple[ZoneShare, ...],
            boundary: float | None) -> tuple[str, list[Reason]]:
    if judged.building:
        refused = _refusal(touched)
        if refused is not None:
            return "not_conforming", [refused]
    allowed, yes, covered = float(judged.allowed[i]), float(judged.yes[i]), float(judged.covered[i])
    where_zh = "、".join(dict.fromkeys(zones.land_name(t.zone, "zh") for t in touched))
    where_en = ", ".join(dict.fromkeys(zones.land_name(t.zone, "en") for t in touched))
    what = judged.what
    if allowed < CONFORMING_SHARE:
        if covered == 0:
            return "unknown", [Reason("所在位置无规划数据", "no planning zone covers it")]
        if allowed + (1 - covered) >= CONFORMING_SHARE:
            missing = 1 - covered
            return "unknown", [Reason(f"{missing:.0%}的范围无规划数据", f"{missing:.0%} of it has no planning data")]
        return "not_conforming", [Reason(f"仅{allowed:.0%}位于{what.zh}上({where_zh})",
                                         f"only {allowed:.0%} lies on {what.en} ({where_en})")]
    reasons = [Reason(f"位于{what.zh}上({where_zh})", f"lies on {what.en} ({where_en})")]
    verdict = "conforming"
    if yes < CONFORMING_SHARE:
        verdict = "conditional"
        for zone in dict.fromkeys(t.zone for t in touched if t.zone in judged.conditions):
            condition = judged.conditions[zone]
            reasons.append(Reason(f"{zones.land_name(zone, 'zh')}:{condition.zh}",
                                  f"{zones.land_name(zone, 'en')}: {condition.en}"))
    if use.startswith(CURRENT):  # as it stands: the registration rule alone
        return verdict, reasons
    if use in TOWN_USES and boundary is not None and boundary < CONFORMING_SHARE:
        verdict = "conditional"
        reasons.append(Reason(f"{1 - boundary:.0%}位于城镇开发边界外,须为集体经营性建设用地并符合村庄规划",
                              f"{1 - boundary:.0%} lies outside the town development boundary: only on collective "
                              "operating construction land under the village plan"))
    if not judged.building and any(t.zone_type == "ecological_redline" for t in touched):
        verdict = "conditional"
        reasons.append(Reason("位于生态保护红线内,仅允许有限人为活动",
                              "in the ecological red line: only limited human activity"))
    return verdict, reasons


def _refusal(touched: tuple[ZoneShare, ...]) -> Reason | None:
    for forbidden in FORBIDDEN_FOR_BUILDINGS:
        hits = [t for t in touched if t.zone_type == forbidden]
        if hits:
            zh, en = label("zone_type", forbidden), label("zone_type", forbidden, "en")
            area = sum(t.area_m2 for t in hits)
            if area:
                return Reason(f"占用{zh}{area:.1f}㎡,不得用于建设", f"overlaps {en} by {area:.1f} m²: no building")
            return Reason(f"位于{zh}内,不得用于建设", f"lies in {en}: no building")
    return None
