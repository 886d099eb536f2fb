"""GeoJSON features in and out of the edit path: a request body as a :class:`SourceTable` (so edits pass the
same validation as imports), and a stored feature as a JSON snapshot for the history."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely
from pyproj import CRS

from gis_service.crs import north_first, storage_crs, transform_geometries
from gis_service.errors import InvalidInputError, RowProblem
from gis_service.fileio.readers import SourceTable
from gis_service.layers.registry import LayerSpec

BODY = "request body"
_SCALARS = (str, int, float, bool, type(None))


def source_from_feature(layer: LayerSpec, feature: Any, crs: CRS, file: str = BODY) -> SourceTable:
    """A one-row :class:`SourceTable` from a GeoJSON Feature whose coordinates are in ``crs`` (in that CRS's
    axis order, as OGC API Features Part 2 has clients send them).

    Raises
    ------
    InvalidInputError
        When the body is not a GeoJSON Feature at all; problems with single properties or the geometry are
        left in ``problems`` for the validation to report together.
    """
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInputError('the body must be a GeoJSON Feature: {"type": "Feature", "geometry": ..., '
                                '"properties": {...}}')
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise InvalidInputError("'properties' must be a JSON object")
    problems: list[RowProblem] = []
    extras = {g.name: _geometry(properties.get(g.name), crs, g.alias(), file, problems)
              for g in layer.extra_geometries}
    known = {f.name for f in layer.fields} | set(extras)
    for name in properties:
        if name not in known:
            problems.append(RowProblem(file, None, name, f"'{name}' is not a field of {layer.name}; "
                                       f"fields: {', '.join(sorted(known))}"))
    values: dict[str, list[Any]] = {}
    for spec in layer.fields:
        if spec.name not in properties:
            continue
        value = properties[spec.name]
        if not isinstance(value, _SCALARS) or isinstance(value, bool):
            problems.append(RowProblem(file, None, spec.info.zh, f"must be a single {spec.kind} value, "
                                       f"not {type(value).__name__}"))
            value = None
        values[spec.name] = [value]
    geometry = _geometry(feature.get("geometry"), crs, "geometry", file, problems)
    return SourceTable(
        file=file, attributes=pd.DataFrame(values, index=[0]) if values else pd.DataFrame(index=[0]),
        geometries=np.array([geometry], dtype=object), crs=crs, row_numbers=np.array([1]),
        extra_geometries={name: np.array([geom], dtype=object) for name, geom in extras.items()},
        problems=problems,
    )


def _geometry(value: Any, crs: CRS, label: str, file: str, problems: list[RowProblem]) -> Any:
    """A shapely geometry in x/y (east, north) order from a GeoJSON geometry object, or None."""
    if value is None:
        return None
    try:
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        geometry = shapely.from_geojson(orjson.dumps(value))
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        problems.append(RowProblem(file, None, label, f"not a GeoJSON geometry: {exc}"))
        return None
    if north_first(crs):
        geometry = shapely.transform(geometry, lambda xy: xy[:, ::-1])
    return geometry


def to_storage_geojson(value: Any, crs: CRS) -> Any:
    """A GeoJSON geometry in ``crs`` (and its axis order) as GeoJSON in storage lon/lat; anything that is not a
    geometry is returned unchanged for the validation to report."""
    problems: list[RowProblem] = []
    geometry = _geometry(value, crs, "geometry", BODY, problems)
    if geometry is None or problems:
        return value
    return _geojson(transform_geometries(np.array([geometry], dtype=object), crs, storage_crs())[0])


def feature_snapshot(feature_id: int, properties: dict[str, Any], geometry: Any,
                     extra_geometries: dict[str, Any]) -> dict[str, Any]:
    """A stored feature as a GeoJSON Feature (lon/lat, EPSG:4490), JSON-safe, for the history."""
    props = {k: v.isoformat() if isinstance(v, date) else v for k, v in properties.items()}
    props.update({name: _geojson(geom) for name, geom in extra_geometries.items()})
    return {"type": "Feature", "id": feature_id, "geometry": _geojson(geometry), "properties": props}


def _geojson(geometry: Any) -> Any:
    return None if geometry is None else orjson.loads(shapely.to_geojson(geometry))
