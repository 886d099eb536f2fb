"""Serve the API definition as OpenAPI 3.0.

OGC API - Features (conformance class oas30) and QGIS expect OpenAPI 3.0, while FastAPI writes 3.1.
The differences FastAPI's output touches are few (null in ``anyOf``/``type`` lists, ``examples``,
numeric ``exclusiveMinimum``/``exclusiveMaximum``), so a small rewrite is enough; no maintained library
does this conversion for FastAPI's output.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gis_service.layers.codelists import CODELISTS
from gis_service.layers.registry import LayerSpec, list_layers


def to_openapi_30(node: Any) -> Any:
    """Rewrite a JSON-Schema-2020 flavoured (OpenAPI 3.1) fragment into OpenAPI 3.0 form."""
    if isinstance(node, list):
        return [to_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_openapi_30(value) for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            out.pop(key)
            if len(rest) == 1:
                out.update(rest[0])
            else:
                out[key] = rest
            out["nullable"] = True
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        if len(types) < len(out["type"]):
            out["nullable"] = True
        out["type"] = types[0] if len(types) == 1 else types
    if out.get("const") is not None and "enum" not in out:
        out["enum"] = [out.pop("const")]
    if "examples" in out and isinstance(out["examples"], list) and "example" not in out:
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out.get(bound), bool):
            out[inclusive] = out.pop(bound)
            out[bound] = True
    return out


_SCHEMA_TYPES = {"text": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
                 "date": {"type": "string", "format": "date"}}


def _add_collection_paths(schema: dict[str, Any]) -> None:
    """Declare ``/collections/<layer>/items`` for every layer with one equality filter parameter per field.

    OGC API Features (/rec/core/fc-filters) wants filter parameters in the API definition; GDAL's OAPIF
    driver reads them there and then sends ``-where field = value`` to the server instead of filtering
    on the client.
    """
    methods = schema["paths"].get("/collections/{collection_id}/items", {})
    generic = methods.get("get")
    if generic is None:
        return
    for layer in list_layers():
        others = {method: _for_layer(operation, layer) for method, operation in methods.items() if method != "get"}
        operation = copy.deepcopy(generic)
        operation["operationId"] = f"get_{layer.name}_items"
        operation["summary"] = f"Features of {layer.name} ({layer.zh})"
        parameters = [p for p in operation.get("parameters", []) if p.get("name") != "collection_id"]
        for spec in layer.fields:
            field_schema: dict[str, Any] = dict(_SCHEMA_TYPES[spec.kind])
            if spec.info.codelist:
                field_schema["enum"] = list(CODELISTS[spec.info.codelist])
            parameters.append({"name": spec.name, "in": "query", "required": False, "style": "form",
                               "explode": False, "description": f"{spec.info.zh} / {spec.info.en} equals",
                               "schema": field_schema})
        operation["parameters"] = parameters
        schema["paths"][f"/collections/{layer.name}/items"] = {"get": operation, **others}


def _for_layer(generic: dict[str, Any], layer: LayerSpec) -> dict[str, Any]:
    """A copy of a generic collection operation for one layer: no collection_id; a GeoJSON body describes
    the layer's fields (schema-driven clients and fuzzers then send plausible features)."""
    operation = copy.deepcopy(generic)
    operation["operationId"] = f"{operation.get('operationId', 'op')}_{layer.name}"
    operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "collection_id"]
    body = operation.get("requestBody", {}).get("content", {})
    for media in body.values():
        media["schema"] = _feature_schema(layer)
    return operation


def _feature_schema(layer: LayerSpec) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in layer.fields:
        field_schema: dict[str, Any] = {**_SCHEMA_TYPES[spec.kind], "nullable": not spec.info.required}
        if spec.info.codelist:
            field_schema["enum"] = list(CODELISTS[spec.info.codelist])
        fields[spec.name] = field_schema
    return {"type": "object", "required": ["type", "geometry", "properties"],
            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                           "geometry": {"type": "object", "nullable": True},
                           "properties": {"type": "object", "properties": fields}}}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (served at ``/api``) return OpenAPI 3.0.3."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            schema = to_openapi_30(schema)
            schema["openapi"] = "3.0.3"
            _add_collection_paths(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
