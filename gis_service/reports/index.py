"""The index page of ``maps/``: every report built, with its title, description, build time and data version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from gis_service.reports.html import render
from gis_service.reports.i18n import format_size, format_time, t, town_title

if TYPE_CHECKING:
    from gis_service.reports.build import BuiltReport, ReportSpec


def render_index(entries: Sequence[tuple[ReportSpec, BuiltReport]], language: str, built_at: datetime,
                 town: str | None = None) -> str:
    """A small static page linking the reports by relative URL (works from a folder and from ``/maps/``)."""
    reports = [
        {"name": spec.name, "file": entry.file, "title": spec.title(language),
         "description": spec.description(language),
         "built_at": format_time(datetime.fromisoformat(entry.built_at), language),
         "data_version": entry.data_version, "size": format_size(entry.size)}
        for spec, entry in entries
    ]
    return str(render(
        "index.html", lang="zh-CN" if language == "zh" else "en",
        title=town_title(t("index_title", language), language, town), intro=t("index_intro", language),
        built_label=t("built_at", language), built_at=format_time(built_at, language),
        version_label=t("data_version", language), file_label=t("report_file", language), reports=reports,
    ))
