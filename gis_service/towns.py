"""Which town a piece of work is for: the town of the current request or command.

One PostGIS database can serve many towns (issue 9: a county or a province). Every town-owned table carries
``town_code`` (the 9-digit NBS township code) as its partition key, and PostgreSQL's row-level security shows a
transaction only the rows of the town it was opened for (``gis.town``, set by the engine at ``BEGIN``; see
:mod:`gis_service.db.engine`). This module holds that choice: a context variable that the API sets from the
``/towns/{code}`` prefix of a request, and that commands leave at the configured default town.

A context variable rather than an argument threaded through every service and repository: the town is a property
of the whole unit of work, like the caller's identity, and the database enforces it whatever a query forgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from gis_service.errors import InvalidInputError

TOWN_CODE = re.compile(r"^[0-9]{9}$")

# The role every town-scoped transaction runs as on PostgreSQL, as an SQL expression: one per database
# (``gis_town_<database>``), since roles belong to the whole cluster. It may read and write the town tables but is
# subject to their row-level security (a superuser or the tables' owner would bypass or could disable it).
TOWN_ROLE_SQL = "left('gis_town_' || current_database(), 63)"

# Tables that belong to the whole database, not to one town: API keys list their towns; the town list itself.
GLOBAL_TABLES = frozenset({"api_users", "towns", "alembic_version", "spatial_ref_sys"})

# Town tables without row-level security: the per-layer data versions are random counters that the response
# cache of every town reads in one query; they hold no data.
UNSECURED_TOWN_TABLES = frozenset({"layer_versions"})

_current: ContextVar[str | None] = ContextVar("gis_town", default=None)


def check_town_code(code: str) -> str:
    """``code`` if it is a 9-digit NBS township code (e.g. ``510923100``); 400 problem otherwise."""
    if not TOWN_CODE.match(code or ""):
        raise InvalidInputError(f"'{code}' is not a town code: 9 digits, e.g. 510923100 (镇代码为9位数字)")
    return code


def current_town(default: str | None = None) -> str | None:
    """The town of the work in progress, or ``default`` (the service's configured town) when none was chosen."""
    return _current.get() or default


@contextmanager
def working_on(town: str) -> Iterator[str]:
    """Run the block for ``town``: every transaction opened inside it sees and writes only that town."""
    token = _current.set(check_town_code(town))
    try:
        yield town
    finally:
        _current.reset(token)


def set_town(town: str | None) -> None:
    """Choose the town for the rest of this context (the API does this per request, in its own context)."""
    _current.set(town)
