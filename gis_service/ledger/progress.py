"""Progress of the ledger work that leaders supervise every half month, as pure code.

Counts, areas and values by use status and plan status; by village, lead unit and revitalisation mode;
overdue plans; and the notice's four milestones with each merged village's completion. Frames in, typed
results out; every step is a pandas group-by, so 20,000 assets take milliseconds.

Everything is judged ``as_of`` a date from the dated ledger events: a plan made after ``as_of`` did not exist
then, a plan struck off after ``as_of`` was still open then, and a milestone item counts as done only if it was
done by both the due date and ``as_of``. The ledger keeps no earlier plan statuses (pending vs. in progress) nor
earlier asset attributes, so a plan open on ``as_of`` shows its current open status (``in_progress`` if it has
since been struck off), and assets show their current use status and owner.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from gis_service.ledger.reconciliation import asset_origins
from gis_service.ledger.rules import MILESTONES, NEEDS_PLAN

AMOUNTS = ("land_area", "floor_area", "original_value", "net_value")
NO_PLAN = "none"  # plan-status key of idle assets that have no plan yet


@dataclass(frozen=True)
class Summary:
    """Assets of one group: how many, land and floor area (m²), original and net value (万元)."""

    key: str
    count: int
    land_area: float
    floor_area: float
    original_value: float
    net_value: float


@dataclass(frozen=True)
class PlanGroup:
    """Plans of one lead unit or mode: by status, overdue, and the size of their assets."""

    key: str
    plans: int
    pending: int
    in_progress: int
    struck_off: int
    overdue: int
    land_area: float
    floor_area: float
    original_value: float
    net_value: float


@dataclass(frozen=True)
class VillageProgress:
    """One merged village: its assets, those needing a plan, plans and how far they are."""

    code: str
    name: str | None
    assets: Summary
    needing_plan: int
    plans: int
    struck_off: int
    overdue: int


@dataclass(frozen=True)
class OverduePlan:
    """A plan not struck off after its deadline."""

    plan_id: int
    asset_code: str
    asset_name: str | None
    village_code: str | None
    mode: str
    lead_unit: str
    responsible_person: str
    status: str
    deadline: date
    days_overdue: int


@dataclass(frozen=True)
class Completion:
    """How many of a milestone's items were done by its due date (as known on ``as_of``); ``state`` is met,
    missed (due date passed by ``as_of`` with items left) or open (not due yet). Nothing to do counts as met."""

    code: str
    name: str | None
    done: int
    total: int
    share: float
    state: str

    @property
    def met(self) -> bool:
        return self.state == "met"


@dataclass(frozen=True)
class MilestoneProgress:
    """One milestone: its due date, the town's completion and each merged village's."""

    key: str
    due: date
    town: Completion
    villages: tuple[Completion, ...]


@dataclass(frozen=True)
class Progress:
    """The whole progress summary as of a date."""

    as_of: date
    by_use_status: tuple[Summary, ...]
    by_plan_status: tuple[Summary, ...]
    by_village: tuple[VillageProgress, ...]
    by_lead_unit: tuple[PlanGroup, ...]
    by_mode: tuple[PlanGroup, ...]
    overdue: tuple[OverduePlan, ...]
    milestones: tuple[MilestoneProgress, ...]


@dataclass(frozen=True)
class LedgerFrames:
    """What progress reads from the ledger.

    Attributes
    ----------
    assets
        ``code``, ``name``, ``village_code``, ``former_village_code``, ``ownership``, ``owner_code``,
        ``use_status``, ``inventoried_on`` and the :data:`AMOUNTS`.
    villages
        Merged villages: ``code``, ``name``.
    former_villages
        ``code``, ``merged_into``.
    plans
        ``id``, ``asset_code``, ``mode``, ``lead_unit``, ``responsible_person``, ``status``, ``planned_on``,
        ``deadline``, ``struck_off_on``.
    transfers
        ``id``, ``asset_code``, ``from_code``, ``to_code``, ``status``, ``transfer_date``.
    claims
        ``id``, ``former_village_code``, ``status``, ``transfer_date``.
    """

    assets: pd.DataFrame
    villages: pd.DataFrame
    former_villages: pd.DataFrame
    plans: pd.DataFrame
    transfers: pd.DataFrame
    claims: pd.DataFrame


def progress(frames: LedgerFrames, milestones: dict[str, date], as_of: date) -> Progress:
    """The progress summary of the ledger ``as_of`` a date, with ``milestones`` (key → due date)."""
    frames = replace(frames, plans=plans_as_of(frames.plans, as_of))
    assets = _amounts(frames.assets)
    plans = _plans_with_assets(frames.plans, assets, as_of)
    return Progress(
        as_of=as_of, by_use_status=_summaries(assets, "use_status"), by_plan_status=_plan_status(assets, plans),
        by_village=_by_village(assets, plans, frames.villages), by_lead_unit=_plan_groups(plans, "lead_unit"),
        by_mode=_plan_groups(plans, "mode"), overdue=_overdue(plans, as_of),
        milestones=milestone_progress(frames, milestones, as_of))


def plans_as_of(plans: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The plans as they stood on ``as_of``.

    Plans made after ``as_of`` are dropped. A plan struck off after ``as_of`` was still open on ``as_of``; its
    status then (pending or in progress) is not kept, so it is shown as ``in_progress`` without a strike-off date.
    Plans struck off without a recorded date stay struck off.
    """
    made = _on_or_before(plans["planned_on"], as_of)
    then = plans[made].copy()
    struck_off_on = pd.to_datetime(then["struck_off_on"], errors="coerce")
    later = ((then["status"] == "struck_off") & struck_off_on.notna()
             & (struck_off_on > pd.Timestamp(as_of))).to_numpy()
    then.loc[later, "status"] = "in_progress"
    then.loc[later, "struck_off_on"] = None
    return then.reset_index(drop=True)


def _amounts(assets: pd.DataFrame) -> pd.DataFrame:
    return assets.assign(**{m: pd.to_numeric(assets[m], errors="coerce").fillna(0.0) for m in AMOUNTS})


def _plans_with_assets(plans: pd.DataFrame, assets: pd.DataFrame, as_of: date) -> pd.DataFrame:
    joined = plans.merge(assets[["code", "name", "village_code", *AMOUNTS]], how="left", left_on="asset_code",
                         right_on="code", suffixes=("", "_asset"))
    deadline = pd.to_datetime(joined["deadline"])
    joined["overdue"] = (joined["status"] != "struck_off") & (deadline < pd.Timestamp(as_of))
    joined[list(AMOUNTS)] = joined[list(AMOUNTS)].fillna(0.0)
    return joined


def _summaries(frame: pd.DataFrame, by: str) -> tuple[Summary, ...]:
    groups = frame.groupby(frame[by].fillna(""), sort=True).agg(count=("code", "size"),
                                                                 **{m: (m, "sum") for m in AMOUNTS})
    return tuple(_summary(str(key), row) for key, row in groups.iterrows())


def _summary(key: str, row: pd.Series) -> Summary:
    return Summary(key, int(row["count"]), *(round(float(row[m]), 6) for m in AMOUNTS))


def _plan_status(assets: pd.DataFrame, plans: pd.DataFrame) -> tuple[Summary, ...]:
    """Assets by the status of their plan; idle assets without a plan under ``none``."""
    status = assets["code"].map(plans.drop_duplicates("asset_code").set_index("asset_code")["status"])
    needing = assets["use_status"].isin(NEEDS_PLAN)
    fallback = pd.Series(NO_PLAN, index=assets.index, dtype=object).where(needing, None)
    keyed = assets.assign(plan_status=status.where(status.notna(), fallback))
    return _summaries(keyed[keyed["plan_status"].notna()], "plan_status")


def _by_village(assets: pd.DataFrame, plans: pd.DataFrame, villages: pd.DataFrame) -> tuple[VillageProgress, ...]:
    sizes = assets.groupby("village_code").agg(count=("code", "size"), **{m: (m, "sum") for m in AMOUNTS})
    needing = assets[assets["use_status"].isin(NEEDS_PLAN)].groupby("village_code").size()
    plan_counts = plans.groupby("village_code").agg(
        plans=("id", "size"), struck_off=("status", lambda s: int((s == "struck_off").sum())),
        overdue=("overdue", "sum"))
    names = villages.set_index("code")["name"]
    codes = list(dict.fromkeys([*villages["code"], *sizes.index]))
    empty = pd.Series({"count": 0, **{m: 0.0 for m in AMOUNTS}})
    return tuple(VillageProgress(
        code, None if pd.isna(names.get(code)) else str(names.get(code)),
        _summary(code, sizes.loc[code] if code in sizes.index else empty), int(needing.get(code, 0)),
        *(int(plan_counts.at[code, c]) if code in plan_counts.index else 0 for c in ("plans", "struck_off", "overdue")))
        for code in codes)


def _plan_groups(plans: pd.DataFrame, by: str) -> tuple[PlanGroup, ...]:
    if plans.empty:
        return ()
    status = pd.get_dummies(plans["status"]).reindex(columns=["pending", "in_progress", "struck_off"], fill_value=0)
    frame = pd.concat([plans[[by, "overdue", *AMOUNTS]], status.astype(int)], axis=1)
    groups = frame.groupby(by, sort=True).agg(
        plans=("overdue", "size"), pending=("pending", "sum"), in_progress=("in_progress", "sum"),
        struck_off=("struck_off", "sum"), overdue=("overdue", "sum"), **{m: (m, "sum") for m in AMOUNTS})
    return tuple(PlanGroup(str(key), *(int(row[c]) for c in ("plans", "pending", "in_progress", "struck_off",
                                                              "overdue")),
                           *(round(float(row[m]), 6) for m in AMOUNTS)) for key, row in groups.iterrows())


def _overdue(plans: pd.DataFrame, as_of: date) -> tuple[OverduePlan, ...]:
    late = plans[plans["overdue"]].sort_values(["deadline", "asset_code"])
    return tuple(OverduePlan(
        int(row.id), str(row.asset_code), None if pd.isna(row.name) else str(row.name),
        None if pd.isna(row.village_code) else str(row.village_code), str(row.mode), str(row.lead_unit),
        str(row.responsible_person), str(row.status), _as_date(row.deadline), (as_of - _as_date(row.deadline)).days)
        for row in late.itertuples(index=False))


def _as_date(value: object) -> date:
    return pd.Timestamp(value).date()


# ---------------------------------------------------------------------- milestones


def milestone_progress(frames: LedgerFrames, milestones: dict[str, date], as_of: date
                       ) -> tuple[MilestoneProgress, ...]:
    """Each milestone's completion by its due date as known on ``as_of``, for the town and per merged village.

    An item counts as done only if done by the earlier of the due date and ``as_of``; ``frames.plans`` are
    taken to be the plans as of ``as_of`` (see :func:`plans_as_of`). inventory: assets with ``inventoried_on``
    by then; transfer: former villages' assets and claims/debts transferred (completed, dated) by then; plans:
    idle and partly idle assets with a plan made by then; revitalisation: plans struck off by then.
    """
    items = {"inventory": _inventory_items, "transfer": _transfer_items, "plans": _plan_items,
             "revitalisation": _revitalisation_items}
    villages = frames.villages
    result = []
    for rule in MILESTONES:
        due = milestones[rule.key]
        village, done = items[rule.key](frames, min(due, as_of))
        result.append(_milestone(rule.key, due, as_of, village, done, villages))
    return tuple(result)


def _on_or_before(values: pd.Series, due: date) -> np.ndarray:
    stamps = pd.to_datetime(values, errors="coerce")
    return (stamps.notna() & (stamps <= pd.Timestamp(due))).to_numpy()


def _inventory_items(frames: LedgerFrames, cutoff: date) -> tuple[pd.Series, np.ndarray]:
    return frames.assets["village_code"], _on_or_before(frames.assets["inventoried_on"], cutoff)


def _transfer_items(frames: LedgerFrames, cutoff: date) -> tuple[pd.Series, np.ndarray]:
    """Assets and claims of former villages, keyed by the merged village each former village joined."""
    merged_into = frames.former_villages.set_index("code")["merged_into"]
    former = set(frames.former_villages["code"])
    assets, transfers = frames.assets, frames.transfers
    origin = pd.Series(asset_origins(assets, transfers, former), index=assets.index)
    done_transfers = transfers[(transfers["status"] == "completed") & _on_or_before(transfers["transfer_date"], cutoff)]
    done_pairs = pd.MultiIndex.from_frame(done_transfers[["asset_code", "from_code"]])
    belongs = origin.notna()
    asset_done = pd.MultiIndex.from_arrays([assets["code"], origin]).isin(done_pairs)[belongs.to_numpy()]
    claims = frames.claims[frames.claims["former_village_code"].isin(former)]
    claim_done = ((claims["status"] == "completed").to_numpy() & _on_or_before(claims["transfer_date"], cutoff))
    village = pd.concat([origin[belongs].map(merged_into), claims["former_village_code"].map(merged_into)],
                        ignore_index=True)
    return village, np.concatenate([asset_done, claim_done])


def _plan_items(frames: LedgerFrames, cutoff: date) -> tuple[pd.Series, np.ndarray]:
    needing = frames.assets[frames.assets["use_status"].isin(NEEDS_PLAN)]
    plans = frames.plans[_on_or_before(frames.plans["planned_on"], cutoff)]
    return needing["village_code"], needing["code"].isin(set(plans["asset_code"])).to_numpy()


def _revitalisation_items(frames: LedgerFrames, cutoff: date) -> tuple[pd.Series, np.ndarray]:
    village = frames.plans["asset_code"].map(frames.assets.drop_duplicates("code").set_index("code")["village_code"])
    done = (frames.plans["status"] == "struck_off").to_numpy() & _on_or_before(frames.plans["struck_off_on"], cutoff)
    return village.reset_index(drop=True), done


def _milestone(key: str, due: date, as_of: date, village: pd.Series, done: np.ndarray,
               villages: pd.DataFrame) -> MilestoneProgress:
    counts = pd.DataFrame({"village": village.to_numpy(dtype=object), "done": done.astype(int)})
    grouped = counts.groupby("village").agg(done=("done", "sum"), total=("done", "size"))
    names = villages.set_index("code")["name"]
    codes = list(dict.fromkeys([*villages["code"], *grouped.index]))
    per_village = tuple(_completion(code, None if pd.isna(names.get(code)) else str(names.get(code)),
                                    *(_pair(grouped, code)), due, as_of) for code in codes)
    town = _completion("town", None, int(counts["done"].sum()), len(counts), due, as_of)
    return MilestoneProgress(key, due, town, per_village)


def _pair(grouped: pd.DataFrame, code: str) -> tuple[int, int]:
    if code not in grouped.index:
        return 0, 0
    return int(grouped.at[code, "done"]), int(grouped.at[code, "total"])


def _completion(code: str, name: str | None, done: int, total: int, due: date, as_of: date) -> Completion:
    share = 1.0 if total == 0 else done / total
    state = "met" if done == total else ("missed" if as_of > due else "open")
    return Completion(code, name, done, total, round(share, 4), state)
