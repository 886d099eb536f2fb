"""Spatial reconciliation of the transfer (移交) after the merger, as pure code: do the books balance?

Every asset is placed in the former and merged village whose boundary covers it. The books of each
former village before the merger (its collective assets, claims and debts) must reappear after it, in the
merged village it joined: owned by that village now, still held by the former village (transfer pending),
or passed on to a unit (the town) by a completed transfer. Anything else is an imbalance, listed with
its cause. Money is in 万元, areas in m².
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis_service.ledger.checks import containing_codes, require_metres

ASSET_MEASURES = ("count", "land_area", "floor_area", "original_value", "net_value")
MEASURES = (*ASSET_MEASURES, "claims", "debts")
BUCKETS = ("owned", "pending", "transferred_out")  # where a former village's item sits after the merger
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Totals:
    """Count, land and floor area (m²), original and net value, claims and debts (万元)."""

    count: int = 0
    land_area: float = 0.0
    floor_area: float = 0.0
    original_value: float = 0.0
    net_value: float = 0.0
    claims: float = 0.0
    debts: float = 0.0

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | None) -> Totals:
        if row is None:
            return cls()
        return cls(int(round(float(row["count"]))), *(round(float(row[m]), 6) for m in MEASURES[1:]))

    def as_dict(self) -> dict[str, float]:
        return {m: getattr(self, m) for m in MEASURES}


@dataclass(frozen=True)
class FormerBooks:
    """A former village's books before the merger."""

    code: str
    name: str | None
    merged_into: str | None
    before: Totals


@dataclass(frozen=True)
class VillageBooks:
    """A merged village after the merger, against the sum of its former villages before it.

    ``after`` = ``owned`` (items of former villages it owns now, wherever they came from) + ``pending`` (still
    held by its former villages) + ``transferred_out`` (passed on to a unit by a completed transfer).
    ``owns_now`` counts every asset it owns, also those that never belonged to a former village.
    """

    code: str
    name: str | None
    former_villages: tuple[str, ...]
    before: Totals
    owned: Totals
    pending: Totals
    transferred_out: Totals
    after: Totals
    owns_now: Totals
    balanced: bool


@dataclass(frozen=True)
class Imbalance:
    """A measure whose total before differs from after, for a merged village or the town (``scope`` "town")."""

    scope: str
    measure: str
    before: float
    after: float

    @property
    def difference(self) -> float:
        return round(self.after - self.before, 6)


@dataclass(frozen=True)
class Cause:
    """Why books do not balance: one asset (``subject`` its code) or claim (``claim:<id>``) that left its
    former village's merged village for another holder (``held_by`` ``None``: no holder the books know)."""

    kind: str  # other_village | unknown_owner | no_owner | claim_other_village | claim_unknown_holder
    subject: str
    former_village: str
    expected: str | None
    held_by: str | None
    detail_zh: str
    detail_en: str


@dataclass(frozen=True)
class StillOwned:
    """An asset still owned by a dissolved (former) village, and its pending transfer if one is recorded."""

    code: str
    name: str
    owner_code: str
    merged_into: str | None
    pending_transfer: int | None


@dataclass(frozen=True)
class Misassigned:
    """An asset owned by a village (merged or former) whose boundary does not cover it."""

    code: str
    name: str
    owner_code: str
    owner_kind: str  # village | former_village
    containing: str | None


@dataclass(frozen=True)
class Reconciliation:
    """The whole report; ``assets`` has one row per asset: code, owner_code, origin (former village whose
    books it belongs to), in_village and in_former_village (covering boundaries), holder, bucket."""

    assets: pd.DataFrame
    still_owned: tuple[StillOwned, ...]
    misassigned: tuple[Misassigned, ...]
    pending_transfers: tuple[dict[str, object], ...]
    former_villages: tuple[FormerBooks, ...]
    villages: tuple[VillageBooks, ...]
    town_before: Totals
    town_after: Totals
    imbalances: tuple[Imbalance, ...]
    causes: tuple[Cause, ...] = field(default=())

    @property
    def balanced(self) -> bool:
        return not self.imbalances


@dataclass(frozen=True)
class _Registry:
    """Codes of merged and former villages and which merged village each former village joined."""

    villages: pd.DataFrame
    former: pd.DataFrame

    @property
    def merged_into(self) -> pd.Series:
        return pd.Series(self.former["merged_into"].to_numpy(dtype=object), index=self.former["code"].to_numpy())

    def is_village(self, codes: pd.Series) -> np.ndarray:
        return codes.isin(set(self.villages["code"])).to_numpy()

    def is_former(self, codes: pd.Series) -> np.ndarray:
        return codes.isin(set(self.former["code"])).to_numpy()


def reconcile(assets: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, former_villages: gpd.GeoDataFrame,
              transfers: pd.DataFrame, claims: pd.DataFrame) -> Reconciliation:
    """Reconcile the assets, claims and debts of former villages with the merged villages.

    Parameters
    ----------
    assets
        ``code``, ``name``, ``ownership``, ``owner_code``, ``village_code``, ``former_village_code``,
        ``land_area``, ``floor_area``, ``original_value``, ``net_value`` and points, in EPSG:4544.
    villages
        Merged villages: ``code``, ``name``, polygons in EPSG:4544.
    former_villages
        ``code``, ``name``, ``merged_into``, polygons in EPSG:4544.
    transfers
        ``id``, ``asset_code``, ``from_code``, ``to_code``, ``status`` (pending | completed).
    claims
        ``id``, ``former_village_code``, ``kind`` (claim | debt), ``amount``, ``status``, ``to_code``.

    Returns
    -------
    Reconciliation
        Per-asset places, the lists, the books before and after per former and merged village, and every
        imbalance with its causes.
    """
    for frame, what in ((assets, "assets"), (villages, "villages"), (former_villages, "former_villages")):
        require_metres(frame, what)
    registry = _Registry(pd.DataFrame(villages.drop(columns="geometry")),
                         pd.DataFrame(former_villages.drop(columns="geometry")))
    places = place_assets(assets, villages, former_villages, transfers, registry)
    items = pd.concat([_asset_items(places, assets), _claim_items(claims, registry)], ignore_index=True)
    former_books, village_books, town_before, town_after = _books(items, places, assets, registry)
    imbalances = _imbalances(village_books, town_before, town_after)
    return Reconciliation(
        assets=places, still_owned=_still_owned(places, assets, transfers, registry),
        misassigned=_misassigned(places, assets, registry),
        pending_transfers=tuple({"id": int(t.id), "asset_code": t.asset_code, "from_code": t.from_code,
                                 "to_code": t.to_code}
                                for t in transfers[transfers["status"] == "pending"].itertuples(index=False)),
        former_villages=former_books, villages=village_books, town_before=town_before, town_after=town_after,
        imbalances=imbalances, causes=_causes(items, registry))


def place_assets(assets: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, former_villages: gpd.GeoDataFrame,
                 transfers: pd.DataFrame, registry: _Registry) -> pd.DataFrame:
    """Per asset: covering boundaries, the former village whose books it belongs to (``origin``), and who
    holds it now (``holder``: a merged village) in which ``bucket`` (owned, pending, transferred_out)."""
    points = assets.geometry.to_numpy(dtype=object)
    owner = assets["owner_code"].astype(object).where(assets["owner_code"].notna(), None)
    places = pd.DataFrame({
        "code": assets["code"].to_numpy(), "owner_code": owner.to_numpy(),
        "in_village": containing_codes(points, villages),
        "in_former_village": containing_codes(points, former_villages),
    })
    places["origin"] = asset_origins(assets, transfers, set(registry.former["code"]))
    holder, bucket = _holder(places, transfers, registry)
    places["holder"], places["bucket"] = holder, bucket
    return places


def asset_origins(assets: pd.DataFrame, transfers: pd.DataFrame, former_codes: set[str]) -> np.ndarray:
    """The former village whose books each asset belongs to (``None``: none).

    Its stated former village when the asset is a collective one, is owned by a former village, or was
    transferred from one; else the owning or giving former village. Town assets that merely lie in a former
    village belong to no former village's books.
    """
    stated = assets["former_village_code"]
    stated = stated.where(stated.isin(former_codes), None)
    owner = assets["owner_code"].where(assets["owner_code"].isin(former_codes), None)
    given = transfers.loc[transfers["from_code"].isin(former_codes)].sort_values("id")
    giver = assets["code"].map(given.drop_duplicates("asset_code").set_index("asset_code")["from_code"])
    belongs = (assets["ownership"] == "village_collective") | owner.notna() | giver.notna()
    origin = stated.where(stated.notna() & belongs, owner.where(owner.notna(), giver))
    return origin.astype(object).where(origin.notna(), None).to_numpy()


def _holder(places: pd.DataFrame, transfers: pd.DataFrame, registry: _Registry) -> tuple[np.ndarray, np.ndarray]:
    owner = places["owner_code"]
    merged_into = registry.merged_into
    holder = pd.Series(None, index=places.index, dtype=object)
    bucket = pd.Series(None, index=places.index, dtype=object)
    has_origin = places["origin"].notna().to_numpy()
    former_owned = registry.is_former(owner) & has_origin
    holder[former_owned], bucket[former_owned] = owner[former_owned].map(merged_into), "pending"
    village_owned = registry.is_village(owner) & has_origin
    holder[village_owned], bucket[village_owned] = owner[village_owned], "owned"
    done = transfers.loc[transfers["status"] == "completed", ["asset_code", "to_code"]]
    passed_on = pd.MultiIndex.from_frame(done).unique()
    to_unit = (has_origin & ~former_owned & ~village_owned & owner.notna().to_numpy()
               & pd.MultiIndex.from_arrays([places["code"], owner]).isin(passed_on))
    holder[to_unit], bucket[to_unit] = places.loc[to_unit, "origin"].map(merged_into), "transferred_out"
    return holder.to_numpy(), bucket.to_numpy()


def _asset_items(places: pd.DataFrame, assets: gpd.GeoDataFrame) -> pd.DataFrame:
    """One accounting line per asset that belongs to a former village's books."""
    lines = pd.DataFrame({
        "subject": places["code"], "origin": places["origin"], "holder": places["holder"],
        "bucket": places["bucket"], "owner_code": places["owner_code"], "claim": False, "count": 1.0,
        **{m: pd.to_numeric(assets[m], errors="coerce").fillna(0.0).to_numpy() for m in ASSET_MEASURES[1:]},
        "claims": 0.0, "debts": 0.0,
    })
    return lines[lines["origin"].notna()]


def _claim_items(claims: pd.DataFrame, registry: _Registry) -> pd.DataFrame:
    """One accounting line per claim or debt of a known former village."""
    known = claims[registry.is_former(claims["former_village_code"])]
    origin = known["former_village_code"]
    completed = (known["status"] == "completed").to_numpy()
    to_village = completed & registry.is_village(known["to_code"])
    holder = known["to_code"].where(to_village, origin.map(registry.merged_into).where(~completed, None))
    amount = pd.to_numeric(known["amount"], errors="coerce").fillna(0.0).to_numpy()
    return pd.DataFrame({
        "subject": "claim:" + known["id"].astype(str), "origin": origin.to_numpy(), "holder": holder.to_numpy(),
        "bucket": pd.Series("pending", index=known.index, dtype=object).where(~completed, None).where(
            ~to_village, "owned").to_numpy(),
        "owner_code": known["to_code"].to_numpy(), "claim": True, "count": 0.0,
        **{m: 0.0 for m in ASSET_MEASURES[1:]},
        "claims": np.where(known["kind"] == "claim", amount, 0.0),
        "debts": np.where(known["kind"] == "debt", amount, 0.0),
    })


Sums = dict[Any, dict[str, float]]


def _sums(lines: pd.DataFrame, by: str) -> Sums:
    """Measures summed per value of ``by``, as a dict (looked up per village: far faster than ``.loc``)."""
    return lines.groupby(by)[list(MEASURES)].sum().to_dict("index")


def _total(sums: Sums) -> Totals:
    return Totals.from_row({m: sum(row[m] for row in sums.values()) for m in MEASURES})


def _books(items: pd.DataFrame, places: pd.DataFrame, assets: gpd.GeoDataFrame, registry: _Registry
           ) -> tuple[tuple[FormerBooks, ...], tuple[VillageBooks, ...], Totals, Totals]:
    merged_into = registry.merged_into
    items = items.assign(expected=items["origin"].map(merged_into))
    before_former = _sums(items, "origin")
    before_village = _sums(items, "expected")
    held = items[items["holder"].notna()]
    per_bucket = {name: _sums(held[held["bucket"] == name], "holder") for name in BUCKETS}
    after = _sums(held, "holder")
    owns_now = _sums(pd.DataFrame({
        "owner_code": places["owner_code"], "count": 1.0,
        **{m: pd.to_numeric(assets[m], errors="coerce").fillna(0.0).to_numpy() for m in ASSET_MEASURES[1:]},
        "claims": 0.0, "debts": 0.0}), "owner_code")
    names = {**registry.former.set_index("code")["name"].to_dict(),
             **registry.villages.set_index("code")["name"].to_dict()}
    former = tuple(FormerBooks(code, _name(names, code), merged_into.get(code),
                               Totals.from_row(before_former.get(code))) for code in registry.former["code"])
    formers_of = registry.former.groupby("merged_into")["code"].agg(tuple).to_dict()
    codes = list(dict.fromkeys([*registry.villages["code"], *before_village, *after]))
    villages = tuple(_village_books(code, _name(names, code), formers_of.get(code, ()), before_village, per_bucket,
                                    after, owns_now) for code in codes)
    return former, villages, _total(before_former), _total(after)


def _village_books(code: str, name: str | None, formers: tuple[str, ...], before: Sums, buckets: dict[str, Sums],
                   after: Sums, owns_now: Sums) -> VillageBooks:
    was, now = Totals.from_row(before.get(code)), Totals.from_row(after.get(code))
    owned, pending, out = (Totals.from_row(buckets[b].get(code)) for b in BUCKETS)
    return VillageBooks(code, name, formers, was, owned, pending, out, now, Totals.from_row(owns_now.get(code)),
                        _equal(was, now))


def _name(names: dict[str, Any], code: str) -> str | None:
    value = names.get(code)
    return None if value is None or pd.isna(value) else str(value)


def _equal(a: Totals, b: Totals) -> bool:
    return all(abs(getattr(a, m) - getattr(b, m)) <= TOLERANCE * max(1.0, abs(getattr(a, m))) for m in MEASURES)


def _imbalances(villages: tuple[VillageBooks, ...], town_before: Totals, town_after: Totals) -> tuple[Imbalance, ...]:
    found = [Imbalance(scope, m, getattr(before, m), getattr(after, m))
             for scope, before, after in [("town", town_before, town_after),
                                          *((v.code, v.before, v.after) for v in villages)]
             for m in MEASURES
             if abs(getattr(before, m) - getattr(after, m)) > TOLERANCE * max(1.0, abs(getattr(before, m)))]
    return tuple(found)


def _causes(items: pd.DataFrame, registry: _Registry) -> tuple[Cause, ...]:
    """Each line that is not held where its former village's books expect it."""
    expected = items["origin"].map(registry.merged_into)
    astray = items[(items["holder"] != expected) | items["holder"].isna()]
    return tuple(_cause(line, expected[i]) for i, line in astray.iterrows())


def _cause(line: pd.Series, expected: str | None) -> Cause:
    subject, origin, holder, owner = line["subject"], line["origin"], line["holder"], line["owner_code"]
    what_zh, what_en = ("债权债务", "claim or debt") if line["claim"] else ("资产", "asset")
    if holder is not None and not pd.isna(holder):
        kind = "claim_other_village" if line["claim"] else "other_village"
        return Cause(kind, subject, origin, expected, holder,
                     f"原村{origin}的{what_zh}{subject}应归并入村{expected},现归{holder}",
                     f"{what_en} {subject} of former village {origin} belongs to {expected}, but {holder} holds it")
    if line["claim"]:
        return Cause("claim_unknown_holder", subject, origin, expected, None,
                     f"原村{origin}的债权债务{subject}已移交给{owner},不是合并村",
                     f"claim or debt {subject} of former village {origin} went to {owner}, not a merged village")
    if owner is None or pd.isna(owner):
        return Cause("no_owner", subject, origin, expected, None, f"原村{origin}的资产{subject}没有产权单位代码",
                     f"asset {subject} of former village {origin} has no owner code")
    return Cause("unknown_owner", subject, origin, expected, None,
                 f"原村{origin}的资产{subject}归{owner},但没有已完成的移交记录",
                 f"asset {subject} of former village {origin} is owned by {owner} without a completed transfer")


def _still_owned(places: pd.DataFrame, assets: gpd.GeoDataFrame, transfers: pd.DataFrame,
                 registry: _Registry) -> tuple[StillOwned, ...]:
    rows = np.flatnonzero(registry.is_former(places["owner_code"]))
    pending = transfers[transfers["status"] == "pending"].drop_duplicates("asset_code")
    pending_id = dict(zip(pending["asset_code"], pending["id"].astype(int), strict=True))
    merged_into = registry.merged_into.to_dict()
    codes, owners, names = (places["code"].to_numpy()[rows], places["owner_code"].to_numpy()[rows],
                            assets["name"].to_numpy()[rows])
    return tuple(StillOwned(str(code), str(name), str(owner), merged_into.get(owner), pending_id.get(code))
                 for code, owner, name in zip(codes, owners, names, strict=True))


def _misassigned(places: pd.DataFrame, assets: gpd.GeoDataFrame, registry: _Registry) -> tuple[Misassigned, ...]:
    owner = places["owner_code"]
    village = registry.is_village(owner) & (places["in_village"] != owner).to_numpy()
    former = registry.is_former(owner) & (places["in_former_village"] != owner).to_numpy()
    names = assets["name"].to_numpy()
    found = [Misassigned(str(places["code"].iat[i]), str(names[i]), str(owner.iat[i]), kind,
                         None if places[column].iat[i] is None else str(places[column].iat[i]))
             for flags, kind, column in ((village, "village", "in_village"),
                                         (former, "former_village", "in_former_village"))
             for i in np.flatnonzero(flags)]
    return tuple(sorted(found, key=lambda m: m.code))
