"""Layer definitions: which layers exist, their fields, aliases and code lists."""

from gis_service.layers.registry import FieldSpec, GeometryField, LayerSpec, get_layer, list_layers

__all__ = ["FieldSpec", "GeometryField", "LayerSpec", "get_layer", "list_layers"]
