"""The ledger's books: transfers after the merger, claims and debts, the inventory check, reconciliation,
progress and milestones."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import mapping

from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.layers.codelists import label
from gis_service.ledger.checks import DEFAULT_WITHIN_M, MAX_WITHIN_M
from gis_service.repositories.ledger_transfers import ClaimFilter, TransferFilter
from gis_service.services.ledger_checks import CheckResult, LedgerCheckService, reconciliation_json
from gis_service.services.ledger_progress import LedgerProgressService, MilestoneInfo, progress_json
from gis_service.services.ledger_transfers import (
    Handover,
    NewClaim,
    NewTransfer,
    TransferService,
    owner_unit_warning,
)

router = APIRouter(prefix="/ledger", tags=["ledger: books"])
JSON = "application/json"
GEOJSON = "application/geo+json"
PROBLEM = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}
ERRORS: dict[int | str, dict[str, Any]] = {code: {"description": text, **PROBLEM} for code, text in (
    (400, "Bad request"), (401, "No valid API key"), (403, "Role or villages do not allow it"), (404, "Not found"),
    (409, "Conflict with the current state"), (422, "A ledger rule is not met"))}
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset_code: str = Field(min_length=1, description="资产编码")
    from_code: str = Field(min_length=1, description="Giving owner: the asset's current owner_code")
    to_code: str = Field(min_length=1, description="Receiving merged village or unit code")
    transfer_date: date | None = None
    approval: str | None = Field(None, description="Approval document (批复文号)")
    note: str | None = None


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["completed"] = "completed"
    transfer_date: date | None = None
    approval: str | None = None


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    former_village_code: str = Field(min_length=1)
    kind: str = Field(min_length=1, description="claim | debt (债权 | 债务)")
    counterparty: str = Field(min_length=1)
    amount: float = Field(gt=0, description="万元")
    description: str | None = None


class ClaimTransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_code: str | None = Field(None, description="Merged village (default: the one the former village joined)")
    transfer_date: date | None = None
    approval: str | None = None


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due: date


def _json(body: Any, status_code: int = 200, media_type: str = JSON, **headers: str) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status_code=status_code,
                    media_type=media_type, headers=headers or None)


def _language(request: Request) -> str:
    return str(request.app.state.settings.language)


def _transfers(request: Request) -> TransferService:
    return TransferService(request.app.state.engine)


def _progress(request: Request) -> LedgerProgressService:
    return LedgerProgressService(request.app.state.engine, request.app.state.settings.milestone_year)


def _with_labels(record: dict[str, Any], language: str, **codelists: str) -> dict[str, Any]:
    return {**record, **{f"{field}_label": label(codelist, record[field], language)
                         for field, codelist in codelists.items() if record.get(field) is not None}}


# ---------------------------------------------------------------------- transfers


def _transfer_json(record: dict[str, Any], language: str) -> dict[str, Any]:
    warning = owner_unit_warning(record, language)
    return {**_with_labels(record, language, status="transfer_status"),
            **({} if warning is None else {"owner_unit_warning": warning})}


@router.get("/transfers", summary="Transfers of assets (移交)", response_class=Response, responses=ERRORS)
def list_transfers(request: Request, _reader: ReaderDep, status: str | None = None, asset_code: str | None = None,
                   from_code: str | None = None, to_code: str | None = None, limit: Limit = 100,
                   offset: Offset = 0) -> Response:
    items, total = _transfers(request).transfers(TransferFilter(status, asset_code, from_code, to_code, limit, offset))
    return _json({"numberMatched": total, "numberReturned": len(items),
                  "transfers": [_transfer_json(t, _language(request)) for t in items]})


@router.post("/transfers", summary="Record a pending transfer", status_code=201, response_class=Response,
             responses=ERRORS)
def record_transfer(request: Request, body: TransferIn, principal: PrincipalDep) -> Response:
    record = _transfers(request).record_transfer(NewTransfer(**body.model_dump()), principal)
    return _json(_transfer_json(record, _language(request)), 201,
                 Location=f"{request.url_for('get_transfer', transfer_id=record['id'])}")


@router.get("/transfers/{transfer_id}", summary="One transfer", response_class=Response, responses=ERRORS)
def get_transfer(request: Request, transfer_id: Id, _reader: ReaderDep) -> Response:
    return _json(_transfer_json(_transfers(request).transfer(transfer_id), _language(request)))


@router.patch("/transfers/{transfer_id}", summary="Complete a pending transfer (date and approval required)",
              response_class=Response, responses=ERRORS)
def complete_transfer(request: Request, transfer_id: Id, body: HandoverIn, principal: PrincipalDep) -> Response:
    record = _transfers(request).complete_transfer(transfer_id, Handover(body.transfer_date, body.approval), principal)
    return _json(_transfer_json(record, _language(request)))


# ---------------------------------------------------------------------- claims and debts


def _claim_json(record: dict[str, Any], language: str) -> dict[str, Any]:
    return _with_labels(record, language, status="transfer_status", kind="claim_kind")


@router.get("/claims", summary="Claims and debts of former villages (债权债务)", response_class=Response,
            responses=ERRORS)
def list_claims(request: Request, _reader: ReaderDep, former_village_code: str | None = None,
                kind: str | None = None, status: str | None = None, to_code: str | None = None,
                limit: Limit = 100, offset: Offset = 0) -> Response:
    items, total = _transfers(request).claims(ClaimFilter(former_village_code, kind, status, to_code, limit, offset))
    return _json({"numberMatched": total, "numberReturned": len(items),
                  "claims": [_claim_json(c, _language(request)) for c in items]})


@router.post("/claims", summary="Record a claim or debt", status_code=201, response_class=Response,
             responses=ERRORS)
def record_claim(request: Request, body: ClaimIn, principal: PrincipalDep) -> Response:
    record = _transfers(request).record_claim(NewClaim(**body.model_dump()), principal)
    return _json(_claim_json(record, _language(request)), 201)


@router.post("/claims/{claim_id}/transfer", summary="Transfer a claim or debt to a merged village",
             response_class=Response, responses=ERRORS)
def transfer_claim(request: Request, claim_id: Id, body: ClaimTransferIn, principal: PrincipalDep) -> Response:
    record = _transfers(request).transfer_claim(claim_id, body.to_code, Handover(body.transfer_date, body.approval),
                                                principal)
    return _json(_claim_json(record, _language(request)))


# ---------------------------------------------------------------------- check and reconciliation


@router.get("/check", summary="Inventory check: do the books match the map (账实相符)?", response_class=Response,
            responses={200: {"content": {JSON: {}, GEOJSON: {}}}, **ERRORS})
def inventory_check(request: Request, _reader: ReaderDep,
                    within_m: Annotated[float, Query(ge=0, le=MAX_WITHIN_M, description="Same-name assets closer than "
                                                     "this are reported as duplicates")] = DEFAULT_WITHIN_M,
                    f: Annotated[Literal["json", "geojson"], Query(description="json report or geojson of the "
                                                                  "flagged assets")] = "json") -> Response:
    result = LedgerCheckService(request.app.state.engine).inventory_check(within_m)
    if f == "geojson":
        return _json(_flagged_geojson(result), media_type=GEOJSON)
    check = result.check
    return _json({"withinM": check.within_m, "assets": check.assets, "flagged": len(result.flagged),
                  "missingLocation": check.missing_location, "duplicateCodes": check.duplicate_codes,
                  "duplicateNames": check.duplicate_names, "outsideVillage": check.outside_village,
                  "outsideFormerVillage": check.outside_former_village})


def _flagged_geojson(result: CheckResult) -> dict[str, Any]:
    frame = result.flagged
    features = [{"type": "Feature", "id": row.code, "geometry": None if row.geometry is None else mapping(row.geometry),
                 "properties": {"code": row.code, "name": row.name, "village_code": row.village_code,
                                "problems": row.problems}} for row in frame.itertuples(index=False)]
    return {"type": "FeatureCollection", "numberReturned": len(features), "features": features}


@router.get("/reconciliation", summary="Spatial reconciliation of the transfer: do the books balance?",
            response_class=Response, responses=ERRORS)
def reconciliation(request: Request, _reader: ReaderDep,
                   assets: Annotated[bool, Query(description="Include every asset's place")] = True) -> Response:
    return _json(reconciliation_json(LedgerCheckService(request.app.state.engine).reconciliation(), assets))


# ---------------------------------------------------------------------- progress and milestones


@router.get("/progress", summary="Progress: by status, village, lead unit and mode; overdue plans; milestones",
            response_class=Response, responses=ERRORS)
def ledger_progress(request: Request, _reader: ReaderDep,
                    as_of: Annotated[date | None, Query(description="Date of the summary (default today)")] = None,
                    ) -> Response:
    return _json(progress_json(_progress(request).progress(as_of), _language(request)))


def _milestone_json(item: MilestoneInfo, language: str) -> dict[str, Any]:
    return {**asdict(item), "label": item.label(language)}


@router.get("/milestones", summary="The notice's milestones (configurable)", response_class=Response,
            responses=ERRORS)
def list_milestones(request: Request, _reader: ReaderDep) -> Response:
    return _json({"milestones": [_milestone_json(m, _language(request)) for m in _progress(request).milestones()]})


@router.put("/milestones/{key}", summary="Set a milestone's due date", response_class=Response, responses=ERRORS)
def set_milestone(request: Request, key: Annotated[str, Path(description="inventory, transfer, plans or "
                                                              "revitalisation")],
                  body: MilestoneIn, principal: PrincipalDep) -> Response:
    return _json(_milestone_json(_progress(request).set_milestone(key, body.due, principal), _language(request)))
