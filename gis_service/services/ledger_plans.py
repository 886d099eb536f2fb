"""Revitalisation plans (盘活方案, plan 2 §三 of the notice): one per idle asset, struck off (销号) with evidence.

Each write is one transaction that checks the caller's rights (editors and admins; an editor limited to
villages only for assets in them), the plan's version (``If-Match``), and the notice's rules; it records the
change in ``feature_history`` under the layer ``revitalisation_plans`` with who, when, before and after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from gis_service.access import Principal, require_edit
from gis_service.db.engine import write_transaction
from gis_service.errors import (
    ConflictError,
    LedgerInputRejectedError,
    LedgerRuleError,
    NotFoundError,
    PreconditionFailedError,
    RowProblem,
)
from gis_service.layers.codelists import label
from gis_service.ledger import rules
from gis_service.repositories.history import HistoryRepository
from gis_service.repositories.ledger_documents import DocumentRepository
from gis_service.repositories.ledger_plans import PlanFilter, PlanRepository
from gis_service.services.edits import VersionInfo
from gis_service.services.ledger_documents import (
    DocumentStore,
    Placement,
    StagedUpload,
    insert_documents,
    require_asset_edit,
)
from gis_service.services.ledger_plans_fields import (
    CREATE_FIELDS,
    REQUIRED,
    UPDATE_FIELDS,
    parse_code,
    parse_fields,
)

LAYER = "revitalisation_plans"
# Plan columns a snapshot in the history keeps (the asset's own columns belong to the asset's history).
STORED = ("id", "asset_code", "mode", "target_use", "lead_unit", "responsible_person", "planned_on", "deadline",
          "status", "struck_off_on", "evidence_note", "note", "version")


@dataclass(frozen=True)
class Plan:
    """A plan as stored, with what it needs of its asset and the ids of its strike-off evidence."""

    id: int
    asset_code: str
    asset_name: str | None
    village_code: str | None
    ownership: str | None
    use_status: str | None
    mode: str
    target_use: str
    lead_unit: str
    responsible_person: str
    planned_on: date
    deadline: date
    status: str
    struck_off_on: date | None
    evidence_note: str | None
    note: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    evidence: tuple[int, ...] = ()

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def overdue(self, as_of: date) -> bool:
        return rules.is_overdue(self.deadline, self.status, as_of)

    def snapshot(self) -> dict[str, Any]:
        """The plan's stored fields as JSON (dates in ISO 8601), for the history."""
        values = {name: getattr(self, name) for name in STORED}
        out = {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
        return {**out, "evidence": list(self.evidence)}

    def labelled(self, language: str, as_of: date) -> dict[str, Any]:
        """Every field as JSON, with the labels of coded fields in ``language`` and ``overdue`` as of a day."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        out = {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in values.items()}
        out["evidence"] = list(self.evidence)
        for name, codelist in (("mode", "revitalisation_mode"), ("target_use", "target_use"),
                               ("status", "plan_status"), ("ownership", "ownership"), ("use_status", "use_status")):
            value = values[name]
            out[f"{name}_label"] = None if value is None else label(codelist, value, language)
        out["overdue"] = self.overdue(as_of)
        return out


@dataclass(frozen=True)
class PlanQuery:
    """Which plans to list: codes or labels for status and mode; ``overdue_as_of`` keeps the overdue ones."""

    status: str | None = None
    village_code: str | None = None
    lead_unit: str | None = None
    mode: str | None = None
    asset_code: str | None = None
    overdue_as_of: date | None = None


class PlanService:
    """Revitalisation plans on one database, their evidence in one document store."""

    def __init__(self, engine: Engine, store: DocumentStore) -> None:
        self.engine = engine
        self.store = store

    # ------------------------------------------------------------------ reads

    def find(self, query: PlanQuery) -> list[Plan]:
        """Plans matching ``query``, by deadline."""
        conditions = PlanFilter(
            status=_query_code("plan_status", "status", query.status), village_code=query.village_code,
            lead_unit=query.lead_unit, mode=_query_code("revitalisation_mode", "mode", query.mode),
            asset_code=query.asset_code)
        with self.engine.connect() as conn:
            rows = PlanRepository(conn).find(conditions)
            evidence = DocumentRepository(conn).evidence_by_plan([r.id for r in rows])
        plans = [_plan(row, evidence.get(row.id, ())) for row in rows]
        as_of = query.overdue_as_of
        return plans if as_of is None else [p for p in plans if p.overdue(as_of)]

    def get(self, plan_id: int) -> Plan:
        with self.engine.connect() as conn:
            return _load(conn, plan_id)

    def points(self, plans: Sequence[Plan]) -> dict[str, bytes]:
        """WKB (EPSG:4490) of the points of the plans' assets, by asset code."""
        with self.engine.connect() as conn:
            return PlanRepository(conn).points(p.asset_code for p in plans)

    def history(self, plan_id: int) -> list[VersionInfo]:
        """Every recorded change of a plan, oldest first; 404 if it never existed."""
        with self.engine.connect() as conn:
            rows = HistoryRepository(conn, LAYER).versions(plan_id)
            exists = PlanRepository(conn).get(plan_id) is not None
        if not rows and not exists:
            raise NotFoundError(f"no revitalisation plan {plan_id} (盘活方案不存在)")
        return [VersionInfo(r.layer, r.feature_id, r.version, r.action, r.actor, r.changed_at, r.before, r.after)
                for r in rows]

    # ------------------------------------------------------------------ writes

    def check_edit(self, plan_id: int, principal: Principal) -> None:
        """Raise now what a change of the plan would raise for the caller's rights or an unknown plan, so that
        a server reads no evidence it will refuse anyway (the change checks again in its transaction)."""
        require_edit(principal, LAYER)
        plan = self.get(plan_id)
        require_asset_edit(principal, plan, plan.asset_code, LAYER)

    def create(self, raw: Mapping[str, Any], principal: Principal) -> Plan:
        """Make the plan of an idle or partly idle asset (one per asset: 409 for a second)."""
        require_edit(principal, LAYER)
        values = parse_fields(raw, CREATE_FIELDS, REQUIRED)
        values.setdefault("planned_on", date.today())
        values.setdefault("status", "pending")
        with write_transaction(self.engine) as conn:
            plans = PlanRepository(conn)
            asset = require_asset_edit(principal, plans.asset(values["asset_code"]), values["asset_code"], LAYER)
            _check_new(asset, values)
            if plans.id_for_asset(asset.code) is not None:
                raise ConflictError(f"asset {asset.code} has a revitalisation plan already (plan "
                                    f"{plans.id_for_asset(asset.code)}); change that one (每宗资产只有一个盘活方案)")
            try:
                plan_id = plans.insert(values)
            except IntegrityError:  # a plan made for the same asset between our check and insert
                raise ConflictError(f"asset {asset.code} got a revitalisation plan meanwhile") from None
            plan = _load(conn, plan_id)
            _record(conn, plan, "create", principal, None)
            return plan

    def update(self, plan_id: int, raw: Mapping[str, Any], principal: Principal,
               if_match: Sequence[str] | None) -> Plan:
        """Change some fields (JSON merge patch); a change of status follows :data:`rules.PLAN_TRANSITIONS`,
        and setting ``struck_off`` is a strike-off (the evidence rule applies)."""
        require_edit(principal, LAYER)
        changes = parse_fields(raw, UPDATE_FIELDS)
        # Re-checked under the lock by strike_off; read here only to tell a strike-off from a note on a
        # plan struck off already (a client sending the whole plan back).
        if changes.get("status") == "struck_off" and self.get(plan_id).status != "struck_off":
            return self.strike_off(plan_id, principal, if_match, on=changes.pop("struck_off_on", None),
                                   note=changes.pop("evidence_note", None), other_changes=changes)
        _refuse_strike_off_fields(changes)
        with write_transaction(self.engine) as conn:
            current = _locked(conn, plan_id, principal, if_match)
            diff = {k: v for k, v in changes.items() if getattr(current, k) != v}
            if not diff:
                return current
            _check_change(current, diff)
            return _write(conn, current, diff, "status" if "status" in diff else "update", principal)

    def strike_off(self, plan_id: int, principal: Principal, if_match: Sequence[str] | None, *,
                   on: date | None = None, note: str | None = None, document_ids: Sequence[int] = (),
                   uploads: Sequence[StagedUpload] = (), other_changes: Mapping[str, Any] | None = None) -> Plan:
        """Strike a plan off (销号) on ``on`` (default today), with evidence: ``uploads`` stored now and/or
        ``document_ids`` uploaded before (purpose ``evidence``, same asset) are attached to it; at least one
        evidence document must be attached in the end (422 otherwise, and nothing is stored). The uploads
        are consumed (placed or discarded)."""
        try:
            require_edit(principal, LAYER)
            with self.store.placing() as placement, write_transaction(self.engine) as conn:
                current = _locked(conn, plan_id, principal, if_match)
                day = _strike_off_day(current, on)
                diff = {k: v for k, v in (other_changes or {}).items() if getattr(current, k) != v}
                _check_change(current, {**diff, "status": "struck_off"})
                _attach_evidence(conn, placement, current, document_ids, uploads, principal)
                diff.update(status="struck_off", struck_off_on=day, evidence_note=note)
                return _write(conn, current, diff, "strike_off", principal)
        finally:
            for upload in uploads:
                upload.discard()


# ---------------------------------------------------------------------- rules


def _check_new(asset: Row[Any], values: Mapping[str, Any]) -> None:
    """The notice's rules for a new plan: the asset is idle, the mode fits its ownership, dates in order."""
    if not rules.needs_plan(asset.use_status):
        zh = label("use_status", asset.use_status or "", "zh") or "未登记"
        en = label("use_status", asset.use_status or "", "en") or "without a use status"
        raise LedgerRuleError(f"资产 {asset.code} 使用状态为“{zh}”,不需要盘活方案(只有闲置、部分闲置资产需要); "
                              f"asset {asset.code} is {en}: only idle or partly idle assets need a revitalisation plan")
    _check_mode(asset.code, values["mode"], asset.ownership)
    _check_dates(values["planned_on"], values["deadline"])
    if values["status"] == "struck_off":
        raise LedgerRuleError("新方案不能直接销号,须先上传佐证材料再销号; a new plan cannot be struck off: create it, "
                              "then strike it off with evidence")


def _check_change(current: Plan, diff: Mapping[str, Any]) -> None:
    """The rules for changing a plan: struck-off plans are final (only the note may change), status moves
    follow :data:`rules.PLAN_TRANSITIONS`, the mode fits the asset's ownership, dates stay in order."""
    if current.status == "struck_off" and set(diff) - {"note"}:
        raise LedgerRuleError(f"方案 {current.id} 已销号,不能再修改(备注除外); plan {current.id} is struck off: "
                              f"only its note may change (not {', '.join(sorted(set(diff) - {'note'}))})")
    status = diff.get("status", current.status)
    if status not in rules.PLAN_TRANSITIONS[current.status]:
        moves = f"“{label('plan_status', current.status)}”改为“{label('plan_status', status)}”"
        raise LedgerRuleError(f"方案状态不能从{moves}; a plan's status cannot go from {current.status} to {status}")
    if "mode" in diff:
        _check_mode(current.asset_code, diff["mode"], current.ownership)
    _check_dates(diff.get("planned_on", current.planned_on), diff.get("deadline", current.deadline))


def _check_mode(asset_code: str, mode: str, ownership: str | None) -> None:
    if rules.mode_fits_ownership(mode, ownership):
        return
    allowed = sorted(rules.MODES_BY_OWNERSHIP.get(ownership or "", frozenset()))
    zh = "、".join(label("revitalisation_mode", m) for m in allowed) or "无"
    owner = label("ownership", ownership or "", "zh") or "未登记"
    raise LedgerRuleError(f"盘活方式“{label('revitalisation_mode', mode)}”不适用于{owner}资产 {asset_code}(可选:{zh}); "
                          f"mode {mode} does not fit asset {asset_code} owned {ownership or '(unknown)'}: "
                          f"use one of {', '.join(allowed) or 'none'}")


def _check_dates(planned_on: date, deadline: date) -> None:
    if deadline < planned_on:
        raise LedgerInputRejectedError(problems=[RowProblem(
            "plan", None, "deadline", f"{deadline.isoformat()} is before the plan was made ({planned_on.isoformat()}); "
            "完成时限早于方案制定日期")])


def _strike_off_day(current: Plan, on: date | None) -> date:
    today = date.today()
    day = on or today
    if current.status == "struck_off":
        raise ConflictError(f"plan {current.id} was struck off on {current.struck_off_on}; 该方案已销号")
    if day > today or day < current.planned_on:
        raise LedgerInputRejectedError(problems=[RowProblem(
            "plan", None, "struck_off_on", f"{day.isoformat()} must lie between the day the plan was made "
            f"({current.planned_on.isoformat()}) and today; 销号日期须在方案制定日期与今天之间")])
    return day


def _refuse_strike_off_fields(changes: Mapping[str, Any]) -> None:
    stray = sorted({"struck_off_on", "evidence_note"} & set(changes))
    if stray:
        raise LedgerInputRejectedError(problems=[RowProblem("plan", None, name, "only when striking the plan off "
                                                            "(status struck_off)") for name in stray])


def _attach_evidence(conn: Connection, placement: Placement, plan: Plan, document_ids: Sequence[int],
                     uploads: Sequence[StagedUpload], principal: Principal) -> None:
    """Attach evidence to ``plan``: new uploads and earlier documents of the same asset; 422 if it has none."""
    documents = DocumentRepository(conn)
    rows = {row.id: row for row in documents.many(document_ids)} if document_ids else {}
    problems = [_evidence_problem(i, rows.get(i), plan) for i in document_ids]
    if any(problems):
        raise LedgerInputRejectedError(problems=[p for p in problems if p is not None])
    documents.attach(list(document_ids), plan.id)
    insert_documents(conn, placement, uploads, purpose="evidence", asset_code=plan.asset_code, plan_id=plan.id,
                     actor=principal.name)
    if not documents.for_plan(plan.id, "evidence"):
        raise LedgerRuleError(f"方案 {plan.id} 没有佐证材料,不能销号(请上传照片或文件作为佐证); plan {plan.id} "
                              "cannot be struck off without evidence: upload at least one evidence document")


def _evidence_problem(document_id: int, row: Row[Any] | None, plan: Plan) -> RowProblem | None:
    def problem(message: str) -> RowProblem:
        return RowProblem("plan", None, "documents", f"document {document_id} {message}")

    if row is None:
        return problem("does not exist")
    if row.asset_code != plan.asset_code:
        return problem(f"belongs to asset {row.asset_code}, not {plan.asset_code}")
    if row.plan_id not in (None, plan.id):
        return problem(f"is evidence of plan {row.plan_id}")
    if row.purpose != "evidence":
        return problem(f"was uploaded as {row.purpose}, not as strike-off evidence (销号佐证)")
    return None


# ---------------------------------------------------------------------- storage helpers


def _query_code(codelist: str, name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_code(codelist, value)
    except ValueError as exc:
        raise LedgerInputRejectedError(problems=[RowProblem("query", None, name, str(exc))]) from None


def _plan(row: Row[Any], evidence: Sequence[int]) -> Plan:
    values = {name: getattr(row, name) for name in (f.name for f in fields(Plan)) if name != "evidence"}
    return Plan(**values, evidence=tuple(evidence))


def _load(conn: Connection, plan_id: int, *, for_update: bool = False) -> Plan:
    row = PlanRepository(conn).get(plan_id, for_update=for_update)
    if row is None:
        raise NotFoundError(f"no revitalisation plan {plan_id} (盘活方案不存在)")
    evidence = DocumentRepository(conn).evidence_by_plan([plan_id]).get(plan_id, ())
    return _plan(row, evidence)


def _locked(conn: Connection, plan_id: int, principal: Principal, if_match: Sequence[str] | None) -> Plan:
    """The plan, locked for this transaction, if ``principal`` may change it and ``if_match`` is current."""
    plan = _load(conn, plan_id, for_update=True)
    require_asset_edit(principal, plan, plan.asset_code, LAYER)
    tags = {tag.removeprefix("W/") for tag in if_match or ()}
    if if_match is not None and "*" not in tags and plan.etag not in tags:
        raise PreconditionFailedError(
            f"plan {plan_id} has changed since you read it (If-Match {', '.join(if_match)}, now {plan.etag}); "
            "read it again and reapply your change (方案已被他人修改)")
    return plan


def _write(conn: Connection, current: Plan, diff: dict[str, Any], action: str, principal: Principal) -> Plan:
    """Write ``diff`` if the plan is still at the version read, and record the change."""
    if not PlanRepository(conn).update(current.id, current.version, diff):
        raise PreconditionFailedError(f"plan {current.id} was changed by someone else meanwhile; read it again")
    after = _load(conn, current.id)
    _record(conn, after, action, principal, current)
    return after


def _record(conn: Connection, after: Plan, action: str, principal: Principal, before: Plan | None) -> None:
    HistoryRepository(conn, LAYER).add(after.id, action, principal.name, datetime.now(UTC),
                                       None if before is None else before.snapshot(), after.snapshot())
