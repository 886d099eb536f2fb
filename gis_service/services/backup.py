"""Backup and restore: one consistent snapshot of every table, loaded back into an empty database of
either backend (SpatiaLite to PostGIS and back)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table

from gis_service.db.engine import admin_transaction, as_town_role, engine_town, town_of
from gis_service.db.migrate import upgrade
from gis_service.errors import ConflictError, InvalidInputError, NotFoundError
from gis_service.fileio.backup_file import BackupReader, BackupWriter, column_kind
from gis_service.repositories import snapshot
from gis_service.repositories.towns import TownRepository
from gis_service.services.ledger_documents import DocumentStore
from gis_service.services.towns import TownService
from gis_service.towns import GLOBAL_TABLES, working_on


@dataclass(frozen=True)
class BackupReport:
    path: Path
    revision: str
    rows: dict[str, int]  # per table
    files: int = 0  # uploaded documents kept or brought back
    missing: tuple[str, ...] = ()  # SHA-256 of documents the ledger names but whose file is not there
    town: str = ""  # the town the backup is of (a backup holds one town, and the database's API users)
    users_kept: bool = False  # restore: the database had API users already, so the backup's were not loaded


class BackupService:
    """Backups of one database and, when ``uploads`` is given, of its uploaded documents (content-addressed)."""

    def __init__(self, engine: Engine, uploads: DocumentStore | None = None) -> None:
        self.engine = engine
        self.uploads = uploads

    def backup(self, path: Path) -> BackupReport:
        """Copy every table of the current town, the API users, and the uploaded files the ``documents`` table
        names into a new backup file at ``path``, all read in one transaction."""
        writer = BackupWriter(path)
        rows: dict[str, int] = {}
        try:
            with _snapshot(self.engine) as conn:
                revision = snapshot.schema_revision(conn)
                town = town_of(conn)
                served = TownRepository(conn).get(town)
                if served is None:
                    raise NotFoundError(f"this database serves no town {town}: nothing to back up")
                name = str(served.name)
                for table in snapshot.snapshot_tables():
                    writer.add_table(table, [column_kind(c, snapshot.is_geometry(c)) for c in table.columns])
                    rows[table.name] = 0
                    for batch in snapshot.read_rows(conn, table):
                        if table.name == "api_users":  # the keys of this town only, never another's or "*"
                            batch = _keys_of(town, table, batch)
                        writer.write_rows(table.name, batch)
                        rows[table.name] += len(batch)
                files, missing = self._keep_files(conn, writer)
            writer.close({"revision": revision, "backend": self.engine.dialect.name, "files": str(files),
                          "town_code": town, "town_name": name,
                          "missing_files": ",".join(missing),
                          "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                          **{f"rows.{name}": str(n) for name, n in rows.items()}})
        except BaseException:
            writer.abort()
            raise
        return BackupReport(path, revision, rows, files, missing, town)

    def _keep_files(self, conn: Connection, writer: BackupWriter) -> tuple[int, tuple[str, ...]]:
        """Copy every uploaded file the ledger names; a lost file is listed (and the backup goes on: one lost
        photo must not stop every later backup of everything else)."""
        if self.uploads is None:
            return 0, ()
        kept, missing = 0, []
        for sha256 in snapshot.document_hashes(conn):
            path = self.uploads.path_of(sha256)
            if not path.is_file():
                missing.append(sha256)
                continue
            writer.write_file(sha256, path.read_bytes())
            kept += 1
        return kept, tuple(missing)

    def restore(self, path: Path) -> BackupReport:
        """Load a backup into this database, which must be empty; all of it or (on any error) none."""
        reader = BackupReader(path)
        added = False
        try:
            upgrade(self.engine)
            town, added = self._serve_town_of(reader)
            # One transaction, partly administration (the API keys belong to the database) and partly the town's.
            with working_on(town), admin_transaction(self.engine) as conn:
                revision = snapshot.schema_revision(conn)
                if reader.meta.get("revision") != revision:
                    raise InvalidInputError(f"{path} was taken at schema {reader.meta.get('revision')}; this "
                                            f"database is at {revision}: restore with the matching version")
                tables = snapshot.snapshot_tables()
                shared = [t for t in tables if t.name in GLOBAL_TABLES]
                # In a database that has keys already (other towns), they stay and the backup's are not loaded
                # (gis-service users add makes keys for the restored town).
                users_kept = any(snapshot.count(conn, t) for t in shared)
                rows = {}
                with as_town_role(conn):
                    town_tables = [t for t in tables if t.name not in GLOBAL_TABLES]
                    occupied = [t.name for t in town_tables if snapshot.count(conn, t)]
                    if occupied:
                        raise ConflictError(f"restore needs an empty database (of town {town}); "
                                            f"{', '.join(occupied)} hold data")
                    for table in town_tables:
                        rows[table.name] = _load(conn, reader, table)
                        snapshot.restart_ids(conn, table)
                    files = self._bring_back_files(reader)
                    missing = self._missing_files(conn)
                for table in [] if users_kept else shared:
                    rows[table.name] = _load(conn, reader, table)
                    snapshot.restart_ids(conn, table)
                rows = {t.name: rows[t.name] for t in tables if t.name in rows}
        except BaseException:
            if added:  # a town added for a restore that failed goes again: nothing half-done stays
                TownService(self.engine).drop(town)
            raise
        finally:
            reader.close()
        return BackupReport(path, revision, rows, files, missing, town, users_kept)

    def _serve_town_of(self, reader: BackupReader) -> tuple[str, bool]:
        """The backup's town, and whether it was added now (to a PostGIS database that did not serve it)."""
        default, _ = engine_town(self.engine)
        town = reader.meta.get("town_code") or default  # backups from before towns: the configured town
        towns = TownService(self.engine)
        served = towns.codes()
        if town in served:
            return town, False
        if self.engine.dialect.name != "postgresql":
            raise ConflictError(f"the backup is of town {town}; this SpatiaLite file holds town "
                                f"{', '.join(sorted(served))}: restore into a new file with GIS_TOWN_CODE={town}, "
                                "or into PostGIS")
        with self.engine.connect() as conn:
            revision = snapshot.schema_revision(conn)
        if reader.meta.get("revision") != revision:  # checked before a town is added for it
            raise InvalidInputError(f"the backup was taken at schema {reader.meta.get('revision')}; this "
                                    f"database is at {revision}: restore with the matching version")
        towns.add(town, reader.meta.get("town_name") or town)
        return town, True

    def _missing_files(self, conn: Connection) -> tuple[str, ...]:
        """Documents the restored ledger names whose file is not in the upload folder (e.g. a backup taken
        without its files, or with files already lost then)."""
        if self.uploads is None:
            return ()
        uploads = self.uploads
        return tuple(h for h in snapshot.document_hashes(conn) if not uploads.path_of(h).is_file())

    def _bring_back_files(self, reader: BackupReader) -> int:
        """Write the backup's files into the upload folder (each checked against its SHA-256), inside the
        restore's transaction: if it fails, the database is rolled back (files already there stay, harmless:
        content-addressed and named by nothing)."""
        if self.uploads is None:
            return 0
        count = 0
        for sha256, content in reader.files():
            if hashlib.sha256(content).hexdigest() != sha256:
                raise InvalidInputError(f"the backup's file {sha256} is damaged (its content has another hash)")
            target = self.uploads.path_of(sha256)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".restore")
                partial.write_bytes(content)
                partial.replace(target)
            count += 1
        return count


def _keys_of(town: str, table: Table, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """The API keys among ``rows`` that work in ``town`` alone: a town's backup must not carry keys to others."""
    at = [c.name for c in table.columns].index("towns")
    return [row for row in rows if row[at] == town]


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one moment of the database (REPEATABLE READ on PostgreSQL; a SQLite read
    transaction already does)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _load(conn: Connection, reader: BackupReader, table: Table) -> int:
    expected = [c.name for c in table.columns]
    stored = [c for c, _ in reader.columns.get(table.name, [])]
    if stored != expected:
        raise InvalidInputError(f"table {table.name} in the backup has columns {stored}, expected {expected}")
    total = 0
    for batch in reader.rows(table.name):
        snapshot.write_rows(conn, table, batch)
        total += len(batch)
    return total
