"""CQL2 filters compiled to SQLAlchemy expressions with bound values, on both backends.

pygeofilter parses cql2-text and cql2-json into an AST; its own SQLAlchemy backend writes geometry
literals as EPSG:4326 EWKT through ``ST_GeomFromEWKT`` (absent in SpatiaLite, and a mixed-SRID error
against our EPSG:4490 columns), so the AST is compiled here: attributes are checked against the layer's
fields, literals are converted to each field's type and bound, geometries are reprojected to storage.
Supported: comparison, AND/OR/NOT, LIKE, BETWEEN, IN, IS NULL, CASEI, S_INTERSECTS/S_DISJOINT/S_CONTAINS/
S_WITHIN/S_TOUCHES/S_CROSSES/S_OVERLAPS/S_EQUALS and BBOX.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from pygeofilter import ast, values
from pyproj import CRS
from sqlalchemy import ColumnElement, Table, and_, func, not_, or_

from gis_service.crs import north_first, storage_crs, transform_geometries
from gis_service.db.base import STORAGE_SRID
from gis_service.db.dialects import SpatialDialect
from gis_service.errors import InvalidInputError
from gis_service.layers.codelists import code_lookup
from gis_service.layers.registry import LayerSpec
from gis_service.layers.validation import convert_value

GEOMETRY_NAMES = ("geom", "geometry")
_COMPARISONS = {"=": "__eq__", "<>": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
_SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects", ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains", ast.GeometryWithin: "ST_Within", ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses", ast.GeometryOverlaps: "ST_Overlaps", ast.GeometryEquals: "ST_Equals",
}


class FilterCompiler:
    """Compile one parsed CQL2 filter for one layer."""

    def __init__(self, layer: LayerSpec, table: Table, dialect: SpatialDialect, filter_crs: CRS) -> None:
        self.layer = layer
        self.table = table
        self.dialect = dialect
        self.filter_crs = filter_crs
        self.fields = {f.name: f for f in layer.fields}

    def compile(self, node: Any) -> ColumnElement[bool]:
        if isinstance(node, ast.And):
            return and_(self.compile(node.lhs), self.compile(node.rhs))
        if isinstance(node, ast.Or):
            return or_(self.compile(node.lhs), self.compile(node.rhs))
        if isinstance(node, ast.Not):
            return not_(self.compile(node.sub_node))
        if isinstance(node, ast.Comparison):
            return self._comparison(node)
        if isinstance(node, ast.Like):
            column, kind = self._operand(node.lhs)
            pattern = node.pattern
            if isinstance(pattern, ast.Function):
                pattern = self._literal(pattern.arguments[0], "text")
                column = func.lower(column)
                pattern = pattern.lower()
            condition = column.like(str(pattern), escape="\\") if node.nocase is False else func.lower(column).like(
                str(pattern).lower(), escape="\\")
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.Between):
            column, kind = self._operand(node.lhs)
            condition = column.between(self._literal(node.low, kind), self._literal(node.high, kind))
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.In):
            column, kind = self._operand(node.lhs)
            condition = column.in_([self._literal(v, kind, self._codelist(node.lhs)) for v in node.sub_nodes])
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.IsNull):
            column, _ = self._operand(node.lhs)
            return column.is_not(None) if node.not_ else column.is_(None)
        if type(node) in _SPATIAL:
            return self._spatial(_SPATIAL[type(node)], node.lhs, node.rhs)
        if isinstance(node, ast.BBox):
            box = shapely.box(node.minx, node.miny, node.maxx, node.maxy)
            return self._spatial("ST_Intersects", node.lhs, box)
        raise InvalidInputError(f"the filter uses {type(node).__name__}, which this service does not support")

    # ------------------------------------------------------------ pieces

    def _comparison(self, node: Any) -> ColumnElement[bool]:
        column, kind = self._operand(node.lhs)
        value = self._value(node.rhs, kind, self._codelist(node.lhs))
        return getattr(column, _COMPARISONS[node.op.value])(value)

    def _codelist(self, node: Any) -> str | None:
        if isinstance(node, ast.Attribute) and node.name in self.fields:
            return self.fields[node.name].info.codelist
        return None

    def _operand(self, node: Any) -> tuple[Any, str]:
        """A column (or CASEI of one) and its field kind."""
        if isinstance(node, ast.Attribute):
            if node.name not in self.fields:
                raise InvalidInputError(
                    f"filter: '{node.name}' is not a queryable of {self.layer.name}; "
                    f"see /collections/{self.layer.name}/queryables")
            return self.table.c[node.name], self.fields[node.name].kind
        if isinstance(node, ast.Function) and node.name == "lower" and len(node.arguments) == 1:
            column, kind = self._operand(node.arguments[0])
            return func.lower(column), kind
        raise InvalidInputError("filter: the left side of a comparison must be a property (or CASEI of one)")

    def _value(self, node: Any, kind: str, codelist: str | None = None) -> Any:
        if isinstance(node, ast.Function) and node.name == "lower" and len(node.arguments) == 1:
            return func.lower(self._value(node.arguments[0], kind, codelist))
        if isinstance(node, ast.Attribute):
            return self._operand(node)[0]
        return self._literal(node, kind, codelist)

    def _literal(self, node: Any, kind: str, codelist: str | None = None) -> Any:
        if isinstance(node, ast.Node | values.Geometry | values.Envelope):
            raise InvalidInputError("filter: expected a literal value here")
        try:
            value = convert_value(kind, node)
        except (TypeError, ValueError):
            raise InvalidInputError(f"filter: {node!r} is not a valid {kind} value") from None
        if codelist:
            value = code_lookup(codelist).get(str(value).casefold(), value)
        return value

    def _spatial(self, function: str, lhs: Any, rhs: Any) -> ColumnElement[bool]:
        if not (isinstance(lhs, ast.Attribute) and lhs.name in GEOMETRY_NAMES):
            raise InvalidInputError("filter: spatial operators compare the geometry property 'geom' with a geometry")
        if isinstance(rhs, values.Geometry):
            geometry = shapely.geometry.shape(rhs.geometry)
        elif isinstance(rhs, values.Envelope):
            geometry = shapely.box(rhs.x1, rhs.y1, rhs.x2, rhs.y2)
        elif isinstance(rhs, ast.Function) and rhs.name.lower() == "bbox" and len(rhs.arguments) in (4, 6):
            numbers = [float(a) for a in rhs.arguments]  # cql2-text BBOX(minx,miny,maxx,maxy) literal
            half = len(numbers) // 2
            geometry = shapely.box(numbers[0], numbers[1], numbers[half], numbers[half + 1])
        elif isinstance(rhs, shapely.Geometry):
            geometry = rhs
        else:
            raise InvalidInputError("filter: the second argument of a spatial operator must be a geometry")
        if north_first(self.filter_crs):  # filter-crs EPSG:4326/4490/4544 literals are in that axis order
            geometry = shapely.transform(geometry, lambda xy: xy[:, ::-1])
        stored = transform_geometries(np.array([geometry], dtype=object), self.filter_crs, storage_crs())[0]
        literal = self.dialect.geometry_literal(shapely.to_wkb(stored), STORAGE_SRID)
        return self.dialect.spatial_predicate(function, self.table.c[self.layer.geometry_column], literal)
