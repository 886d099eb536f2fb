"""Who may do what: roles, the principal behind a request, and the rules, as plain functions.

Roles (issue: viewer for leaders, editor for the natural resources office, planner for analyses and
scenarios, admin): reads need a key only when the settings say so; every write needs an editor or admin
key, and an editor limited to villages may only touch features that lie inside those villages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gis_service.errors import AuthenticationRequiredError, PermissionDeniedError


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    PLANNER = "planner"
    ADMIN = "admin"


# Layers that only an editor without a village limit (or an admin) may change: boundaries and planning
# belong to the town and county, not to one village's cadre.
TOWN_LAYERS = frozenset({"villages", "former_villages", "planning_zones"})


ALL_TOWNS = "*"


@dataclass(frozen=True)
class Principal:
    """The caller of a request: ``name`` is recorded in the history; ``villages`` limits an editor; ``towns``
    are the towns the key works on (``*``: every town of the database)."""

    name: str
    role: Role | None  # None: anonymous
    villages: tuple[str, ...] = ()
    towns: tuple[str, ...] = ()  # a key names its towns; the command line, run by whoever has the database, has "*"

    def serves(self, town: str) -> bool:
        """Whether this caller's key is for ``town``. Anonymous callers read any town the settings let them."""
        return self.is_anonymous or ALL_TOWNS in self.towns or town in self.towns

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    def can_edit(self, layer: str) -> bool:
        """Whether this caller may write to ``layer`` at all (villages are checked per feature)."""
        if self.role == Role.ADMIN:
            return True
        if self.role != Role.EDITOR:
            return False
        return not (self.villages and layer in TOWN_LAYERS)


ANONYMOUS = Principal("anonymous", None)


def require_edit(principal: Principal, layer: str) -> None:
    """Raise 401 for an anonymous caller and 403 for one whose role or village limit forbids editing ``layer``."""
    if principal.is_anonymous:
        raise AuthenticationRequiredError("editing needs an API key of an editor or admin "
                                          "(header 'Authorization: Bearer <key>' or 'X-API-Key: <key>')")
    if principal.can_edit(layer):
        return
    if principal.role == Role.EDITOR:
        raise PermissionDeniedError(f"user '{principal.name}' edits only villages {', '.join(principal.villages)}; "
                                    f"{layer} belongs to the whole town")
    raise PermissionDeniedError(f"user '{principal.name}' is a {principal.role}; editing {layer} "
                                "needs the editor or admin role")

