"""Helpers for comparing layers in tests."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely

from gis_service.crs import analysis_crs, storage_crs, transform_geometries
from gis_service.layers.registry import LayerSpec


def max_vertex_shift_m(left: np.ndarray, right: np.ndarray) -> float:
    """Largest Hausdorff distance in metres (EPSG:4544) between matching geometries of two arrays.

    Hausdorff rather than vertex-by-vertex: writers may start rings at another vertex or reorder holes.
    Vertex counts must still agree, so nothing is simplified or densified on the way.
    """
    a = transform_geometries(np.asarray(left, dtype=object), storage_crs(), analysis_crs())
    b = transform_geometries(np.asarray(right, dtype=object), storage_crs(), analysis_crs())
    worst = 0.0
    for ga, gb in zip(a, b, strict=True):
        if ga is None or gb is None:
            assert ga is None and gb is None, f"{ga} vs {gb}"
            continue
        assert shapely.get_num_coordinates(ga) == shapely.get_num_coordinates(gb), "vertex count differs"
        worst = max(worst, float(shapely.hausdorff_distance(ga, gb)))
    return worst


def assert_same_layer(layer: LayerSpec, expected: gpd.GeoDataFrame, actual: gpd.GeoDataFrame) -> None:
    """Same features by code: attributes equal (floats to 1e-9), geometries within 1 cm."""
    assert len(actual) == len(expected)
    expected = expected.sort_values("code").reset_index(drop=True)
    actual = actual.sort_values("code").reset_index(drop=True)
    for spec in layer.fields:
        for i, (want, got) in enumerate(zip(expected[spec.name], actual[spec.name], strict=True)):
            if _missing(want):
                assert _missing(got), f"{spec.name} row {i}: expected empty, got {got!r}"
            elif spec.kind == "float":
                assert math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9), (spec.name, i, want, got)
            else:
                assert got == want, f"{spec.name} row {i}: expected {want!r}, got {got!r}"
    for column in ["geometry", *(g.name for g in layer.extra_geometries)]:
        shift = max_vertex_shift_m(expected[column].to_numpy(dtype=object),
                                   actual[column].to_numpy(dtype=object))
        assert shift < 0.01, f"{column} moved by {shift:.4f} m"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def declared_columns(name: str) -> dict[str, bool]:
    """The columns (name -> nullable) the database should hold for the model table ``name``: the model's own,
    and, on a town table, ``town_code`` (added by migration 0005, kept out of the models: the database fills it
    from the transaction's town and never lets a query see another town's)."""
    from gis_service.db.base import Base
    from gis_service.towns import GLOBAL_TABLES

    declared = {c.name: c.nullable for c in Base.metadata.tables[name].columns}
    return declared if name in GLOBAL_TABLES else declared | {"town_code": False}
