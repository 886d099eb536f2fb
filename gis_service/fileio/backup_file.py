"""The backup file: one plain SQLite database (readable with any ``sqlite3``) holding every table's rows.

Values are stored in forms every SQLite reads back exactly: geometries as WKB (EPSG:4490), dates and times
as ISO 8601 text, JSON as text. ``backup_meta`` says when, from which backend and schema revision the copy
was taken and how many rows each table had; ``backup_columns`` says how to read each column back;
``backup_files`` holds the uploaded documents (photos, evidence) by SHA-256, so a restore brings them back too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, Date, DateTime, Table

from gis_service.errors import InvalidInputError

FORMAT = "gis_service-backup/1"
GEOMETRY, JSON_TEXT, DATE, DATETIME, PLAIN = "geometry", "json", "date", "datetime", "plain"


def column_kind(column: Any, is_geometry: bool) -> str:
    if is_geometry:
        return GEOMETRY
    if isinstance(column.type, JSON):
        return JSON_TEXT
    if isinstance(column.type, DateTime):
        return DATETIME
    if isinstance(column.type, Date):
        return DATE
    return PLAIN


class BackupWriter:
    """Writes a new backup file; nothing is left at ``path`` unless :meth:`close` is reached."""

    def __init__(self, path: Path) -> None:
        if path.exists():
            raise InvalidInputError(f"{path} exists; a backup never overwrites a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        self._partial.unlink(missing_ok=True)
        self._db = sqlite3.connect(self._partial)
        self._db.execute("CREATE TABLE backup_meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("CREATE TABLE backup_columns (tbl TEXT, col TEXT, kind TEXT, position INTEGER)")
        self._db.execute("CREATE TABLE backup_files (sha256 TEXT PRIMARY KEY, content BLOB NOT NULL)")
        self._kinds: dict[str, list[str]] = {}

    def add_table(self, table: Table, kinds: Sequence[str]) -> None:
        names = [c.name for c in table.columns]
        self._kinds[table.name] = list(kinds)
        self._db.execute(f'CREATE TABLE "{table.name}" ({", ".join(f"{_quote(n)}" for n in names)})')
        self._db.executemany("INSERT INTO backup_columns VALUES (?, ?, ?, ?)",
                             [(table.name, n, k, i) for i, (n, k) in enumerate(zip(names, kinds, strict=True))])

    def write_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        kinds = self._kinds[table]
        marks = ", ".join("?" * len(kinds))
        self._db.executemany(f'INSERT INTO "{table}" VALUES ({marks})',
                             ([_encode(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows))

    def write_file(self, sha256: str, content: bytes) -> None:
        """Keep one uploaded file (its bytes under its SHA-256)."""
        self._db.execute("INSERT OR IGNORE INTO backup_files VALUES (?, ?)", (sha256, content))

    def close(self, meta: dict[str, str]) -> None:
        """Write ``meta``, commit, and move the finished file into place."""
        self._db.executemany("INSERT INTO backup_meta VALUES (?, ?)", [("format", FORMAT), *meta.items()])
        self._db.commit()
        self._db.close()
        self._partial.rename(self.path)

    def abort(self) -> None:
        self._db.close()
        self._partial.unlink(missing_ok=True)


class BackupReader:
    """Reads a backup file written by :class:`BackupWriter`."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such backup file")
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            self.meta = dict(self._db.execute("SELECT key, value FROM backup_meta").fetchall())
            columns = self._db.execute("SELECT tbl, col, kind FROM backup_columns ORDER BY tbl, position").fetchall()
        except sqlite3.DatabaseError as exc:
            raise InvalidInputError(f"{path} is not a gis_service backup ({exc})") from None
        if self.meta.get("format") != FORMAT:
            raise InvalidInputError(f"{path} is not a {FORMAT} file (format: {self.meta.get('format')})")
        self.columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in columns:
            self.columns.setdefault(table, []).append((column, kind))

    def rows(self, table: str, batch: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        kinds = [k for _, k in self.columns[table]]
        names = ", ".join(_quote(c) for c, _ in self.columns[table])
        cursor = self._db.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')
        while chunk := cursor.fetchmany(batch):
            yield [tuple(_decode(v, k) for v, k in zip(row, kinds, strict=True)) for row in chunk]

    def files(self) -> Iterator[tuple[str, bytes]]:
        """The uploaded files kept in the backup, (sha256, bytes) one at a time (none in older backups)."""
        has_files = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'backup_files'").fetchone()
        if has_files is None:
            return
        for sha256, content in self._db.execute("SELECT sha256, content FROM backup_files ORDER BY sha256"):
            yield str(sha256), bytes(content)

    def close(self) -> None:
        self._db.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _encode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == JSON_TEXT:
        return orjson.dumps(value).decode()
    if kind in (DATE, DATETIME):
        return value.isoformat()
    return value


def _decode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == JSON_TEXT:
        return orjson.loads(value)
    if kind == DATETIME:
        return datetime.fromisoformat(value)
    if kind == DATE:
        return date.fromisoformat(value)
    return value
