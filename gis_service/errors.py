"""Domain errors. Each carries a status and a message safe to show a user; no HTTP framework here."""

from __future__ import annotations

from dataclasses import dataclass, field


class GisServiceError(Exception):
    """Base class: ``status`` follows HTTP semantics so the API can map errors in one place."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(GisServiceError):
    status = 404
    title = "Not found"


class InvalidInputError(GisServiceError):
    status = 400
    title = "Invalid input"


class UnknownCRSError(InvalidInputError):
    title = "Unknown coordinate reference system"


class DatabaseUnavailableError(GisServiceError):
    status = 503
    title = "Database unavailable"


@dataclass(frozen=True)
class RowProblem:
    """One problem found in an input file: where (file, row, field) and what."""

    file: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}"


@dataclass
class ImportRejectedError(GisServiceError):
    """An import failed validation; nothing was written. ``problems`` lists each file/row/field."""

    problems: list[RowProblem] = field(default_factory=list)
    status = 422
    title = "Import rejected"

    def __post_init__(self) -> None:
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        if more > 0:
            shown += f"\n  ... and {more} more"
        detail = f"{len(self.problems)} problem(s); nothing was imported:\n{shown}"
        GisServiceError.__init__(self, detail)
