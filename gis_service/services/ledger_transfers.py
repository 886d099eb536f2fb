"""Transfers (移交) of assets after the merger, and the claims and debts (债权债务) of former villages.

Each write is one transaction that checks the caller's rights and the notice's rules. Completing a transfer
changes the asset's owner and records that change in the asset's edit history, in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row

from gis_service.access import Principal, require_edit
from gis_service.db.engine import write_transaction
from gis_service.errors import ConflictError, InvalidInputError, LedgerRuleError, NotFoundError, PermissionDeniedError
from gis_service.fileio.features import feature_snapshot
from gis_service.layers.codelists import code_lookup
from gis_service.layers.registry import get_layer
from gis_service.repositories.features import FeatureWriter
from gis_service.repositories.history import HistoryRepository
from gis_service.repositories.ledger_transfers import (
    ClaimFilter,
    ClaimRepository,
    PlacesRepository,
    TransferFilter,
    TransferRepository,
)
from gis_service.services.features import Features, features_from_rows

VILLAGE_CODE = re.compile(r"^\d{12}$")
COLLECTIVE_SUFFIX = "股份经济合作联合社"  # the merged village's collective economic organisation
# Receiving units other than merged villages whose owner-unit name (产权单位) is known. Only the town itself: other
# units (departments, town companies) have no register here, so their assets keep owner_unit until a clerk edits it.
UNIT_NAMES: dict[str, str] = {"510923100": "蓬莱镇人民政府"}


@dataclass(frozen=True)
class NewTransfer:
    """A transfer to record: the asset, who gives it (its current owner) and who receives it."""

    asset_code: str
    from_code: str
    to_code: str
    transfer_date: date | None = None
    approval: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class NewClaim:
    """A claim (债权) or debt (债务) of a former village, in 万元."""

    former_village_code: str
    kind: str
    counterparty: str
    amount: float
    description: str | None = None


@dataclass(frozen=True)
class Handover:
    """Completing a transfer, or transferring a claim: the date and approval document (批复文号)."""

    transfer_date: date | None
    approval: str | None


class TransferService:
    """Record, complete and list transfers; record, transfer and list claims and debts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ transfers

    def record_transfer(self, new: NewTransfer, principal: Principal) -> dict[str, Any]:
        """Record a pending transfer; ``from_code`` must be the asset's current owner."""
        require_edit(principal, "assets")
        asset_code, from_code, to_code = (_required(v, name) for v, name in (
            (new.asset_code, "asset_code"), (new.from_code, "from_code"), (new.to_code, "to_code")))
        with write_transaction(self.engine) as conn:
            places = PlacesRepository(conn)
            asset = _asset(places, asset_code)
            _check_scope(principal, asset.village_code, to_code)
            if (asset.owner_code or "") != from_code:
                raise LedgerRuleError(f"asset {asset_code} is owned by '{asset.owner_code or '(no owner code)'}', not "
                                      f"'{from_code}': a transfer starts from the asset's current owner (from_code)")
            if to_code == from_code:
                raise LedgerRuleError(f"to_code '{to_code}' is the giving owner itself; "
                                      "name the receiving village or unit")
            _check_receiver(places, to_code)
            transfers = TransferRepository(conn)
            pending = transfers.pending_for_asset(asset_code)
            if pending is not None:
                raise ConflictError(f"asset {asset_code} already has pending transfer {pending.id} "
                                    f"({pending.from_code} → {pending.to_code}); complete it first")
            transfer_id = transfers.add({
                "asset_code": asset_code, "from_code": from_code, "to_code": to_code, "status": "pending",
                "transfer_date": new.transfer_date, "approval": _optional(new.approval), "note": _optional(new.note),
                "recorded_by": principal.name})
            return _as_dict(transfers.get(transfer_id))

    def complete_transfer(self, transfer_id: int, handover: Handover, principal: Principal) -> dict[str, Any]:
        """Complete a pending transfer: the asset passes to the receiver, recorded in the asset's history.

        owner_code becomes the receiver's code and owner_unit (产权单位) its name: a merged village's collective,
        or a unit of :data:`UNIT_NAMES`. A unit whose name is not known keeps the asset's owner_unit; the result
        then says so (``owner_unit_kept``), so a clerk can correct it by editing the asset.
        """
        require_edit(principal, "assets")
        with write_transaction(self.engine) as conn:
            transfers = TransferRepository(conn)
            transfer = transfers.get(transfer_id, for_update=True)
            if transfer is None:
                raise NotFoundError(f"no transfer {transfer_id}")
            if transfer.status != "pending":
                raise ConflictError(f"transfer {transfer_id} was completed on {transfer.transfer_date}; "
                                    "a completed transfer cannot be completed again")
            when, approval = _handover(handover, transfer.transfer_date, transfer.approval)
            places = PlacesRepository(conn)
            asset = _asset(places, transfer.asset_code)
            _check_scope(principal, asset.village_code, transfer.to_code)
            if (asset.owner_code or "") != transfer.from_code:
                raise ConflictError(f"asset {asset.code} is now owned by '{asset.owner_code}', not "
                                    f"'{transfer.from_code}' as when transfer {transfer_id} was recorded; "
                                    "record a new transfer")
            unit = _unit_name(places, transfer.to_code)
            owner = {"owner_code": transfer.to_code, **({} if unit is None else {"owner_unit": unit})}
            _change_asset(conn, asset.id, owner, principal)
            transfers.complete(transfer_id, when, approval)
            return {**_as_dict(transfers.get(transfer_id)), "owner_unit": unit or asset.owner_unit,
                    "owner_unit_kept": unit is None}

    def transfer(self, transfer_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = TransferRepository(conn).get(transfer_id)
        if row is None:
            raise NotFoundError(f"no transfer {transfer_id}")
        return _as_dict(row)

    def transfers(self, where: TransferFilter) -> tuple[list[dict[str, Any]], int]:
        """Matching transfers, oldest first, and how many match."""
        with self.engine.connect() as conn:
            rows, total = TransferRepository(conn).list(where)
        return [_as_dict(r) for r in rows], total

    # ------------------------------------------------------------------ claims and debts

    def record_claim(self, new: NewClaim, principal: Principal) -> dict[str, Any]:
        """Record a claim or debt of a former village (pending until transferred)."""
        require_edit(principal, "village_claims")
        former_code = _required(new.former_village_code, "former_village_code")
        kind = code_lookup("claim_kind").get(str(new.kind).strip().casefold())
        if kind is None:
            raise InvalidInputError(f"kind: '{new.kind}' is neither claim (债权) nor debt (债务)")
        if not new.amount > 0:
            raise InvalidInputError(f"amount: must be a positive sum in 万元 (got {new.amount})")
        counterparty = _required(new.counterparty, "counterparty")
        with write_transaction(self.engine) as conn:
            former = _former(PlacesRepository(conn), former_code)
            _check_scope(principal, former.merged_into, None)
            claims = ClaimRepository(conn)
            claim_id = claims.add({
                "former_village_code": former_code, "kind": kind, "counterparty": counterparty,
                "amount": float(new.amount), "description": _optional(new.description), "status": "pending",
                "recorded_by": principal.name})
            return _as_dict(claims.get(claim_id))

    def transfer_claim(self, claim_id: int, to_code: str | None, handover: Handover,
                       principal: Principal) -> dict[str, Any]:
        """Pass a claim or debt to a merged village (default: the one its former village joined)."""
        require_edit(principal, "village_claims")
        with write_transaction(self.engine) as conn:
            claims, places = ClaimRepository(conn), PlacesRepository(conn)
            claim = claims.get(claim_id, for_update=True)
            if claim is None:
                raise NotFoundError(f"no claim or debt {claim_id}")
            if claim.status != "pending":
                raise ConflictError(f"claim or debt {claim_id} was already transferred to {claim.to_code} "
                                    f"on {claim.transfer_date}")
            former = _former(places, claim.former_village_code)
            receiver = _optional(to_code) or former.merged_into
            if receiver is None or places.village(receiver) is None:
                raise LedgerRuleError(f"to_code '{receiver}' is not a merged village: claims and debts of former "
                                      f"village {former.code} pass to a merged village's collective")
            _check_scope(principal, former.merged_into, receiver)
            when, approval = _handover(handover, None, None)
            claims.transfer(claim_id, receiver, when, approval)
            return _as_dict(claims.get(claim_id))

    def claims(self, where: ClaimFilter) -> tuple[list[dict[str, Any]], int]:
        """Matching claims and debts, oldest first, and how many match."""
        with self.engine.connect() as conn:
            rows, total = ClaimRepository(conn).list(where)
        return [_as_dict(r) for r in rows], total


# ---------------------------------------------------------------------- rules


def _required(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInputError(f"{field}: required")
    return text


def _optional(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def _asset(places: PlacesRepository, code: str) -> Row[Any]:
    asset = places.asset_for_update(code)
    if asset is None:
        raise NotFoundError(f"no asset with code '{code}'")
    return asset


def _former(places: PlacesRepository, code: str) -> Row[Any]:
    former = places.former_village(code)
    if former is None:
        raise NotFoundError(f"no former village with code '{code}'")
    return former


def _check_receiver(places: PlacesRepository, to_code: str) -> None:
    """The receiver is a merged village or a unit (e.g. the town, 510923100); never a dissolved village, and a
    12-digit village code must name an existing merged village."""
    if places.village(to_code) is not None:
        return
    former = places.former_village(to_code)
    if former is not None:
        raise LedgerRuleError(f"to_code '{to_code}' is a former (dissolved) village; transfer to the merged village "
                              f"it joined ({former.merged_into}) or to a unit")
    if VILLAGE_CODE.match(to_code):
        raise LedgerRuleError(f"to_code '{to_code}' looks like a village code but no merged village has it")


def _unit_name(places: PlacesRepository, code: str) -> str | None:
    """The owner-unit name (产权单位) of a receiver: a merged village's collective, a known unit, else ``None``."""
    village = places.village(code)
    if village is not None:
        return f"{village.name}{COLLECTIVE_SUFFIX}"
    return UNIT_NAMES.get(code)


def owner_unit_warning(record: dict[str, Any], language: str) -> str | None:
    """What to tell the clerk when a completed transfer left the asset's owner_unit as it was (else ``None``)."""
    if not record.get("owner_unit_kept"):
        return None
    kept = record.get("owner_unit") or ("(空)" if language == "zh" else "(empty)")
    if language == "zh":
        return (f"接收单位 {record['to_code']} 的名称未登记,资产 {record['asset_code']} 的产权单位仍为"
                f"“{kept}”,请编辑资产更正")
    return (f"the name of receiving unit {record['to_code']} is not known: asset {record['asset_code']} keeps "
            f"owner_unit '{kept}'; edit the asset to correct it")


def _handover(handover: Handover, stored_date: date | None, stored_approval: str | None) -> tuple[date, str]:
    """The date and approval of a handover (falling back to those recorded with the transfer); both required,
    the date not in the future."""
    when = handover.transfer_date or stored_date
    approval = _optional(handover.approval) or _optional(stored_approval)
    if when is None:
        raise LedgerRuleError("transfer_date: a handover needs the date it took place")
    if approval is None:
        raise LedgerRuleError("approval: a handover needs its approval document (批复文号)")
    if when > date.today():
        raise LedgerRuleError(f"transfer_date: {when} is in the future; record the handover once it took place")
    return when, approval


def _check_scope(principal: Principal, village: str | None, receiving: str | None) -> None:
    """An editor limited to villages may only move what lies in them (``village``; ``None``: the town's), and
    only to them (``receiving``; ``None``: nothing is received)."""
    if not principal.villages:
        return
    concerned = {village or "(town)", *([receiving] if receiving else [])}
    foreign = sorted(concerned - set(principal.villages))
    if foreign:
        raise PermissionDeniedError(f"user '{principal.name}' edits only villages {', '.join(principal.villages)}; "
                                    f"this concerns {', '.join(foreign)}")


def _change_asset(conn: Connection, asset_id: int, values: dict[str, Any], principal: Principal) -> None:
    """Write ``values`` to the asset and record the change in its history (action ``update``)."""
    writer = FeatureWriter(conn, get_layer("assets"))
    before = writer.get_for_update(asset_id)
    assert before is not None  # locked by the caller in this transaction
    writer.update_one(asset_id, values, {})
    after = writer.get(asset_id)
    assert after is not None
    HistoryRepository(conn, "assets").add(
        asset_id, "update", principal.name, datetime.now(UTC),
        _snapshot(features_from_rows(writer.layer, [before])), _snapshot(features_from_rows(writer.layer, [after])))


def _snapshot(features: Features) -> dict[str, Any]:
    return feature_snapshot(features.ids[0], features.properties[0], features.geometries[0],
                            {name: geoms[0] for name, geoms in features.extra_geometries.items()})


def _as_dict(row: Row[Any] | None) -> dict[str, Any]:
    assert row is not None  # read back in the transaction that wrote it
    return dict(row._mapping)
