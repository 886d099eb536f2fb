"""Editing features through the API: create, replace, update, delete and restore, each in one transaction
that checks the caller's rights, the ``If-Match`` version, the same validation as an import, and records the
change with who, when, before and after."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Engine

from gis_service.access import Principal, require_edit
from gis_service.crs import CRS84_URI, analysis_crs, output_geometries, parse_crs, storage_crs, transform_geometries
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
from gis_service.fileio.features import feature_snapshot, source_from_feature
from gis_service.layers.registry import LayerSpec, get_layer
from gis_service.layers.validation import ValidLayer, validate
from gis_service.repositories.features import FeatureWriter
from gis_service.repositories.history import HistoryRepository
from gis_service.repositories.layers import first_free_id
from gis_service.services.features import Features, feature_etag, features_from_rows

# How far outside their villages' boundary an editor's feature may reach (digitising slack), in metres.
SCOPE_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class EditResult:
    feature_id: int
    version: int
    etag: str | None  # None after a delete


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
    """Writes to layers on behalf of a :class:`Principal`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ writes

    def create(self, layer: LayerSpec, feature: Any, crs: CRS, principal: Principal) -> EditResult:
        """Add a feature; the database chooses its id."""
        require_edit(principal, layer.name)
        with write_transaction(self.engine) as conn:
            writer = FeatureWriter(conn, layer)
            valid = _validate(layer, feature, crs, lambda codes: writer.codes_taken(codes))
            _check_scope(conn, principal, layer, _new_geometries(valid))
            explicit = first_free_id(conn, layer.table) if writer.dialect.reuses_deleted_ids else None
            feature_id = writer.insert_one(*_row(valid), feature_id=explicit)
            return self._record(conn, writer, feature_id, "create", principal, None)

    def replace(self, layer: LayerSpec, feature_id: int, feature: Any, crs: CRS, principal: Principal,
                if_match: str | None) -> EditResult:
        """Replace every attribute and the geometry of a feature (PUT)."""
        require_edit(principal, layer.name)
        _check_body_id(feature, feature_id)
        with write_transaction(self.engine) as conn:
            writer = FeatureWriter(conn, layer)
            current = _current(writer, feature_id, if_match)
            valid = _validate(layer, feature, crs, lambda codes: writer.codes_taken(codes, feature_id))
            _check_scope(conn, principal, layer, [*_stored_geometries(current), *_new_geometries(valid)])
            writer.update_one(feature_id, *_row(valid))
            return self._record(conn, writer, feature_id, "replace", principal, current)

    def update(self, layer: LayerSpec, feature_id: int, patch: Any, crs: CRS, principal: Principal,
               if_match: str | None) -> EditResult:
        """Change some attributes and/or the geometry (PATCH, JSON merge patch: ``null`` clears a field)."""
        require_edit(principal, layer.name)
        if not isinstance(patch, dict):
            raise InvalidInputError("the body must be a JSON object with 'properties' and/or 'geometry'")
        _check_body_id(patch, feature_id)
        with write_transaction(self.engine) as conn:
            writer = FeatureWriter(conn, layer)
            current = _current(writer, feature_id, if_match)
            merged = _merge(current, patch, crs)
            valid = _validate(layer, merged, crs, lambda codes: writer.codes_taken(codes, feature_id))
            _check_scope(conn, principal, layer, [*_stored_geometries(current), *_new_geometries(valid)])
            writer.update_one(feature_id, *_row(valid))
            return self._record(conn, writer, feature_id, "update", principal, current)

    def delete(self, layer: LayerSpec, feature_id: int, principal: Principal, if_match: str | None) -> EditResult:
        require_edit(principal, layer.name)
        with write_transaction(self.engine) as conn:
            writer = FeatureWriter(conn, layer)
            current = _current(writer, feature_id, if_match)
            _check_scope(conn, principal, layer, _stored_geometries(current))
            writer.delete_one(feature_id)
            version = HistoryRepository(conn, layer.name).add(
                feature_id, "delete", principal.name, datetime.now(UTC), _snapshot(current), None)
            return EditResult(feature_id, version, None)

    def restore(self, layer: LayerSpec, feature_id: int, version: int, principal: Principal) -> EditResult:
        """Bring a feature back to its state after ``version`` (0: before its first recorded change); a
        deleted feature comes back with its old id."""
        require_edit(principal, layer.name)
        with write_transaction(self.engine) as conn:
            history = HistoryRepository(conn, layer.name)
            target = _state(history, feature_id, version)
            writer = FeatureWriter(conn, layer)
            row = writer.get_for_update(feature_id)
            current = features_from_rows(layer, [row]) if row is not None else None
            # Snapshots are lon/lat in EPSG:4490; CRS84 is lon/lat too and PROJ maps it onto 4490 unchanged.
            valid = _validate(layer, target, parse_crs(CRS84_URI), lambda codes: writer.codes_taken(codes, feature_id))
            before = [] if current is None else _stored_geometries(current)
            _check_scope(conn, principal, layer, [*before, *_new_geometries(valid)])
            if current is None:
                writer.insert_one(*_row(valid), feature_id=feature_id)
            else:
                writer.update_one(feature_id, *_row(valid))
            return self._record(conn, writer, feature_id, "restore", principal, current)

    def _record(self, conn: Connection, writer: FeatureWriter, feature_id: int, action: str,
                principal: Principal, before: Features | None) -> EditResult:
        row = writer.get(feature_id)
        assert row is not None
        after = features_from_rows(writer.layer, [row])
        version = HistoryRepository(conn, writer.layer.name).add(
            feature_id, action, principal.name, datetime.now(UTC),
            None if before is None else _snapshot(before), _snapshot(after))
        return EditResult(feature_id, version, feature_etag(after, 0))

    # ------------------------------------------------------------------ reads

    def history(self, layer: LayerSpec, feature_id: int) -> list[VersionInfo]:
        """Every recorded change of a feature, oldest first; 404 if it never existed."""
        with self.engine.connect() as conn:
            rows = HistoryRepository(conn, layer.name).versions(feature_id)
            exists = FeatureWriter(conn, layer).get(feature_id) is not None
        if not rows and not exists:
            raise NotFoundError(f"{layer.name} has no feature {feature_id} and no history of one")
        return [_version_info(r) for r in rows]

    def changes(self, layer: LayerSpec, action: str | None, limit: int, offset: int
                ) -> tuple[list[VersionInfo], int]:
        """The layer's recorded changes, newest first, and their total."""
        with self.engine.connect() as conn:
            rows, total = HistoryRepository(conn, layer.name).changes(action, limit, offset)
        return [_version_info(r) for r in rows], total


# ---------------------------------------------------------------------- helpers


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


def _new_geometries(valid: ValidLayer) -> list[Any]:
    """Every geometry of a validated feature (the primary one and e.g. an asset's footprint)."""
    return [geoms[0] for geoms in valid.geometries.values()]


def _stored_geometries(features: Features) -> list[Any]:
    return [features.geometries[0], *(geoms[0] for geoms in features.extra_geometries.values())]


def _current(writer: FeatureWriter, feature_id: int, if_match: str | None) -> Features:
    """The stored feature, locked; 404 if missing, 412 if ``If-Match`` names another version."""
    row = writer.get_for_update(feature_id)
    if row is None:
        raise NotFoundError(f"{writer.layer.name} has no feature {feature_id}")
    current = features_from_rows(writer.layer, [row])
    if if_match is not None and not etag_matches(if_match, feature_etag(current, 0)):
        raise PreconditionFailedError(
            f"{writer.layer.name} {feature_id} has changed since you read it (If-Match {if_match} is not "
            "the current ETag); read it again, reapply your change, and send the new ETag")
    return current


def etag_matches(if_match: str, etag: str) -> bool:
    """RFC 9110 strong comparison of an ``If-Match`` header (a list of tags, or ``*``) with ``etag``."""
    tags = [t.strip() for t in if_match.split(",")]
    return "*" in tags or etag in tags


def _check_body_id(feature: Any, feature_id: int) -> None:
    if isinstance(feature, dict) and feature.get("id") not in (None, feature_id, str(feature_id)):
        raise InvalidInputError(f"the body's id {feature.get('id')!r} differs from the feature {feature_id} "
                                "in the URL")


def _merge(current: Features, patch: dict[str, Any], crs: CRS) -> dict[str, Any]:
    """The current feature with a JSON merge patch applied, as a GeoJSON Feature in ``crs``."""
    properties = patch.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidInputError("'properties' must be a JSON object")
    snapshot = _snapshot_in(current, crs)
    merged = {**snapshot["properties"], **properties}
    geometry = patch["geometry"] if "geometry" in patch else snapshot["geometry"]
    return {"type": "Feature", "geometry": geometry, "properties": merged}


def _snapshot(features: Features) -> dict[str, Any]:
    return feature_snapshot(features.ids[0], features.properties[0], features.geometries[0],
                            {name: geoms[0] for name, geoms in features.extra_geometries.items()})


def _snapshot_in(features: Features, crs: CRS) -> dict[str, Any]:
    """The stored feature as GeoJSON in ``crs`` and its axis order, the way a client sends it back."""
    geometry = output_geometries(features.geometries, crs)[0]
    extras = {name: output_geometries(geoms, crs)[0] for name, geoms in features.extra_geometries.items()}
    return feature_snapshot(features.ids[0], features.properties[0], geometry, extras)


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


def _check_scope(conn: Connection, principal: Principal, layer: LayerSpec, geometries: list[Any]) -> None:
    """An editor limited to villages may only touch features lying inside them (before and after)."""
    if not principal.villages:
        return
    villages = get_layer("villages")
    rows = FeatureWriter(conn, villages).geometries_by_code(principal.villages)
    area = shapely.union_all(transform_geometries(np.array(rows, dtype=object), storage_crs(), analysis_crs()))
    area = shapely.buffer(area, SCOPE_TOLERANCE_M)
    present = np.array([g for g in geometries if g is not None], dtype=object)
    projected = transform_geometries(present, storage_crs(), analysis_crs())
    if not all(shapely.covers(area, projected)):
        raise PermissionDeniedError(
            f"user '{principal.name}' edits only features inside villages {', '.join(principal.villages)}; "
            f"this {layer.name} feature lies (partly) outside them")


def _version_info(row: Any) -> VersionInfo:
    changed_at = row.changed_at
    if changed_at.tzinfo is None:  # SQLite keeps no zone; the service writes UTC
        changed_at = changed_at.replace(tzinfo=UTC)
    return VersionInfo(row.layer, row.feature_id, row.version, row.action, row.actor, changed_at,
                       row.before, row.after)
