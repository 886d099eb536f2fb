"""Progress of the ledger work and the notice's milestones (configurable in the database)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine

from gis_service.access import Principal, require_edit
from gis_service.db.engine import write_transaction
from gis_service.errors import NotFoundError, PermissionDeniedError
from gis_service.layers.codelists import label
from gis_service.ledger.progress import Completion, LedgerFrames, Progress, progress
from gis_service.ledger.rules import MILESTONES, MilestoneRule, default_milestones
from gis_service.repositories.ledger_books import LedgerBooksRepository


@dataclass(frozen=True)
class MilestoneInfo:
    """A milestone's due date and where it comes from (``default``: the notice's date in the configured year)."""

    key: str
    zh: str
    en: str
    due: date
    source: str  # default | set

    def label(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


class LedgerProgressService:
    """The progress summary leaders supervise, and the milestones it is measured against."""

    def __init__(self, engine: Engine, milestone_year: int) -> None:
        self.engine = engine
        self.milestone_year = milestone_year

    def progress(self, as_of: date | None = None) -> Progress:
        """Counts, areas and values by status, village, lead unit and mode; overdue plans; milestones with
        per-village completion, all ``as_of`` a date (default today)."""
        with self.engine.connect() as conn, conn.begin():
            repo = LedgerBooksRepository(conn)
            frames = LedgerFrames(assets=repo.assets(with_geometry=False), villages=repo.village_names(),
                                  former_villages=repo.former_village_links(), plans=repo.plans(),
                                  transfers=repo.transfers(), claims=repo.claims())
            stored = repo.milestones()
        dues = {m.key: m.due for m in self._milestones(stored)}
        return progress(frames, dues, as_of or date.today())

    def milestones(self) -> list[MilestoneInfo]:
        """The four milestones: the date set in the database, else the notice's date in the configured year."""
        with self.engine.connect() as conn:
            stored = LedgerBooksRepository(conn).milestones()
        return self._milestones(stored)

    def set_milestone(self, key: str, due: date, principal: Principal) -> MilestoneInfo:
        """Set a milestone's due date (town-wide: editors without a village limit, or admins)."""
        require_edit(principal, "ledger_milestones")
        if principal.villages:
            raise PermissionDeniedError(f"user '{principal.name}' edits only villages "
                                        f"{', '.join(principal.villages)}; milestones are set for the whole town")
        rule = _rule(key)
        with write_transaction(self.engine) as conn:
            LedgerBooksRepository(conn).set_milestone(rule.key, due)
        return MilestoneInfo(rule.key, rule.zh, rule.en, due, "set")

    def _milestones(self, stored: dict[str, date]) -> list[MilestoneInfo]:
        defaults = default_milestones(self.milestone_year)
        return [MilestoneInfo(rule.key, rule.zh, rule.en, stored.get(rule.key, defaults[rule.key]),
                              "set" if rule.key in stored else "default") for rule in MILESTONES]


def _rule(key: str) -> MilestoneRule:
    for rule in MILESTONES:
        if key in (rule.key, rule.zh):
            return rule
    raise NotFoundError(f"no milestone '{key}'; use one of {', '.join(r.key for r in MILESTONES)}")


def progress_json(report: Progress, language: str) -> dict[str, Any]:
    """The progress summary as JSON-ready data, codes with labels in ``language``."""
    def labelled(items: Any, codelist: str) -> list[dict[str, Any]]:
        return [{**asdict(i), "label": label(codelist, i.key, language) if i.key else ""} for i in items]

    return {
        "asOf": report.as_of, "byUseStatus": labelled(report.by_use_status, "use_status"),
        "byPlanStatus": labelled(report.by_plan_status, "plan_status"), "byVillage": report.by_village,
        "byLeadUnit": report.by_lead_unit, "byMode": labelled(report.by_mode, "revitalisation_mode"),
        "overdue": report.overdue,
        "milestones": [{"key": m.key, "due": m.due, "town": _completion(m.town),
                        "villages": [_completion(c) for c in m.villages]} for m in report.milestones],
    }


def _completion(item: Completion) -> dict[str, Any]:
    return {**asdict(item), "met": item.met}
