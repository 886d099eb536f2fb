"""GeoJSON bytes for features, written once per response with orjson (FastAPI's encoder is ~10x slower)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import CRS

from gis_service.crs import output_geometries
from gis_service.services.features import Features


def feature_chunks(features: Features, crs: CRS) -> list[bytes]:
    """Each feature as GeoJSON bytes; extra geometries (an asset footprint) become GeoJSON objects in
    the properties."""
    geometry_json = _geometry_json(output_geometries(features.geometries, crs))
    extras = {name: _geometry_json(output_geometries(geoms, crs)) for name, geoms in features.extra_geometries.items()}
    chunks = []
    for i, (fid, props) in enumerate(zip(features.ids, features.properties, strict=True)):
        properties = orjson.dumps(props)
        if extras:
            extra = b"".join(b',"%s":%s' % (name.encode(), values[i]) for name, values in extras.items())
            properties = properties[:-1] + extra + b"}"
        chunks.append(b'{"type":"Feature","id":%d,"geometry":%s,"properties":%s}'
                      % (fid, geometry_json[i], properties))
    return chunks


def feature_collection(chunks: list[bytes], members: dict[str, Any]) -> bytes:
    """A FeatureCollection from feature chunks plus top-level members (links, counts, timeStamp)."""
    head = orjson.dumps({"type": "FeatureCollection", **members})[:-1]
    return head + b',"features":[' + b",".join(chunks) + b"]}"


def single_feature(chunk: bytes, links: list[dict[str, Any]]) -> bytes:
    return chunk[:-1] + b',"links":' + orjson.dumps(links) + b"}"


def etag(body: bytes) -> str:
    """A strong ETag: the hash of the representation sent."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _geometry_json(geoms: np.ndarray) -> list[bytes]:
    texts = shapely.to_geojson(geoms)
    return [b"null" if t is None else t.encode() for t in texts]
