"""Photos and documents of the ledger: a content-addressed file store and the rows that describe its files.

A file is stored once, under ``<uploads_dir>/<sha[:2]>/<sha256>``, however many rows (uploads) point to it.
The name a user gave a file is kept only as metadata: it never becomes part of a path. An upload is first
streamed to a temporary file in the upload folder (413 as soon as it passes ``upload_max_mb``), its type
sniffed and its structure verified; only then, inside the database transaction that writes its row, is it
renamed into place (507 if the folder would pass ``upload_quota_mb``). If that transaction fails, the file is
removed again when this upload created it: nothing is left half-written.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row

from gis_service.access import Principal, require_edit
from gis_service.db.engine import write_transaction
from gis_service.errors import (
    ConflictError,
    InvalidInputError,
    LedgerInputRejectedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RowProblem,
    StorageFullError,
)
from gis_service.layers.codelists import code_lookup
from gis_service.repositories.ledger_documents import DocumentRepository
from gis_service.repositories.ledger_plans import PlanRepository
from gis_service.services.ledger_documents_types import check_declared, sniff, verify

CHUNK = 1 << 16
LAYER = "documents"  # the name rights are checked under
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TEMP_PREFIX = ".upload-"
MAX_NAME = 200


@dataclass(frozen=True)
class Document:
    """One stored document or photo (a row); the file itself is found by its SHA-256."""

    id: int
    sha256: str
    media_type: str
    size_bytes: int
    original_name: str
    purpose: str
    asset_code: str | None
    plan_id: int | None
    uploaded_by: str
    uploaded_at: datetime


@dataclass
class StagedUpload:
    """An upload streamed to a temporary file, hashed, typed and verified, waiting to be placed."""

    temp_path: Path
    sha256: str
    size_bytes: int
    media_type: str
    original_name: str

    def discard(self) -> None:
        """Remove the temporary file (nothing happens once it was placed: it is gone from here)."""
        self.temp_path.unlink(missing_ok=True)


def clean_name(name: str | None) -> str:
    """The user's file name as metadata: its last path part, without control characters, at most 200
    characters. ``../../etc/passwd.jpg`` becomes ``passwd.jpg``; the store never uses it as a path anyway."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().strip(".").strip()
    if not base:
        raise LedgerInputRejectedError(problems=[RowProblem("upload", None, "file", "the file has no usable name")])
    stem, extension = os.path.splitext(base)
    return stem[: MAX_NAME - len(extension)] + extension if len(base) > MAX_NAME else base


def require_asset_edit(principal: Principal, asset: Any, asset_code: str, layer: str) -> Any:
    """``asset`` (a row or object with ``village_code``, ``None`` if there is no such asset), if ``principal``
    may write ledger entries about it: 401/403 by role, 404 if it does not exist, 403 for an editor limited
    to villages when the asset lies in none of theirs (a town asset, with no village, belongs to the whole
    town)."""
    require_edit(principal, layer)
    if asset is None:
        raise NotFoundError(f"no asset with code '{asset_code}' (资产编码不存在)")
    if principal.villages and asset.village_code not in principal.villages:
        where = asset.village_code or "the whole town"
        raise PermissionDeniedError(f"user '{principal.name}' edits only villages {', '.join(principal.villages)}; "
                                    f"asset {asset_code} belongs to {where} (无权操作其他村的资产)")
    return asset


class DocumentStore:
    """Files under ``root``, each stored once under its SHA-256."""

    def __init__(self, root: Path, max_bytes: int, quota_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.quota_bytes = quota_bytes

    @classmethod
    def from_settings(cls, settings: Any) -> DocumentStore:
        """The store ``settings`` describe (``uploads_dir``, ``upload_max_mb``, ``upload_quota_mb``)."""
        return cls(settings.uploads_dir, int(settings.upload_max_mb * 2**20), int(settings.upload_quota_mb * 2**20))

    def path_of(self, sha256: str) -> Path:
        """Where the file with this SHA-256 lives (a checked hex digest, so never outside ``root``)."""
        if not _SHA256.match(sha256):
            raise InvalidInputError(f"'{sha256}' is not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def stage(self, chunks: Iterable[bytes], name: str | None, declared_type: str | None) -> StagedUpload:
        """Stream ``chunks`` to a temporary file in the upload folder, then sniff and verify it.

        Raises 413 as soon as the upload passes ``max_bytes``, 415 for a type that is not accepted or that
        disagrees with the name or declared type, 422 for a damaged file, 507 when the disk is full; the
        temporary file is gone after any of them.
        """
        original = clean_name(name)
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".part", dir=self.root)
        temp = Path(temp_name)
        try:
            digest, size, head = self._write(handle, chunks, original)
            kind = check_declared(sniff(head), original, declared_type)
            verify(temp, kind, original)
            return StagedUpload(temp, digest, size, kind.media_type, original)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _write(self, handle: int, chunks: Iterable[bytes], name: str) -> tuple[str, int, bytes]:
        digest = hashlib.sha256()
        size = 0
        head = b""
        with os.fdopen(handle, "wb") as file:
            try:
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLargeError(
                            f"'{name}' is larger than {_mb(self.max_bytes)}; nothing was stored (文件超过大小限制)")
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                    digest.update(chunk)
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
            except OSError as exc:
                raise _disk_full(exc) from None
        return digest.hexdigest(), size, head

    @contextmanager
    def placing(self) -> Iterator[Placement]:
        """Hold the store's lock while files are placed and their rows written; a failure inside the block
        (the transaction's commit included, if it is opened inside) removes the files this block created.

        The lock (``flock`` on a file in the folder) serialises placements across threads and server
        processes, so the quota is checked against what is really there, and no upload can remove a file
        that another one has just found and is pointing its row to.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            placement = Placement(self)
            try:
                yield placement
            except BaseException:
                placement.undo()
                raise

    def usage(self) -> int:
        """Bytes the stored files take (temporary files of uploads in progress not counted)."""
        total = 0
        for folder in self.root.iterdir() if self.root.exists() else ():
            if folder.is_dir() and len(folder.name) == 2:
                total += sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())
        return total

    def temp_files(self) -> list[Path]:
        """Temporary files of uploads (none once every upload has finished, failed or not)."""
        return sorted(self.root.glob(f"{_TEMP_PREFIX}*")) if self.root.exists() else []


@dataclass
class Placement:
    """Files placed by one :meth:`DocumentStore.placing` block."""

    store: DocumentStore
    created: list[Path] = field(default_factory=list)
    added_bytes: int = 0

    def place(self, staged: StagedUpload) -> bool:
        """Move a staged upload to its place; ``False`` if the same content was stored already (its temporary
        file is then dropped). 507 if the folder would pass its quota."""
        target = self.store.path_of(staged.sha256)
        if target.exists():
            staged.discard()
            return False
        used = self.store.usage()
        if used + staged.size_bytes > self.store.quota_bytes:
            raise StorageFullError(
                f"the upload folder holds {_mb(used)} of its {_mb(self.store.quota_bytes)} quota; "
                f"'{staged.original_name}' ({_mb(staged.size_bytes)}) would pass it, so nothing was stored "
                "(存储空间已满)")
        try:
            target.parent.mkdir(exist_ok=True)
            os.replace(staged.temp_path, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise _disk_full(exc) from None
        self.created.append(target)
        self.added_bytes += staged.size_bytes
        return True

    def undo(self) -> None:
        for path in self.created:
            path.unlink(missing_ok=True)
        self.created.clear()


def _fsync_dir(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _disk_full(exc: OSError) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError("the disk of the upload folder is full; nothing was stored (磁盘已满)")
    return exc


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def parse_purpose(value: str | None) -> str:
    """A document purpose from its code or either label (422 naming the field otherwise)."""
    purpose = code_lookup("document_purpose").get((value or "").strip().casefold())
    if purpose is None:
        accepted = ", ".join(sorted(set(code_lookup("document_purpose").values())))
        raise LedgerInputRejectedError(problems=[RowProblem(
            "upload", None, "purpose", f"'{value or ''}' is not a document purpose (one of {accepted})")])
    return purpose


def insert_documents(conn: Connection, placement: Placement, uploads: Sequence[StagedUpload], *, purpose: str,
                     asset_code: str, plan_id: int | None, actor: str) -> list[int]:
    """Place ``uploads`` and write their rows in ``conn``'s transaction; returns the new document ids."""
    repository = DocumentRepository(conn)
    ids = []
    for upload in uploads:
        placement.place(upload)
        ids.append(repository.insert(
            sha256=upload.sha256, media_type=upload.media_type, size_bytes=upload.size_bytes,
            original_name=upload.original_name, purpose=purpose, asset_code=asset_code, plan_id=plan_id,
            uploaded_by=actor, uploaded_at=datetime.now(UTC)))
    return ids


def _open_plan(plans: PlanRepository, asset_code: str) -> int | None:
    """The id of the asset's plan that new evidence joins (``None``: no plan yet); 409 once it is struck off.

    Evidence joined to a struck-off plan would change it with no new version, ETag or history entry; the
    plan is locked so that a strike-off running at the same time finishes first (or waits for this upload).
    """
    plan_id = plans.id_for_asset(asset_code)
    plan = None if plan_id is None else plans.get(plan_id, for_update=True)
    if plan is not None and plan.status == "struck_off":
        raise ConflictError(f"方案 {plan_id} 已于 {plan.struck_off_on} 销号,不能再补充佐证材料(可作为其他用途上传); "
                            f"plan {plan_id} of asset {asset_code} was struck off on {plan.struck_off_on}: its "
                            "evidence is closed (upload the file with another purpose, e.g. photo)")
    return plan_id


def document_from_row(row: Row[Any]) -> Document:
    return Document(int(row.id), row.sha256, row.media_type, int(row.size_bytes), row.original_name, row.purpose,
                    row.asset_code, row.plan_id, row.uploaded_by, row.uploaded_at)


class DocumentService:
    """Upload, list and fetch the documents and photos of assets."""

    def __init__(self, engine: Engine, store: DocumentStore) -> None:
        self.engine = engine
        self.store = store

    def upload(self, asset_code: str, upload: StagedUpload, purpose: str | None, principal: Principal) -> Document:
        """Store a staged upload for an asset (the upload is consumed: placed or discarded). Strike-off
        evidence is attached to the asset's plan at once, if it has one, so that the plan can be struck off
        with it; 409 if that plan is struck off already (its evidence is closed; other purposes are stored)."""
        try:
            code = parse_purpose(purpose)
            with self.store.placing() as placement, write_transaction(self.engine) as conn:
                plans = PlanRepository(conn)
                require_asset_edit(principal, plans.asset(asset_code), asset_code, LAYER)
                plan_id = _open_plan(plans, asset_code) if code == "evidence" else None
                [document_id] = insert_documents(conn, placement, [upload], purpose=code, asset_code=asset_code,
                                                 plan_id=plan_id, actor=principal.name)
                row = DocumentRepository(conn).get(document_id)
        finally:
            upload.discard()
        assert row is not None  # written in the transaction just committed
        return document_from_row(row)

    def check_upload(self, asset_code: str, principal: Principal) -> None:
        """Raise now what :meth:`upload` would raise for the caller's rights or an unknown asset, so that a
        server reads no upload it will refuse anyway (the upload checks again in its transaction)."""
        require_edit(principal, LAYER)
        with self.engine.connect() as conn:
            require_asset_edit(principal, PlanRepository(conn).asset(asset_code), asset_code, LAYER)

    def for_asset(self, asset_code: str) -> list[Document]:
        """The documents of an asset, oldest first; 404 for an unknown asset."""
        with self.engine.connect() as conn:
            if PlanRepository(conn).asset(asset_code) is None:
                raise NotFoundError(f"no asset with code '{asset_code}' (资产编码不存在)")
            return [document_from_row(r) for r in DocumentRepository(conn).for_asset(asset_code)]

    def get(self, document_id: int) -> tuple[Document, Path]:
        """A document and the path of its file; 404 if either is missing."""
        with self.engine.connect() as conn:
            row = DocumentRepository(conn).get(document_id)
        if row is None:
            raise NotFoundError(f"no document {document_id}")
        path = self.store.path_of(row.sha256)
        if not path.is_file():
            raise NotFoundError(f"the file of document {document_id} is missing from the upload folder")
        return document_from_row(row), path
