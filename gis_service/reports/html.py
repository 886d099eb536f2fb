"""Jinja templates of the reports' HTML fragments (title block, panels, legends, popups, index page).

Autoescaping is on: names and addresses come from an editable database, and a name such as
``<img src=x onerror=...>`` must show as text, not run in the page of whoever opens the report.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("gis_service.reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable fails the build instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> Markup:
    """``templates/<template>`` rendered with ``context`` (escaped unless a value is already ``Markup``)."""
    return Markup(environment().get_template(template).render(**context))
