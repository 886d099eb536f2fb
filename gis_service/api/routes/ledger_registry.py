"""Registration pathways (确权登记) and the Excel/GeoPackage ledger: template, import, export.

Reads need read access; importing needs an editor or admin key (a village-limited editor imports only rows
of their villages). Labels and messages follow the ``language`` setting unless ``lang`` asks otherwise.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gis_service.access import require_edit
from gis_service.api.geojson import feature_collection
from gis_service.api.links import GEOJSON, JSON
from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.crs import CRS84_URI, output_geometries, parse_crs
from gis_service.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError
from gis_service.services.ledger_excel import LedgerExcelService, LedgerImportReport
from gis_service.services.ledger_registration import (
    LedgerRegistrationService,
    RegistrationReport,
    asset_json,
    report_json,
)

router = APIRouter(prefix="/ledger", tags=["Ledger: registration and Excel"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GPKG = "application/geopackage+sqlite3"
Lang = Annotated[Literal["zh", "en"] | None, Query(description="Labels and messages: zh or en (default: setting)")]
Village = Annotated[str | None, Query(pattern=r"^\d{12}$", description="Only this village (12-digit code)")]
OK_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {JSON: {"schema": {"type": "object"}}}}}


def _language(request: Request, lang: str | None) -> str:
    return lang or request.app.state.settings.language


@router.get("/registration", summary="Registration pathway of every asset, with the reason and counts per village",
            response_class=Response, responses=OK_JSON | {200: {"content": {JSON: {}, GEOJSON: {}}}})
async def registration(
    request: Request, _reader: ReaderDep, village: Village = None,
    pathway: Annotated[str | None, Query(description="Only this pathway (code or label)")] = None,
    f: Annotated[Literal["json", "geojson"], Query(description="json: report; geojson: assets as points")] = "json",
    lang: Lang = None,
) -> Response:
    service = LedgerRegistrationService(request.app.state.engine)
    report = await run_in_threadpool(service.report, village=village, pathway=pathway)
    language = _language(request, lang)
    if f == "geojson":
        return Response(await run_in_threadpool(_geojson, report, language), media_type=GEOJSON)
    return _json(report_json(report, language))


@router.get("/registration/{asset_code}", summary="One asset's registration pathway and why",
            response_class=Response, responses=OK_JSON)
async def registration_of(request: Request, asset_code: str, _reader: ReaderDep, lang: Lang = None) -> Response:
    item = await run_in_threadpool(LedgerRegistrationService(request.app.state.engine).one, asset_code)
    return _json(asset_json(item, _language(request, lang)))


@router.get("/template.xlsx", summary="The blank asset ledger template (资产台账模板)", response_class=Response,
            responses={200: {"content": {XLSX: {}}}})
async def ledger_template(request: Request, _reader: ReaderDep, lang: Lang = None) -> Response:
    language = _language(request, lang)
    service = LedgerExcelService(request.app.state.engine, language)
    name = "台账模板.xlsx" if language == "zh" else "ledger-template.xlsx"
    return await run_in_threadpool(_file_response, lambda p: service.template(p), name, XLSX)


@router.get("/export.xlsx", summary="The asset ledger as Excel, with registration pathways", response_class=Response,
            responses={200: {"content": {XLSX: {}}}})
async def export_xlsx(request: Request, _reader: ReaderDep, village: Village = None, lang: Lang = None) -> Response:
    service = LedgerExcelService(request.app.state.engine, _language(request, lang))
    name = "资产台账.xlsx" if service.language == "zh" else "asset-ledger.xlsx"
    return await run_in_threadpool(_file_response, lambda p: service.export(p, village=village), name, XLSX)


@router.get("/export.gpkg", summary="The asset ledger as GeoPackage (EPSG:4544) with registration pathways",
            response_class=Response, responses={200: {"content": {GPKG: {}}}})
async def export_gpkg(request: Request, _reader: ReaderDep, village: Village = None, lang: Lang = None) -> Response:
    service = LedgerExcelService(request.app.state.engine, _language(request, lang))
    return await run_in_threadpool(_file_response, lambda p: service.export(p, village=village),
                                   "asset-ledger.gpkg", GPKG)


UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "The ledger workbook (.xlsx)"}}}}}}


@router.post("/import", summary="Import a filled-in ledger workbook (multipart field 'file'): all rows or none",
             response_class=Response, responses=OK_JSON, openapi_extra={"requestBody": UPLOAD_BODY})
async def import_ledger(
    request: Request, principal: PrincipalDep,
    update: Annotated[bool, Query(description="Update assets whose code is known, add the others")] = False,
    lang: Lang = None,
) -> Response:
    require_edit(principal, "assets")  # before reading a byte of the upload
    limit = int(request.app.state.settings.upload_max_mb * 2**20)
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdecimal() and int(declared) > limit + 64 * 1024:
        raise PayloadTooLargeError(f"the upload is larger than {limit // 2**20} MB")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMediaTypeError("send the workbook as multipart/form-data in a field named 'file'")
    service = LedgerExcelService(request.app.state.engine, _language(request, lang))
    async with request.form(max_files=1) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("the form has no file field named 'file'")
        if not (upload.filename or "").lower().endswith(".xlsx"):
            raise UnsupportedMediaTypeError(f"'{upload.filename}' is not an Excel .xlsx workbook")
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / Path(upload.filename or "ledger.xlsx").name
            await _save(upload, path, limit)
            report = await run_in_threadpool(service.import_file, path, principal, update=update)
    return _json(_import_json(report))


async def _save(upload: UploadFile, path: Path, limit: int) -> None:
    size = 0
    with path.open("wb") as target:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"the upload is larger than {limit // 2**20} MB")
            target.write(chunk)


def _import_json(report: LedgerImportReport) -> dict[str, Any]:
    return {"file": report.file, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "ignored_columns": report.ignored_columns}


def _file_response(write: Any, name: str, media_type: str) -> Response:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / ("out" + Path(name).suffix)
        write(path)
        body = path.read_bytes()
    fallback = name.encode("ascii", "replace").decode()
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


def _geojson(report: RegistrationReport, language: str) -> bytes:
    geometries = output_geometries(np.array([a.geometry for a in report.assets], dtype=object),
                                   parse_crs(CRS84_URI))
    chunks = []
    for item, geometry in zip(report.assets, geometries, strict=True):
        properties = asset_json(item, language)
        chunks.append(orjson.dumps({"type": "Feature", "id": item.code, "properties": properties,
                                    "geometry": {"type": "Point", "coordinates": [geometry.x, geometry.y]}}))
    body = report_json(RegistrationReport([], report.counts), language)
    return feature_collection(chunks, {"numberReturned": len(chunks), "pathways": body["pathways"],
                                       "counts": body["counts"], "totals": body["totals"]})


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type=JSON)
