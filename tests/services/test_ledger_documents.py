"""The document store on both backends: content addressing, limits, types, damage, quota, names, rights."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from gis_service.db.ledger import StoredDocument
from gis_service.errors import (
    DamagedFileError,
    LedgerInputRejectedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PreconditionFailedError,
    StorageFullError,
    UnsupportedMediaTypeError,
)
from gis_service.repositories.ledger_plans import PlanRepository
from gis_service.services.ledger_documents import DocumentService, DocumentStore, clean_name
from gis_service.services.ledger_plans import PlanService
from tests.ledger_plans_data import ADMIN, EDITOR_A, EXE, IDLE_A, IDLE_B, VIEWER, add_assets, image, pdf, plan_fields

KB = 1024


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


def _service(engine: Engine, root: Path, max_bytes: int = 256 * KB, quota_bytes: int = 1024 * KB) -> DocumentService:
    return DocumentService(engine, DocumentStore(root, max_bytes, quota_bytes))


@pytest.fixture
def documents(engine: Engine, root: Path) -> DocumentService:
    add_assets(engine)
    return _service(engine, root)


def _upload(service: DocumentService, content: bytes, name: str = "照片.jpg", asset: str = IDLE_A,
            declared: str | None = None, purpose: str = "photo", chunk: int = 4 * KB) -> int:
    chunks = [content[i:i + chunk] for i in range(0, len(content), chunk)]
    staged = service.store.stage(chunks, name, declared)
    return service.upload(asset, staged, purpose, ADMIN).id


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(StoredDocument)).scalar_one())


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".lock") if root.exists() else []


def _nothing_written(service: DocumentService, engine: Engine, files_before: int = 0, rows_before: int = 0) -> None:
    assert _rows(engine) == rows_before
    assert len(_files(service.store.root)) == files_before
    assert service.store.temp_files() == []


def test_file_is_stored_under_its_sha256_with_metadata(documents: DocumentService, engine: Engine) -> None:
    content = image("PNG")
    document_id = _upload(documents, content, "现场照片.PNG", declared="image/png")
    document, path = documents.get(document_id)
    sha = hashlib.sha256(content).hexdigest()
    assert path == documents.store.root / sha[:2] / sha
    assert path.read_bytes() == content
    assert (document.media_type, document.size_bytes, document.original_name, document.purpose,
            document.asset_code, document.uploaded_by) == ("image/png", len(content), "现场照片.PNG", "photo", IDLE_A,
                                                           "zhang_admin")
    assert [d.id for d in documents.for_asset(IDLE_A)] == [document_id]
    with pytest.raises(NotFoundError):
        documents.for_asset("JT-NOPE")
    with pytest.raises(NotFoundError):
        documents.get(999)


def test_same_content_is_stored_once(documents: DocumentService, engine: Engine) -> None:
    content = image("JPEG")
    first = _upload(documents, content, "a.jpg")
    second = _upload(documents, content, "b.jpeg", asset=IDLE_B, purpose="其他")
    assert first != second and _rows(engine) == 2
    assert len(_files(documents.store.root)) == 1
    assert documents.get(first)[1] == documents.get(second)[1]


def test_concurrent_uploads_of_one_file(documents: DocumentService, engine: Engine) -> None:
    content = pdf("同一份文件")
    barrier = threading.Barrier(5)

    def upload() -> None:
        staged = documents.store.stage([content], "批复.pdf", "application/pdf")
        barrier.wait()
        documents.upload(IDLE_A, staged, "approval", ADMIN)

    threads = [threading.Thread(target=upload) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _rows(engine) == 5 and len(_files(documents.store.root)) == 1
    assert documents.store.temp_files() == []


def test_too_big_stops_while_streaming(documents: DocumentService, engine: Engine) -> None:
    seen: list[int] = []

    def endless() -> object:
        while True:  # a client that never stops sending: the store must stop reading
            seen.append(1)
            yield b"\xff\xd8\xff" + b"\x00" * (16 * KB - 3)

    with pytest.raises(PayloadTooLargeError, match="larger than 0.2 MB"):
        documents.store.stage(endless(), "huge.jpg", "image/jpeg")  # type: ignore[arg-type]
    assert len(seen) == 17  # 256 KB fit in 16 chunks; the 17th passes the limit
    _nothing_written(documents, engine)


@pytest.mark.parametrize(("content", "name", "declared", "message"), [
    (EXE, "photo.jpg", "image/jpeg", "is not a JPEG, PNG, WebP or PDF file"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "map.png", None, "is not a"),
    (image("JPEG"), "scan.pdf", None, "contains JPEG but its name ends in '.pdf'"),
    (image("PNG"), "photo", None, "ends in '(nothing)'"),
    (image("PNG"), "photo.png", "image/jpeg", "was sent as image/jpeg but contains PNG"),
    (pdf(), "notice.pdf", "text/html", "was sent as text/html"),
])
def test_wrong_types_are_refused(documents: DocumentService, engine: Engine, content: bytes, name: str,
                                 declared: str | None, message: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _upload(documents, content, name, declared=declared)
    _nothing_written(documents, engine)


def _flip_inside(content: bytes) -> bytes:
    middle = len(content) // 2
    return content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1:]


@pytest.mark.parametrize(("content", "name", "reason"), [
    (image("JPEG", size=64)[:-300], "cut.jpg", "cannot be decoded"),
    (image("PNG", size=64)[:-20], "cut.png", "no PNG IEND chunk"),
    (_flip_inside(image("PNG", size=64)), "flipped.png", "cannot be decoded"),
    (image("WEBP", size=64)[:-10], "cut.webp", "RIFF size does not match"),
    (pdf()[:-8], "cut.pdf", "no %%EOF"),
])
def test_damaged_files_are_refused_with_the_reason(documents: DocumentService, engine: Engine, content: bytes,
                                                   name: str, reason: str) -> None:
    with pytest.raises(DamagedFileError, match=reason):
        _upload(documents, content, name)
    _nothing_written(documents, engine)


def test_quota_refuses_new_content_but_not_a_copy(engine: Engine, root: Path) -> None:
    add_assets(engine)
    first = image("PNG", size=32)
    service = _service(engine, root, quota_bytes=len(first) + 10)
    _upload(service, first, "one.png")
    with pytest.raises(StorageFullError, match="would pass it, so nothing was stored"):
        _upload(service, image("PNG", colour=(0, 0, 255), size=32), "two.png")
    _nothing_written(service, engine, files_before=1, rows_before=1)
    _upload(service, first, "again.png")  # the same bytes take no more room
    assert _rows(engine) == 2 and len(_files(root)) == 1


@pytest.mark.parametrize("name", ["../../../etc/cron.d/evil.jpg", "..\\..\\windows\\evil.jpg", "/tmp/evil.jpg",
                                  "evil\x00.jpg", "\x1b[31mevil.jpg", "..jpg/evil.jpg"])
def test_names_cannot_escape_the_folder(documents: DocumentService, engine: Engine, tmp_path: Path,
                                        name: str) -> None:
    document_id = _upload(documents, image(), name)
    document, path = documents.get(document_id)
    assert document.original_name in ("evil.jpg", "[31mevil.jpg")  # control characters dropped
    assert path.parent.parent == documents.store.root
    outside = [p for p in tmp_path.rglob("*evil*")]
    assert outside == []


def test_names_are_cleaned_and_must_remain(documents: DocumentService) -> None:
    assert clean_name("C:\\Users\\李\\桌面\\照片 1.jpg") == "照片 1.jpg"
    assert len(clean_name("长" * 300 + ".pdf")) == 200 and clean_name("长" * 300 + ".pdf").endswith(".pdf")
    for empty in ("", "../", "..", "\x00\x01"):
        with pytest.raises(LedgerInputRejectedError, match="no usable name"):
            documents.store.stage([image()], empty, None)
    assert documents.store.temp_files() == []


def test_rights_and_purpose_are_checked_before_anything_is_stored(documents: DocumentService, engine: Engine) -> None:
    for principal, error in ((VIEWER, PermissionDeniedError), (EDITOR_A, PermissionDeniedError)):
        staged = documents.store.stage([image()], "p.jpg", None)
        with pytest.raises(error):
            documents.upload(IDLE_B, staged, "photo", principal)
        _nothing_written(documents, engine)
    with pytest.raises(LedgerInputRejectedError, match="purpose"):
        documents.upload(IDLE_A, documents.store.stage([image()], "p.jpg", None), "自拍", ADMIN)
    with pytest.raises(NotFoundError):
        documents.upload("JT-NOPE", documents.store.stage([image()], "p.jpg", None), "photo", ADMIN)
    _nothing_written(documents, engine)
    assert documents.upload(IDLE_A, documents.store.stage([image()], "p.jpg", None), "照片", EDITOR_A).id == 1


def test_failed_transaction_removes_only_the_files_it_created(documents: DocumentService, engine: Engine,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    plans = PlanService(engine, documents.store)
    plan = plans.create(plan_fields(), ADMIN)
    known = image(colour=(10, 20, 30))
    _upload(documents, known, "earlier.jpg")
    # A writer that gets in between the read and the write of the plan (the version condition fails).
    monkeypatch.setattr(PlanRepository, "update", lambda *args: False)
    staged = [documents.store.stage([known], "again.jpg", None), documents.store.stage([pdf()], "new.pdf", None)]
    with pytest.raises(PreconditionFailedError, match="changed by someone else"):
        plans.strike_off(plan.id, ADMIN, None, uploads=staged)
    _nothing_written(documents, engine, files_before=1, rows_before=1)
    assert documents.get(1)[1].read_bytes() == known  # the file of the earlier row is kept
