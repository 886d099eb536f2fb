"""Planning data in and out over HTTP (一张图).

``POST /planning/import``: a multipart upload (``file``: a .gpkg or a .zip of Shapefiles; optional
``plan_name``, ``replace=true``) by an admin or a town-wide editor; all or nothing, problems as problem+json
with file:layer, row and field. ``GET /planning/export.zip``: the submission package (GeoPackage in EPSG:4544
with Chinese aliases, GBK Shapefiles, metadata sheet).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from gis_service.access import require_edit
from gis_service.api.links import JSON
from gis_service.api.routes.ledger_documents import form_files, form_text, read_form, require_multipart
from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.errors import InvalidInputError, PayloadTooLargeError
from gis_service.services.ledger_documents import clean_name
from gis_service.services.planning_io import PlanningIOService

router = APIRouter(prefix="/planning", tags=["Planning one map"])
ZIP = "application/zip"
SUFFIXES = (".gpkg", ".zip")
UPLOAD_BODY = {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": ".gpkg, or .zip of Shapefiles"},
                   "plan_name": {"type": "string"}, "replace": {"type": "boolean"}}}}}, "required": True}
OK_ZIP: dict[int | str, dict[str, Any]] = {200: {"content": {ZIP: {}}}}
UNPACKED_FACTOR = 10  # a .zip may unpack to ten times the upload limit (Shapefiles compress a few times)


@router.post("/import", summary="Import planning layers (YJJBNTBHTB, STBHHX, CZKFBJ, DLTB)",
             response_class=Response, openapi_extra={"requestBody": UPLOAD_BODY})
async def planning_import(request: Request, principal: PrincipalDep) -> Response:
    require_edit(principal, "planning_zones")
    require_multipart(request)
    limit = int(request.app.state.settings.upload_max_mb * 2**20)
    form = await read_form(request, 1, max_bytes=limit)  # 413 while the body arrives, not after
    try:
        upload, name = _the_file(form, limit)
        replace = (form_text(form, "replace") or "false").strip().lower() in ("true", "1", "yes")
        plan_name = (form_text(form, "plan_name") or "").strip() or None
        with tempfile.TemporaryDirectory(prefix="planning-upload-") as scratch:
            path = Path(scratch) / name
            await run_in_threadpool(_copy, upload, path)
            service = PlanningIOService(request.app.state.engine)
            report = await run_in_threadpool(lambda: service.import_path(
                path, plan_name=plan_name, replace=replace, max_unpacked=UNPACKED_FACTOR * limit))
    finally:
        await form.close()
    return Response(orjson.dumps({"imported": report.imported, "replaced": report.replaced, "layers": report.layers,
                                  "ignored_layers": report.ignored_layers}), media_type=JSON)


def _the_file(form: FormData, limit: int) -> tuple[UploadFile, str]:
    """The one uploaded file and the name it is read under (its last path part, cleaned)."""
    files = form_files(form, "file")
    if len(files) != 1:
        raise InvalidInputError("send exactly one 'file' (a .gpkg, or a .zip of Shapefiles)")
    upload = files[0]
    name = clean_name(upload.filename)
    if Path(name).suffix.lower() not in SUFFIXES:
        raise InvalidInputError(f"file '{name}': send a .gpkg or a .zip of Shapefiles")
    if (upload.size or 0) > limit:
        raise PayloadTooLargeError(f"the file may be at most {limit / 2**20:g} MB")
    return upload, name


def _copy(upload: UploadFile, path: Path) -> None:
    with path.open("wb") as target:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, target)


@router.get("/export.zip", summary="The submission package: GeoPackage (EPSG:4544), GBK Shapefiles, metadata",
            response_class=Response, responses=OK_ZIP)
async def planning_export(request: Request, _reader: ReaderDep) -> Response:
    body = await run_in_threadpool(PlanningIOService(request.app.state.engine).export_zip)
    return Response(body, media_type=ZIP,
                    headers={"Content-Disposition": 'attachment; filename="onemap_4544.zip"'})
