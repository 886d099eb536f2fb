"""The layer registry, read from the ORM models so that each field is described once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from geoalchemy2 import Geometry
from sqlalchemy import Date, Float, Integer, Table

from gis_service.db import models  # noqa: F401  (registers every layer table on Base.metadata)
from gis_service.db.base import Base, FieldInfo
from gis_service.errors import NotFoundError

LAYER_ORDER = (
    "villages", "former_villages", "assets", "service_points", "schools", "facilities",
    "settlements", "roads", "rivers", "bridges", "planning_zones",
)


@dataclass(frozen=True)
class FieldSpec:
    """An attribute field: its column name, value kind and what users know about it."""

    name: str
    kind: str  # "text" | "int" | "float" | "date"
    info: FieldInfo

    def alias(self, language: str = "zh") -> str:
        return self.info.zh if language == "zh" else self.info.en


@dataclass(frozen=True)
class GeometryField:
    """An extra, nullable geometry column such as an asset footprint; files carry it as WKT text."""

    name: str
    geometry_type: str
    zh: str
    en: str

    def alias(self, language: str = "zh") -> str:
        return f"{self.zh}(WKT)" if language == "zh" else f"{self.en} (WKT)"


@dataclass(frozen=True)
class LayerSpec:
    """A layer: its table, main geometry, optional extra geometries (e.g. an asset footprint) and fields."""

    name: str
    table: Table
    zh: str
    en: str
    geometry_column: str
    geometry_type: str  # POINT | MULTILINESTRING | MULTIPOLYGON
    extra_geometries: tuple[GeometryField, ...]
    fields: tuple[FieldSpec, ...]

    def title(self, language: str = "zh") -> str:
        return self.zh if language == "zh" else self.en

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def geometry_columns(self) -> tuple[str, ...]:
        return (self.geometry_column, *(g.name for g in self.extra_geometries))


def _kind(column_type: object) -> str:
    if isinstance(column_type, Integer):
        return "int"
    if isinstance(column_type, Float):
        return "float"
    if isinstance(column_type, Date):
        return "date"
    return "text"


def _spec(table: Table) -> LayerSpec:
    geometries = [c for c in table.columns if isinstance(c.type, Geometry)]
    main = next(c for c in geometries if not c.nullable)
    extra = tuple(GeometryField(c.name, c.type.geometry_type, *c.info["geometry"])
                  for c in geometries if c.nullable)
    fields = tuple(
        FieldSpec(c.name, _kind(c.type), c.info["field"]) for c in table.columns if "field" in c.info
    )
    return LayerSpec(
        name=str(table.name), table=table, zh=table.info["zh"], en=table.info["en"],
        geometry_column=main.name, geometry_type=main.type.geometry_type, extra_geometries=extra,
        fields=fields,
    )


@cache
def _registry() -> dict[str, LayerSpec]:
    return {name: _spec(Base.metadata.tables[name]) for name in LAYER_ORDER}


def list_layers() -> list[LayerSpec]:
    """Every layer, in a stable order (boundaries first, then points of interest, then networks)."""
    return list(_registry().values())


def get_layer(name: str) -> LayerSpec:
    """The layer called ``name`` (table name, Chinese or English title)."""
    registry = _registry()
    if name in registry:
        return registry[name]
    for spec in registry.values():
        if name in (spec.zh, spec.en):
            return spec
    raise NotFoundError(f"unknown layer '{name}'; layers are: {', '.join(registry)}")


PYTHON_TYPES = {"text": str, "int": int, "float": float, "date": date}
