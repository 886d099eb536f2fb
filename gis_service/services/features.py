"""Reading features for the API: pages of a layer and single features, with geometries as shapely objects."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import shapely
from sqlalchemy import Engine, Row

from gis_service.db.dialects import geometries_from_wkb
from gis_service.errors import InvalidInputError, NotFoundError
from gis_service.layers.codelists import code_lookup
from gis_service.layers.registry import LayerSpec
from gis_service.layers.validation import convert_value
from gis_service.repositories.features import FeatureQuery, FeatureRepository
from gis_service.repositories.versions import every_town_layer_versions


@dataclass
class Features:
    """Features of one layer: ids, attribute dicts, audit times and geometries (EPSG:4490)."""

    layer: LayerSpec
    ids: list[int]
    properties: list[dict[str, Any]]
    updated: list[datetime]
    geometries: np.ndarray
    extra_geometries: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class FeaturePage:
    features: Features
    number_matched: int
    query: FeatureQuery


class FeatureService:
    """Read access to layers as features."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(self, layer: LayerSpec, query: FeatureQuery) -> FeaturePage:
        """One page of matching features and the total number that match."""
        with self.engine.connect() as conn:
            repo = FeatureRepository(conn, layer)
            rows = repo.page(query)
            matched = repo.count(query) if (query.offset or len(rows) >= query.limit) else query.offset + len(rows)
        return FeaturePage(features_from_rows(layer, rows), matched, query)

    def versions(self, towns: frozenset[str]) -> dict[tuple[str, str], int]:
        """Every layer's data version in ``towns``, by ``(town, layer)``."""
        with self.engine.connect() as conn:
            return every_town_layer_versions(conn, towns)

    def get(self, layer: LayerSpec, feature_id: int) -> Features:
        """One feature, or :class:`NotFoundError`."""
        with self.engine.connect() as conn:
            row = FeatureRepository(conn, layer).get(feature_id)
        if row is None:
            raise NotFoundError(f"{layer.name} has no feature {feature_id}")
        return features_from_rows(layer, [row])


def feature_etag(features: Features, index: int) -> str:
    """A strong ETag of one feature's content (attributes and geometries as stored).

    It does not depend on the CRS or links of a response, so a client may send back the tag of any
    representation it read in ``If-Match``; equal content gives an equal tag.
    """
    digest = hashlib.sha256(orjson.dumps(features.properties[index], option=orjson.OPT_SORT_KEYS))
    for geoms in (features.geometries, *features.extra_geometries.values()):
        geometry = geoms[index]
        digest.update(b"|" + (b"" if geometry is None else shapely.to_wkb(geometry)))
    return '"' + digest.hexdigest()[:32] + '"'


def parse_equals(layer: LayerSpec, raw: dict[str, str]) -> dict[str, Any]:
    """Equality filters from query parameters: values converted to the field's type; code-list fields
    accept a code or either label."""
    equals: dict[str, Any] = {}
    for name, text in raw.items():
        spec = layer.field(name)
        try:
            value = convert_value(spec.kind, text)
        except (TypeError, ValueError):
            raise InvalidInputError(f"'{text}' is not a valid value for {name} ({spec.kind})") from None
        if spec.info.codelist:
            value = code_lookup(spec.info.codelist).get(str(value).casefold(), value)
        equals[name] = value
    return equals


def features_from_rows(layer: LayerSpec, rows: Sequence[Row[Any]]) -> Features:
    """Features from repository rows (id, attributes, created_at, updated_at, WKB per geometry column)."""
    names = [f.name for f in layer.fields]
    records = [row._mapping for row in rows]
    geoms = {name: geometries_from_wkb([r[name] for r in records]) for name in layer.geometry_columns}
    return Features(
        layer=layer,
        ids=[int(r["id"]) for r in records],
        properties=[{name: r[name] for name in names} for r in records],
        updated=[r["updated_at"] for r in records],
        geometries=geoms[layer.geometry_column],
        extra_geometries={g.name: geoms[g.name] for g in layer.extra_geometries},
    )

