"""Editing features through the API: create, replace, update, delete and restore, each in one transaction
that checks the caller's rights, the ``If-Match`` version, the same validation as an import, and records the
change with who, when, before and after."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, overload

import numpy as np
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Engine

from gis_service.access import Principal, require_edit
from gis_service.crs import CRS84_URI, analysis_crs, parse_crs, storage_crs, transform_geometries
from gis_service.db.engine import write_transaction
from gis_service.errors import (
    ConflictError,
    FeatureRejectedError,
    ImportRejectedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
)
from gis_service.fileio.features import feature_snapshot, source_from_feature, to_storage_geojson
from gis_service.layers.registry import LayerSpec, get_layer
from gis_service.layers.validation import ValidLayer, validate
from gis_service.repositories.features import FeatureRepository, FeatureWriter, first_free_id
from gis_service.repositories.history import HistoryRepository
from gis_service.services.features import Features, feature_etag, features_from_rows

# How far outside their villages' boundary an editor's feature may reach (digitising slack), in metres.
SCOPE_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class EditResult:
    """What an edit left: the feature as stored (``None`` after a delete), its ETag and history version."""

    feature_id: int
    version: int
    feature: Features | None
    etag: str | None


@dataclass(frozen=True)
class VersionInfo:
    """One recorded change of a feature."""

    layer: str
    feature_id: int
    version: int
    action: str
    actor: str
    changed_at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class EditService:
    """Writes to layers on behalf of a :class:`Principal`, one transaction per edit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ writes

    def create(self, layer: LayerSpec, feature: Any, crs: CRS, principal: Principal) -> EditResult:
        """Add a feature; ids are never reused."""
        require_edit(principal, layer.name)
        with _editing(self.engine, layer) as writer:
            valid = _validate(layer, feature, crs, lambda codes: writer.codes_taken(codes))
            _check_scope(writer.conn, principal, layer, None, valid)
            explicit = first_free_id(writer.conn, layer.table) if writer.dialect.reuses_deleted_ids else None
            feature_id = writer.insert_one(*_row(valid), feature_id=explicit)
            return _record(writer, feature_id, "create", principal, None)

    def replace(self, layer: LayerSpec, feature_id: int, feature: Any, crs: CRS, principal: Principal,
                if_match: Sequence[str] | None) -> EditResult:
        """Replace every attribute and the geometry of a feature (PUT)."""
        require_edit(principal, layer.name)
        _check_body_id(feature, feature_id)
        with _editing(self.engine, layer) as writer:
            current = _current(writer, feature_id, if_match)
            valid = _validate(layer, feature, crs, lambda codes: writer.codes_taken(codes, feature_id))
            return _apply(writer, principal, "replace", current, valid)

    def update(self, layer: LayerSpec, feature_id: int, patch: Any, crs: CRS, principal: Principal,
               if_match: Sequence[str] | None) -> EditResult:
        """Change some attributes and/or geometries (PATCH, JSON merge patch: ``null`` clears a field)."""
        require_edit(principal, layer.name)
        if not isinstance(patch, dict):
            raise InvalidInputError("the body must be a JSON object with 'properties' and/or 'geometry'")
        _check_body_id(patch, feature_id)
        with _editing(self.engine, layer) as writer:
            current = _current(writer, feature_id, if_match)
            # Merged in storage coordinates, so a geometry the patch does not name is kept bit for bit.
            merged = _merge(current, patch, crs)
            valid = _validate(layer, merged, parse_crs(CRS84_URI), lambda codes: writer.codes_taken(codes, feature_id))
            return _apply(writer, principal, "update", current, valid)

    def delete(self, layer: LayerSpec, feature_id: int, principal: Principal,
               if_match: Sequence[str] | None) -> EditResult:
        require_edit(principal, layer.name)
        with _editing(self.engine, layer) as writer:
            current = _current(writer, feature_id, if_match)
            _check_scope(writer.conn, principal, layer, current, None)
            writer.delete_one(feature_id)
            version = HistoryRepository(writer.conn, layer.name).add(
                feature_id, "delete", principal.name, datetime.now(UTC), _snapshot(current), None)
            return EditResult(feature_id, version, None, None)

    def restore(self, layer: LayerSpec, feature_id: int, version: int, principal: Principal,
                if_match: Sequence[str] | None = None) -> EditResult:
        """Bring a feature back to its state after ``version`` (0: before its first recorded change); a
        deleted feature comes back with its old id."""
        require_edit(principal, layer.name)
        with _editing(self.engine, layer) as writer:
            target = _state(HistoryRepository(writer.conn, layer.name), feature_id, version)
            current = _current(writer, feature_id, if_match, missing_ok=True)
            # Snapshots are lon/lat in EPSG:4490; CRS84 is lon/lat too and PROJ maps it onto 4490 unchanged.
            valid = _validate(layer, target, parse_crs(CRS84_URI), lambda codes: writer.codes_taken(codes, feature_id))
            if current is not None:
                return _apply(writer, principal, "restore", current, valid)
            _check_scope(writer.conn, principal, layer, None, valid)
            writer.insert_one(*_row(valid), feature_id=feature_id)
            return _record(writer, feature_id, "restore", principal, None)

    # ------------------------------------------------------------------ reads

    def history(self, layer: LayerSpec, feature_id: int) -> list[VersionInfo]:
        """Every recorded change of a feature, oldest first; 404 if it never existed."""
        with self.engine.connect() as conn:
            rows = HistoryRepository(conn, layer.name).versions(feature_id)
            exists = FeatureRepository(conn, layer).get(feature_id) is not None
        if not rows and not exists:
            raise NotFoundError(f"{layer.name} has no feature {feature_id} and no history of one")
        return [_version_info(r) for r in rows]

    def changes(self, layer: LayerSpec, action: str | None, limit: int, offset: int
                ) -> tuple[list[VersionInfo], int]:
        """The layer's recorded changes, newest first, and their total."""
        with self.engine.connect() as conn:
            rows, total = HistoryRepository(conn, layer.name).changes(action, limit, offset)
        return [_version_info(r) for r in rows], total


class LayerEdits:
    """Several edits, on one or more layers, inside one write transaction the caller owns (a scenario's
    promotion): the same rights, validation, scope and version checks and history as :class:`EditService`.
    Bodies are GeoJSON in storage lon/lat (EPSG:4490)."""

    def __init__(self, conn: Connection, principal: Principal) -> None:
        self.conn = conn
        self.principal = principal
        self._writers: dict[str, FeatureWriter] = {}

    def writer(self, layer: LayerSpec) -> FeatureWriter:
        """The layer's writer; the first use checks the caller's right to edit it and locks it for the edit."""
        if layer.name not in self._writers:
            require_edit(self.principal, layer.name)
            writer = FeatureWriter(self.conn, layer)
            writer.dialect.lock_for_edit(self.conn, layer.name)
            self._writers[layer.name] = writer
        return self._writers[layer.name]

    def create(self, layer: LayerSpec, feature: Any) -> EditResult:
        writer = self.writer(layer)
        valid = _validate(layer, feature, parse_crs(CRS84_URI), lambda codes: writer.codes_taken(codes))
        _check_scope(self.conn, self.principal, layer, None, valid)
        explicit = first_free_id(self.conn, layer.table) if writer.dialect.reuses_deleted_ids else None
        feature_id = writer.insert_one(*_row(valid), feature_id=explicit)
        return _record(writer, feature_id, "create", self.principal, None)

    def update(self, layer: LayerSpec, feature_id: int, patch: dict[str, Any],
               if_match: Sequence[str] | None) -> EditResult:
        """A JSON merge patch of the feature (412 when ``if_match`` is not its current ETag)."""
        writer = self.writer(layer)
        current = _current(writer, feature_id, if_match)
        merged = _merge(current, patch, parse_crs(CRS84_URI))
        valid = _validate(layer, merged, parse_crs(CRS84_URI), lambda codes: writer.codes_taken(codes, feature_id))
        return _apply(writer, self.principal, "update", current, valid)

    def delete(self, layer: LayerSpec, feature_id: int, if_match: Sequence[str] | None) -> EditResult:
        writer = self.writer(layer)
        current = _current(writer, feature_id, if_match)
        _check_scope(self.conn, self.principal, layer, current, None)
        writer.delete_one(feature_id)
        version = HistoryRepository(self.conn, layer.name).add(
            feature_id, "delete", self.principal.name, datetime.now(UTC), _snapshot(current), None)
        return EditResult(feature_id, version, None, None)


# ---------------------------------------------------------------------- helpers


@contextmanager
def _editing(engine: Engine, layer: LayerSpec) -> Iterator[FeatureWriter]:
    """A write transaction on ``layer`` that no other edit of the layer runs alongside."""
    with write_transaction(engine) as conn:
        writer = FeatureWriter(conn, layer)
        writer.dialect.lock_for_edit(conn, layer.name)
        yield writer


def _apply(writer: FeatureWriter, principal: Principal, action: str, current: Features,
           valid: ValidLayer) -> EditResult:
    """Write ``valid`` over ``current`` and record it; an edit that changes nothing writes nothing."""
    _check_scope(writer.conn, principal, writer.layer, current, valid)
    feature_id = current.ids[0]
    values, geometries = _row(valid)
    if _unchanged(current, values, geometries):
        version = HistoryRepository(writer.conn, writer.layer.name).latest_version(feature_id)
        return EditResult(feature_id, version, current, feature_etag(current, 0))
    writer.update_one(feature_id, values, geometries)
    return _record(writer, feature_id, action, principal, current)


def _record(writer: FeatureWriter, feature_id: int, action: str, principal: Principal,
            before: Features | None) -> EditResult:
    row = writer.get(feature_id)
    if row is None:  # cannot happen inside the transaction that wrote it
        raise NotFoundError(f"{writer.layer.name} {feature_id} vanished while being written")
    after = features_from_rows(writer.layer, [row])
    version = HistoryRepository(writer.conn, writer.layer.name).add(
        feature_id, action, principal.name, datetime.now(UTC),
        None if before is None else _snapshot(before), _snapshot(after))
    return EditResult(feature_id, version, after, feature_etag(after, 0))


def _unchanged(current: Features, values: dict[str, Any], geometries: dict[str, bytes | None]) -> bool:
    stored = {current.layer.geometry_column: current.geometries[0],
              **{name: geoms[0] for name, geoms in current.extra_geometries.items()}}
    same_geometry = all(
        (wkb is None and stored[name] is None)
        or (wkb is not None and stored[name] is not None and shapely.equals_exact(
            shapely.from_wkb(wkb), stored[name], tolerance=0))
        for name, wkb in geometries.items())
    return same_geometry and all(current.properties[0].get(k) == v for k, v in values.items())



def _validate(layer: LayerSpec, feature: Any, crs: CRS, codes_taken: Any) -> ValidLayer:
    source = source_from_feature(layer, feature, crs)
    try:
        return validate(source, layer, codes_taken=codes_taken)
    except ImportRejectedError as exc:
        raise FeatureRejectedError(problems=[replace(p, row=None) for p in exc.problems]) from None


def _row(valid: ValidLayer) -> tuple[dict[str, Any], dict[str, bytes | None]]:
    values = dict(zip(valid.columns, valid.rows[0], strict=True))
    geometries = {name: None if geoms[0] is None else shapely.to_wkb(geoms[0])
                  for name, geoms in valid.geometries.items()}
    return values, geometries


def _stored_geometries(features: Features) -> list[Any]:
    return [features.geometries[0], *(geoms[0] for geoms in features.extra_geometries.values())]


@overload
def _current(writer: FeatureWriter, feature_id: int, if_match: Sequence[str] | None) -> Features: ...
@overload
def _current(writer: FeatureWriter, feature_id: int, if_match: Sequence[str] | None, *,
             missing_ok: bool) -> Features | None: ...
def _current(writer: FeatureWriter, feature_id: int, if_match: Sequence[str] | None, *,
             missing_ok: bool = False) -> Features | None:
    """The stored feature, locked; 404 if missing (None with ``missing_ok``: a deleted one being restored),
    412 if ``If-Match`` names another version."""
    row = writer.get_for_update(feature_id)
    if row is None:
        if missing_ok:
            return None
        raise NotFoundError(f"{writer.layer.name} has no feature {feature_id}")
    current = features_from_rows(writer.layer, [row])
    if if_match is not None and "*" not in if_match and feature_etag(current, 0) not in if_match:
        raise PreconditionFailedError(
            f"{writer.layer.name} {feature_id} has changed since you read it (If-Match {', '.join(if_match)} is not "
            "the current ETag); read it again, reapply your change, and send the new ETag")
    return current


def _check_body_id(feature: Any, feature_id: int) -> None:
    if isinstance(feature, dict) and feature.get("id") not in (None, feature_id, str(feature_id)):
        raise InvalidInputError(f"the body's id {feature.get('id')!r} differs from the feature {feature_id} "
                                "in the URL")


def _merge(current: Features, patch: dict[str, Any], crs: CRS) -> dict[str, Any]:
    """The stored feature with a JSON merge patch applied, as GeoJSON in storage lon/lat: only the geometries
    the patch names are converted from ``crs``."""
    properties = patch.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidInputError("'properties' must be a JSON object")
    extras = {g.name for g in current.layer.extra_geometries}
    changes = {k: to_storage_geojson(v, crs) if k in extras else v for k, v in properties.items()}
    stored = _snapshot(current)
    geometry = to_storage_geojson(patch["geometry"], crs) if "geometry" in patch else stored["geometry"]
    return {"type": "Feature", "geometry": geometry, "properties": {**stored["properties"], **changes}}


def _snapshot(features: Features) -> dict[str, Any]:
    return feature_snapshot(features.ids[0], features.properties[0], features.geometries[0],
                            {name: geoms[0] for name, geoms in features.extra_geometries.items()})


def _state(history: HistoryRepository, feature_id: int, version: int) -> dict[str, Any]:
    """The feature as it was after ``version`` (0: before the first recorded change)."""
    entry = history.version(feature_id, max(version, 1))
    if entry is None:
        raise NotFoundError(f"{history.layer} {feature_id} has no version {version}")
    state = entry.before if version == 0 else entry.after
    if state is None:
        what = "did not exist yet" if version == 0 else "was deleted in that version"
        raise ConflictError(f"{history.layer} {feature_id} {what}; restore an earlier or later version")
    return dict(state)


def _check_scope(conn: Connection, principal: Principal, layer: LayerSpec, before: Features | None,
                 after: ValidLayer | None) -> None:
    """An editor limited to villages may only touch features lying inside them, before and after the edit,
    with every geometry (an asset's footprint too) and with a village code that is one of theirs."""
    if not principal.villages:
        return
    geometries = [*([] if before is None else _stored_geometries(before)),
                  *([] if after is None else [geoms[0] for geoms in after.geometries.values()])]
    codes = [*([] if before is None else [before.properties[0].get("village_code")]),
             *([] if after is None else [dict(zip(after.columns, after.rows[0], strict=True)).get("village_code")])]
    foreign = sorted({c for c in codes if c is not None and c not in principal.villages})
    if foreign:
        raise PermissionDeniedError(f"user '{principal.name}' edits only villages {', '.join(principal.villages)}; "
                                    f"this {layer.name} feature belongs to {', '.join(foreign)}")
    villages = FeatureRepository(conn, get_layer("villages")).geometries_by_code(principal.villages)
    area = shapely.union_all(transform_geometries(np.array(villages, dtype=object), storage_crs(), analysis_crs()))
    present = np.array([g for g in geometries if g is not None], dtype=object)
    projected = transform_geometries(present, storage_crs(), analysis_crs())
    if not all(shapely.covers(shapely.buffer(area, SCOPE_TOLERANCE_M), projected)):
        raise PermissionDeniedError(
            f"user '{principal.name}' edits only features inside villages {', '.join(principal.villages)}; "
            f"this {layer.name} feature lies (partly) outside them")


def _version_info(row: Any) -> VersionInfo:
    changed_at = row.changed_at
    if changed_at.tzinfo is None:  # SQLite keeps no zone; the service writes UTC
        changed_at = changed_at.replace(tzinfo=UTC)
    return VersionInfo(row.layer, row.feature_id, row.version, row.action, row.actor, changed_at,
                       row.before, row.after)
