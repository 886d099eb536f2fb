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


class AuthenticationRequiredError(GisServiceError):
    """No key, or a key that is unknown or revoked (HTTP 401)."""

    status = 401
    title = "Authentication required"


class PermissionDeniedError(GisServiceError):
    """A known user whose role or villages do not allow the request (HTTP 403)."""

    status = 403
    title = "Forbidden"


class TooManyAttemptsError(GisServiceError):
    status = 429
    title = "Too many failed attempts"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ConflictError(GisServiceError):
    """The request cannot be applied to the current state (e.g. restoring a feature whose id is taken)."""

    status = 409
    title = "Conflict"


class PayloadTooLargeError(InvalidInputError):
    status = 413
    title = "Content too large"


class UnsupportedMediaTypeError(InvalidInputError):
    status = 415
    title = "Unsupported media type"


class PreconditionFailedError(GisServiceError):
    """``If-Match`` names a version of the feature that is no longer current (a stale edit)."""

    status = 412
    title = "Precondition failed"


class PreconditionRequiredError(GisServiceError):
    """This server requires ``If-Match`` on edits (setting ``require_if_match``)."""

    status = 428
    title = "Precondition required"


class LedgerRuleError(GisServiceError):
    """A ledger rule of the notice forbids the change (e.g. striking off a plan without evidence)."""

    status = 422
    title = "Ledger rule not met"


class StorageFullError(GisServiceError):
    """The upload folder would pass its quota; nothing was written."""

    status = 507
    title = "Insufficient storage"


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
        detail = f"{len(self.problems)} problem(s); {self.nothing_done}:\n{shown}"
        GisServiceError.__init__(self, detail)

    nothing_done = "nothing was imported"


@dataclass
class FeatureRejectedError(ImportRejectedError):
    """A feature sent to the API failed the same validation as an import; nothing was changed."""

    title = "Invalid feature"
    nothing_done = "nothing was changed"


@dataclass
class LedgerInputRejectedError(ImportRejectedError):
    """Fields of a ledger entry (a plan, a document) sent to the API or CLI are invalid; ``problems`` names
    each field; nothing was changed."""

    title = "Invalid ledger entry"
    nothing_done = "nothing was changed"


class DamagedFileError(GisServiceError):
    """An uploaded file is of an accepted type but broken (cut off, damaged); nothing was stored."""

    status = 422
    title = "Damaged file"


@dataclass(frozen=True)
class CellProblem(RowProblem):
    """A problem in one spreadsheet cell: the sheet row and the Excel column (letter and header), with the
    message in the clerk's language (``zh``: "行 7, 列 H(建筑面积): …", ``en``: "row 7, column H (…): …")."""

    column: str | None = None
    header: str | None = None
    language: str = "zh"

    def __str__(self) -> str:
        zh = self.language == "zh"
        where = []
        if self.row is not None:
            where.append(f"行 {self.row}" if zh else f"row {self.row}")
        if self.column:
            header = f"({self.header})" if zh else f" ({self.header})"
            where.append((f"列 {self.column}" if zh else f"column {self.column}") + (header if self.header else ""))
        return f"{self.file}: {', '.join(where)}: {self.message}" if where else f"{self.file}: {self.message}"
