"""Planning scenarios: facilities added, moved or removed on paper, never in the base layers until promoted.

Planners (and editors and admins) create scenarios and record changes; each change is validated like a feature
edit (code lists, required fields, geometry in the CRS given) and a scenario holds at most one net change per
feature (moving an added facility moves the addition; removing it drops it). A change made against a base
feature keeps that feature's id and ETag, so promotion (editors and admins only) can refuse with 409 when the
base changed under the scenario; otherwise it applies every change through the edit path, with history, in
one transaction. Evaluation is in :mod:`gis_service.services.scenario_evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from gis_service.access import Principal, Role
from gis_service.db.engine import write_transaction
from gis_service.errors import (
    AuthenticationRequiredError,
    ConflictError,
    FeatureRejectedError,
    ImportRejectedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
)
from gis_service.fileio.features import source_from_feature
from gis_service.layers.registry import LayerSpec, get_layer
from gis_service.layers.validation import validate
from gis_service.repositories.features import FeatureQuery, FeatureRepository
from gis_service.repositories.layers import LayerRepository
from gis_service.repositories.scenarios import ScenarioRepository
from gis_service.services.edits import LayerEdits
from gis_service.services.features import Features, feature_etag, features_from_rows

SCENARIO_LAYERS = ("service_points", "schools", "facilities")
ACTIONS = ("add", "move", "remove")
PLANNING_ROLES = (Role.PLANNER, Role.EDITOR, Role.ADMIN)
PROMOTING_ROLES = (Role.EDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Change:
    """One change of a scenario; ``stale`` says the base changed under it (only in a scenario's details)."""

    id: int
    layer: str
    action: str
    feature_code: str
    base_feature_id: int | None
    base_etag: str | None
    properties: dict[str, Any] | None
    geometry: dict[str, Any] | None
    created_by: str
    created_at: datetime
    stale: bool | None = None


@dataclass(frozen=True)
class ScenarioInfo:
    """A scenario; ``changes`` is filled when it is read alone (lists carry only ``change_count``)."""

    id: int
    name: str
    description: str | None
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    promoted_by: str | None
    promoted_at: datetime | None
    change_count: int
    changes: tuple[Change, ...] | None = None


@dataclass(frozen=True)
class Promotion:
    """What a promotion wrote: per change, the layer, feature id and history version."""

    scenario: ScenarioInfo
    edits: tuple[dict[str, Any], ...]


def require_planning(principal: Principal) -> None:
    """401 for anonymous callers, 403 for viewers: scenarios are for planners, editors and admins."""
    if principal.is_anonymous:
        raise AuthenticationRequiredError("scenarios need an API key of a planner, editor or admin "
                                          "(header 'Authorization: Bearer <key>' or 'X-API-Key: <key>')")
    if principal.role not in PLANNING_ROLES:
        raise PermissionDeniedError(f"user '{principal.name}' is a {principal.role}; scenarios need the planner, "
                                    "editor or admin role")


def require_promotion(principal: Principal) -> None:
    """Only editors and admins change the base layers; planners propose."""
    require_planning(principal)
    if principal.role not in PROMOTING_ROLES:
        raise PermissionDeniedError(f"user '{principal.name}' is a {principal.role}; promoting a scenario into the "
                                    "base layers needs the editor or admin role")


class ScenarioService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ scenarios

    def create(self, name: str, description: str | None, principal: Principal) -> ScenarioInfo:
        require_planning(principal)
        name = _check_name(name)
        with write_transaction(self.engine) as conn:
            repo = ScenarioRepository(conn)
            if repo.by_name(name) is not None:
                raise ConflictError(_name_taken(name))
            text = _check_text((description or "").strip(), "the description", multiline=True)
            try:
                scenario_id = repo.add(name, text or None, principal.name)
            except IntegrityError:  # created by another request between our check and insert
                raise ConflictError(_name_taken(name)) from None
            return _info(find_scenario(repo, str(scenario_id)), 0)

    def page(self, limit: int = 100, offset: int = 0) -> tuple[list[ScenarioInfo], int]:
        """Scenarios, newest first, and how many there are."""
        with self.engine.connect() as conn:
            rows, total = ScenarioRepository(conn).all(limit, offset)
        return [_info(row, int(row.changes)) for row in rows], total

    def get(self, ref: str) -> ScenarioInfo:
        """A scenario (by id or name) with its changes, each marked stale when the base changed under it."""
        with self.engine.connect() as conn:
            repo = ScenarioRepository(conn)
            row = find_scenario(repo, ref)
            changes = tuple(_with_staleness(conn, change_from_row(c)) for c in repo.changes(row.id))
        return replace(_info(row, len(changes)), changes=changes)

    def delete(self, ref: str, principal: Principal) -> None:
        """Delete a draft scenario; a promoted one stays as the record of what was promoted."""
        require_planning(principal)
        with write_transaction(self.engine) as conn:
            repo = ScenarioRepository(conn)
            row = _draft(repo, ref)
            repo.delete(row.id)

    # ------------------------------------------------------------------ changes

    def add(self, ref: str, layer_name: str, feature: Any, crs: CRS, principal: Principal) -> Change:
        """Add a facility: ``feature`` is a GeoJSON Feature in ``crs``; its code must be new."""
        require_planning(principal)
        layer = _scenario_layer(layer_name)
        with write_transaction(self.engine) as conn:
            repo = ScenarioRepository(conn)
            scenario = _draft(repo, ref)
            properties, geometry = _validated(layer, feature, crs, lambda codes: _codes_in_base(conn, layer, codes))
            if repo.change_for(scenario.id, layer.name, properties["code"]) is not None:
                raise ConflictError(f"{layer.name} '{properties['code']}' is changed in this scenario already; move "
                                    "it, or drop that change first")
            values = {"layer": layer.name, "action": "add", "feature_code": properties["code"],
                      "properties": properties, "geometry": geometry, "created_by": principal.name}
            return self._record(repo, scenario.id, values)

    def move(self, ref: str, layer_name: str, code: str, geometry: Any, crs: CRS, principal: Principal) -> Change:
        """Move a facility (of the base or added in this scenario) to ``geometry`` (GeoJSON in ``crs``)."""
        require_planning(principal)
        layer = _scenario_layer(layer_name)
        code = _check_text(code, "a facility code")
        with write_transaction(self.engine) as conn:
            repo = ScenarioRepository(conn)
            scenario = _draft(repo, ref)
            earlier = repo.change_for(scenario.id, layer.name, code)
            if earlier is not None and earlier.action == "remove":
                raise ConflictError(f"{layer.name} '{code}' is removed in this scenario; drop that change first")
            if earlier is not None and earlier.action == "add":
                _, stored = _validated(layer, _feature(earlier.properties, geometry), crs, None)
                repo.update_change(earlier.id, {"geometry": stored})
                repo.touch(scenario.id)
                return change_from_row(_one_change(repo, scenario.id, earlier.id))
            base = _base_feature(conn, layer, code)
            _, stored = _validated(layer, _feature(_plain(base.properties[0]), geometry), crs, None)
            values = {"layer": layer.name, "action": "move", "feature_code": code, "geometry": stored,
                      "created_by": principal.name, **_base_reference(base, earlier)}
            return self._record(repo, scenario.id, values, replacing=earlier)

    def remove(self, ref: str, layer_name: str, code: str, principal: Principal) -> Change | None:
        """Remove a facility of the base (or drop one added in this scenario: then None is returned)."""
        require_planning(principal)
        layer = _scenario_layer(layer_name)
        code = _check_text(code, "a facility code")
        with write_transaction(self.engine) as conn:
            repo = ScenarioRepository(conn)
            scenario = _draft(repo, ref)
            earlier = repo.change_for(scenario.id, layer.name, code)
            if earlier is not None and earlier.action == "add":
                repo.delete_change(earlier.id)
                repo.touch(scenario.id)
                return None
            if earlier is not None and earlier.action == "remove":
                return change_from_row(earlier)
            base = _base_feature(conn, layer, code)
            values = {"layer": layer.name, "action": "remove", "feature_code": code, "created_by": principal.name,
                      **_base_reference(base, earlier)}
            return self._record(repo, scenario.id, values, replacing=earlier)

    def drop_change(self, ref: str, change_id: int, principal: Principal) -> None:
        """Undo one change of a draft scenario."""
        require_planning(principal)
        with write_transaction(self.engine) as conn:
            repo = ScenarioRepository(conn)
            scenario = _draft(repo, ref)
            _one_change(repo, scenario.id, change_id)
            repo.delete_change(change_id)
            repo.touch(scenario.id)

    @staticmethod
    def _record(repo: ScenarioRepository, scenario_id: int, values: dict[str, Any],
                replacing: Row[Any] | None = None) -> Change:
        if replacing is not None:
            repo.delete_change(replacing.id)
        try:
            change_id = repo.add_change(scenario_id, values)
        except IntegrityError:  # the scenario row is locked first, so only a writer around the service gets here
            raise ConflictError(f"{values['layer']} '{values['feature_code']}' was changed in this scenario "
                                "meanwhile; read the scenario again") from None
        repo.touch(scenario_id)
        return change_from_row(_one_change(repo, scenario_id, change_id))

    # ------------------------------------------------------------------ promotion

    def promote(self, ref: str, principal: Principal) -> Promotion:
        """Apply every change to the base layers through the edit path (history records each), in one
        transaction; 409 (nothing written) when the base changed under the scenario."""
        require_promotion(principal)
        with write_transaction(self.engine) as conn:
            repo = ScenarioRepository(conn)
            scenario = _draft(repo, ref)
            edits = LayerEdits(conn, principal)
            written = tuple(_promote_change(edits, change_from_row(c), scenario.name)
                            for c in repo.changes(scenario.id))
            repo.mark_promoted(scenario.id, principal.name)
            row = find_scenario(repo, str(scenario.id))
            return Promotion(_info(row, len(written)), written)


# ---------------------------------------------------------------------- helpers


def _check_text(value: str, what: str, *, multiline: bool = False) -> str:
    """Text without control characters (PostgreSQL refuses NUL; none belongs in a name or code)."""
    allowed = "\n\t" if multiline else ""
    if any(ord(ch) < 32 and ch not in allowed for ch in value):
        raise InvalidInputError(f"{what} must not contain control characters")
    return value


def _is_id(text: str) -> bool:
    """Whether ``text`` is a scenario id: ASCII digits only ("²".isdigit() holds, but int("²") fails)."""
    return text.isascii() and text.isdecimal()


def _name_taken(name: str) -> str:
    return f"a scenario named '{name}' exists already; choose another name"


def _check_name(name: str) -> str:
    name = _check_text((name or "").strip(), "a scenario name")
    if not name:
        raise InvalidInputError("a scenario needs a name")
    if _is_id(name):
        raise InvalidInputError("a scenario name must not be only digits (those are scenario ids)")
    if len(name) > 200:
        raise InvalidInputError("a scenario name has at most 200 characters")
    return name


def find_scenario(repo: ScenarioRepository, ref: str, *, for_update: bool = False) -> Row[Any]:
    """The scenario named by id (ASCII digits) or name; 404 when there is none. With ``for_update`` its row is
    locked until the transaction ends (every write path locks it, so writes to one scenario take turns)."""
    text = _check_text(str(ref).strip(), "a scenario id or name")
    if not _is_id(text):
        row = repo.by_name(text, for_update=for_update)
    elif int(text) > 2**31 - 1:
        raise NotFoundError(f"no scenario '{text}'")
    else:
        row = repo.by_id(int(text), for_update=for_update)
    if row is None:
        raise NotFoundError(f"no scenario '{text}'")
    return row


def _draft(repo: ScenarioRepository, ref: str) -> Row[Any]:
    """The draft scenario about to be written, its row locked: a change waits for a promotion in progress (and
    is then refused), and two changes of one scenario never check and write at the same time."""
    row = find_scenario(repo, ref, for_update=True)
    if row.status != "draft":
        raise ConflictError(f"scenario '{row.name}' was promoted by {row.promoted_by}; its changes are in the "
                            "base layers now and it can no longer change")
    return row


def _scenario_layer(name: str) -> LayerSpec:
    if name not in SCENARIO_LAYERS:
        raise InvalidInputError(f"scenarios change facilities only: layer must be one of {', '.join(SCENARIO_LAYERS)}"
                                f", not '{name}'")
    return get_layer(name)


def _one_change(repo: ScenarioRepository, scenario_id: int, change_id: int) -> Row[Any]:
    for row in repo.changes(scenario_id):
        if row.id == change_id:
            return row
    raise NotFoundError(f"scenario {scenario_id} has no change {change_id}")


def _validated(layer: LayerSpec, feature: Any, crs: CRS, codes_taken: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The feature validated as an edit would be: its properties (codes, not labels) and its geometry as
    GeoJSON in EPSG:4490 lon/lat."""
    source = source_from_feature(layer, feature, crs)
    try:
        valid = validate(source, layer, codes_taken=codes_taken)
    except ImportRejectedError as exc:
        raise FeatureRejectedError(problems=[replace(p, row=None) for p in exc.problems]) from None
    properties = dict(zip(valid.columns, valid.rows[0], strict=True))
    geometry = valid.geometries[layer.geometry_column][0]
    return _plain(properties), orjson.loads(shapely.to_geojson(geometry))


def _plain(properties: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe attributes (dates as ISO text, numpy numbers as Python ones)."""
    return orjson.loads(orjson.dumps(properties, option=orjson.OPT_SERIALIZE_NUMPY,
                                     default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


def _feature(properties: dict[str, Any] | None, geometry: Any) -> dict[str, Any]:
    if not isinstance(geometry, dict):
        raise InvalidInputError("a move needs 'geometry': a GeoJSON Point")
    return {"type": "Feature", "geometry": geometry, "properties": dict(properties or {})}


def _codes_in_base(conn: Connection, layer: LayerSpec, codes: Any) -> set[str]:
    return LayerRepository(conn, layer).existing_codes(codes)


def _base_feature(conn: Connection, layer: LayerSpec, code: str) -> Features:
    rows = FeatureRepository(conn, layer).page(FeatureQuery(equals={"code": code}, limit=1))
    if not rows:
        raise NotFoundError(f"{layer.name} has no feature with code '{code}'")
    return features_from_rows(layer, rows)


def _base_reference(base: Features, earlier: Row[Any] | None) -> dict[str, Any]:
    """The base feature a move or remove is made against: the first change's reference is kept, so a stale
    base is not hidden by changing the change."""
    if earlier is not None and earlier.base_feature_id is not None:
        return {"base_feature_id": earlier.base_feature_id, "base_etag": earlier.base_etag}
    return {"base_feature_id": base.ids[0], "base_etag": feature_etag(base, 0)}


def _with_staleness(conn: Connection, change: Change) -> Change:
    layer = get_layer(change.layer)
    if change.action == "add":
        stale = bool(_codes_in_base(conn, layer, [change.feature_code]))
    else:
        row = FeatureRepository(conn, layer).get(change.base_feature_id or 0)
        stale = row is None or feature_etag(features_from_rows(layer, [row]), 0) != change.base_etag
    return replace(change, stale=stale)


def _promote_change(edits: LayerEdits, change: Change, scenario: str) -> dict[str, Any]:
    layer = get_layer(change.layer)
    where = f"scenario '{scenario}' {change.action}s {change.layer} '{change.feature_code}'"
    try:
        if change.action == "add":
            if _codes_in_base(edits.conn, layer, [change.feature_code]):
                raise ConflictError(f"{where}, but the base layer has that code now; the base changed under the "
                                    "scenario: change the code or drop the change")
            result = edits.create(layer, _feature(change.properties, change.geometry))
        elif change.action == "move":
            result = edits.update(layer, change.base_feature_id or 0, {"geometry": change.geometry},
                                  [change.base_etag or ""])
        else:
            result = edits.delete(layer, change.base_feature_id or 0, [change.base_etag or ""])
    except (NotFoundError, PreconditionFailedError):
        raise ConflictError(f"{where}, but that feature was deleted or edited since the change was made; the base "
                            "changed under the scenario: record the change again or drop it") from None
    return {"change": change.id, "layer": change.layer, "action": change.action, "code": change.feature_code,
            "feature_id": result.feature_id, "version": result.version}


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite keeps no zone; the service writes UTC
        return value.replace(tzinfo=UTC)
    return value


def _info(row: Row[Any], change_count: int) -> ScenarioInfo:
    created, updated = _utc(row.created_at), _utc(row.updated_at)
    assert created is not None and updated is not None  # NOT NULL columns
    return ScenarioInfo(row.id, row.name, row.description, row.status, row.created_by, created, updated,
                        row.promoted_by, _utc(row.promoted_at), change_count)


def change_from_row(row: Row[Any]) -> Change:
    created = _utc(row.created_at)
    assert created is not None
    return Change(row.id, row.layer, row.action, row.feature_code, row.base_feature_id, row.base_etag,
                  row.properties, row.geometry, row.created_by, created)
