"""Declarative base, shared columns and the field metadata every layer column carries.

Each attribute column's ``info`` holds a :class:`FieldInfo` (Chinese and English alias, whether required,
which code list it takes, whether unique). The layer registry, file import/export and validation all read
it from here, so a field is described once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STORAGE_SRID = 4490


@dataclass(frozen=True)
class FieldInfo:
    """What users and files know about a column."""

    zh: str
    en: str
    required: bool = False
    codelist: str | None = None
    unique: bool = False
    digits: int | None = None  # exact length of a numeric code, e.g. 12 for village codes
    minimum: float | None = None


def meta(
    zh: str,
    en: str,
    *,
    required: bool = False,
    codelist: str | None = None,
    unique: bool = False,
    digits: int | None = None,
    minimum: float | None = None,
) -> dict[str, FieldInfo]:
    """``info=`` argument for a layer column."""
    return {
        "field": FieldInfo(
            zh, en, required=required, codelist=codelist, unique=unique, digits=digits, minimum=minimum
        )
    }


class Base(DeclarativeBase):
    pass


class LayerMixin:
    """Columns every layer has: integer id and audit timestamps (UTC)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.current_timestamp(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        server_default=func.current_timestamp(),
        onupdate=func.current_timestamp(),
        nullable=False,
    )
