"""The fields of a revitalisation plan as clients send them: parsed, with every problem named by its field.

Coded fields take the code or either label (``充实办公用房``, ``office and staff housing``, ``office_use``);
dates take ISO 8601 (``2021-06-30``). Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from gis_service.errors import LedgerInputRejectedError, RowProblem
from gis_service.layers.codelists import CODELISTS, code_lookup

MAX_TEXT = 200
CODED = {"mode": "revitalisation_mode", "target_use": "target_use", "status": "plan_status"}
TEXT = ("lead_unit", "responsible_person")
OPTIONAL_TEXT = ("note", "evidence_note")
DATES = ("planned_on", "deadline", "struck_off_on")
REQUIRED = ("asset_code", "mode", "target_use", "lead_unit", "responsible_person", "deadline")
# What a client may send when creating a plan, and what when changing one (the asset stays the plan's).
CREATE_FIELDS = frozenset({*REQUIRED, "planned_on", "status", "note"})
UPDATE_FIELDS = frozenset({"mode", "target_use", "lead_unit", "responsible_person", "planned_on", "deadline",
                           "status", "note", "struck_off_on", "evidence_note"})


def parse_fields(raw: Any, allowed: frozenset[str], required: tuple[str, ...] = (), source: str = "plan",
                 ) -> dict[str, Any]:
    """Parse a plan's fields; raise one 422 listing every bad, unknown or missing field.

    Parameters
    ----------
    raw
        A JSON object (or CLI options) mapping field names to values; ``None`` values of optional fields clear them.
    allowed
        The field names accepted here (:data:`CREATE_FIELDS` or :data:`UPDATE_FIELDS`).
    required
        Fields that must be present and not empty.
    source
        Where the fields came from, shown in each problem (``plan``, ``--deadline``…).

    Returns
    -------
    dict
        Field name to stored value: codes, stripped text, :class:`datetime.date`.
    """
    if not isinstance(raw, Mapping):
        raise LedgerInputRejectedError(problems=[RowProblem(source, None, None, "send the plan as a JSON object")])
    problems = [RowProblem(source, None, name, f"unknown field (accepted: {', '.join(sorted(allowed))})")
                for name in raw if name not in allowed]
    problems += [RowProblem(source, None, name, "required") for name in required if raw.get(name) in (None, "")]
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in allowed or (name in required and value in (None, "")):
            continue
        try:
            values[name] = _parser(name)(value)
        except ValueError as exc:
            problems.append(RowProblem(source, None, name, str(exc)))
    if problems:
        raise LedgerInputRejectedError(problems=problems)
    return values


def parse_code(codelist: str, value: Any) -> str:
    """The code of ``value`` (a code or either label) in ``codelist``; ValueError naming the accepted codes."""
    code = code_lookup(codelist).get(str(value).strip().casefold()) if isinstance(value, str) else None
    if code is None:
        accepted = ", ".join(f"{c} ({zh})" for c, (zh, _en) in CODELISTS[codelist].items())
        raise ValueError(f"{value!r} is not one of: {accepted}")
    return code


def parse_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _parser(name: str) -> Callable[[Any], Any]:
    if name in CODED:
        return lambda value: parse_code(CODED[name], value)
    if name in DATES:
        return parse_date
    if name in OPTIONAL_TEXT:
        return _optional_text
    return _text


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be non-empty text")
    if len(value.strip()) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters")
    return value.strip()


def _optional_text(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value.strip()
