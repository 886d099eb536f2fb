"""Photos and documents of assets over HTTP: upload (multipart), list, download; and the upload plumbing
that the strike-off of a plan shares.

Included by :mod:`gis_service.api.routes.ledger_plans` (whose router the app registers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message

from gis_service.api.links import JSON, base_url, link
from gis_service.api.security import PrincipalDep, ReaderDep
from gis_service.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError
from gis_service.layers.codelists import label
from gis_service.layers.validation import INT32_MAX
from gis_service.services.ledger_documents import CHUNK, Document, DocumentService, DocumentStore, StagedUpload
from gis_service.services.ledger_plans import PlanService
from gis_service.settings import Settings

router = APIRouter(tags=["Ledger: documents"])

FORM_OVERHEAD = 64 * 1024  # part headers, boundaries and the small text fields around the files
MAX_FILES = 10
DocumentId = Annotated[int, FastAPIPath(ge=1, le=INT32_MAX, description="Document id")]
AssetCode = Annotated[str, FastAPIPath(max_length=64, description="Asset ledger code (资产编码), e.g. "
                                       "JT510923100206-004")]
PROBLEM = {"content": {"application/problem+json": {"schema": {"type": "object"}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, **PROBLEM} for code, text in (
        (400, "Bad request"), (401, "No valid API key"), (403, "Role or villages do not allow it"),
        (404, "Not found"), (409, "Conflict"), (412, "Stale If-Match"), (413, "File too large"),
        (415, "Not a JPEG, PNG, WebP or PDF file, or name/type disagree with the content"),
        (422, "Damaged file or a ledger rule not met"), (428, "If-Match required"), (507, "Upload folder full"))
}
UPLOAD_BODY = {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "purpose"],
    "properties": {"file": {"type": "string", "format": "binary"},
                   "purpose": {"type": "string", "description": "photo, evidence, certificate, contract, approval "
                               "or other (or the Chinese label, e.g. 照片)"}}}}}, "required": True}


# ---------------------------------------------------------------------- services (built on first use)


def ledger_services(request: Request) -> tuple[PlanService, DocumentService]:
    """The plan and document services of this app, made once from its engine and settings."""
    services: tuple[PlanService, DocumentService] | None = getattr(request.app.state, "ledger_plan_services", None)
    if services is None:
        settings: Settings = request.app.state.settings
        store = DocumentStore.from_settings(settings)
        engine = request.app.state.engine
        services = (PlanService(engine, store), DocumentService(engine, store))
        request.app.state.ledger_plan_services = services
    return services


async def get_documents(request: Request) -> DocumentService:
    return ledger_services(request)[1]


DocumentsDep = Annotated[DocumentService, Depends(get_documents)]


# ---------------------------------------------------------------------- multipart uploads


async def read_form(request: Request, files: int, max_bytes: int | None = None) -> FormData:
    """The multipart body, refused with 413 as soon as it passes what ``files`` files of ``max_bytes`` each
    (default: the document store's ``upload_max_mb``) may weigh: the limit applies while the body arrives,
    not after it has been read. The caller closes the form."""
    if max_bytes is None:
        store: DocumentStore = ledger_services(request)[1].store
        max_bytes = store.max_bytes
    limit = files * max_bytes + FORM_OVERHEAD
    too_large = PayloadTooLargeError(f"the upload is larger than {files} x {max_bytes / 2**20:.1f} MB "
                                     "(文件超过大小限制); nothing was stored")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdecimal() and int(declared) > limit:
        raise too_large
    limited = Request(request.scope, _limited_receive(request.receive, limit, too_large))
    return await limited.form(max_files=files, max_fields=20, max_part_size=FORM_OVERHEAD)


def _limited_receive(receive: Callable[[], Awaitable[Message]], limit: int,
                     error: Exception) -> Callable[[], Awaitable[Message]]:
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise error
        return message

    return limited


def form_files(form: FormData, name: str) -> list[UploadFile]:
    values = form.getlist(name)
    if any(not isinstance(v, UploadFile) for v in values):
        raise InvalidInputError(f"'{name}' must be a file part (multipart/form-data with a filename)")
    return [v for v in values if isinstance(v, UploadFile)]


def form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"'{name}' must be a text field, not a file")
    return value


async def stage_files(store: DocumentStore, files: list[UploadFile]) -> list[StagedUpload]:
    """Stream the parsed files into the store's staging area (in the thread pool: it hashes and writes)."""
    staged: list[StagedUpload] = []
    try:
        for upload in files:
            staged.append(await run_in_threadpool(store.stage, _chunks(upload), upload.filename,
                                                  upload.content_type))
    except BaseException:
        for done in staged:
            done.discard()
        raise
    return staged


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    upload.file.seek(0)
    while chunk := upload.file.read(CHUNK):
        yield chunk


def require_multipart(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise UnsupportedMediaTypeError(f"send the file as multipart/form-data (got '{media_type or 'nothing'}')")


# ---------------------------------------------------------------------- JSON


def document_json(request: Request, document: Document) -> dict[str, Any]:
    language = request.app.state.settings.language
    href = f"{base_url(request)}/ledger/documents/{document.id}"
    return {"id": document.id, "sha256": document.sha256, "media_type": document.media_type,
            "size_bytes": document.size_bytes, "original_name": document.original_name,
            "purpose": document.purpose, "purpose_label": label("document_purpose", document.purpose, language),
            "asset_code": document.asset_code, "plan_id": document.plan_id, "uploaded_by": document.uploaded_by,
            "uploaded_at": document.uploaded_at.isoformat(), "links": [link(href, "enclosure", document.media_type)]}


def content_disposition(kind: str, name: str) -> str:
    """``kind; filename="…"; filename*=UTF-8''…`` (RFC 6266 with the RFC 5987 encoding for any name)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\%' else "_" for c in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# ---------------------------------------------------------------------- routes


@router.post("/ledger/assets/{asset_code}/documents", summary="Upload a photo or document of an asset",
             status_code=201, response_class=Response, openapi_extra={"requestBody": UPLOAD_BODY},
             responses={201: {"description": "Stored; Location names the document"}, **ERRORS})
async def upload_document(request: Request, asset_code: AssetCode, principal: PrincipalDep,
                          documents: DocumentsDep) -> Response:
    await run_in_threadpool(documents.check_upload, asset_code, principal)
    require_multipart(request)
    form = await read_form(request, 1)
    try:
        files = form_files(form, "file")
        if len(files) != 1:
            raise InvalidInputError("send exactly one file in the part 'file'")
        [staged] = await stage_files(documents.store, files)
        document = await run_in_threadpool(documents.upload, asset_code, staged, form_text(form, "purpose"),
                                           principal)
    finally:
        await form.close()
    body = document_json(request, document)
    return Response(orjson.dumps(body), status_code=201, media_type=JSON,
                    headers={"Location": body["links"][0]["href"]})


@router.get("/ledger/assets/{asset_code}/documents", summary="Photos and documents of an asset",
            response_class=Response, responses={200: {"content": {JSON: {"schema": {"type": "object"}}}}, **ERRORS})
def asset_documents(request: Request, asset_code: AssetCode, documents: DocumentsDep, _reader: ReaderDep) -> Response:
    found = documents.for_asset(asset_code)
    body = {"asset_code": asset_code, "documents": [document_json(request, d) for d in found],
            "links": [link(str(request.url), "self", JSON)]}
    return Response(orjson.dumps(body), media_type=JSON)


@router.get("/ledger/documents/{document_id}", summary="The file of a document, as uploaded",
            response_class=FileResponse, responses={200: {"description": "The file"}, **ERRORS})
def document_file(document_id: DocumentId, documents: DocumentsDep, _reader: ReaderDep) -> FileResponse:
    document, path = documents.get(document_id)
    # Photos open in the browser; PDFs are downloaded, so no browser plug-in renders them under this site.
    kind = "inline" if document.media_type.startswith("image/") else "attachment"
    headers = {"Content-Disposition": content_disposition(kind, document.original_name),
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400"}
    return FileResponse(path, media_type=document.media_type, headers=headers)
