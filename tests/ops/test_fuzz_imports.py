"""Fuzzing the import path (hypothesis): any CSV or GeoJSON of settlements or assets, however odd its values,
is either accepted or refused with ImportRejectedError naming file, row and field; never another exception.

Bounded examples; under CI=true a fixed set of examples (like tests/api/test_fuzz.py).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis_service.errors import ImportRejectedError
from gis_service.fileio.formats import FileFormat
from gis_service.fileio.readers import read_source
from gis_service.layers.registry import get_layer
from gis_service.layers.validation import validate

EXAMPLES = 40
DERANDOMIZE = os.environ.get("CI") == "true"
LAYERS = ("settlements", "assets")
pytestmark = pytest.mark.filterwarnings("ignore:Could not parse column:UserWarning")  # pyogrio on odd JSON

# Values as clerks and broken exports produce them: numbers, labels in both languages, blanks, junk, control chars.
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "村集体", "village_collective", "闲置", "idle", "2021-03-15", "2021-13-45", "NaN",
                     "510923100201", "1e309", "-0", "\x00", "\u202e", "🙂"]),
    st.text(max_size=40))


def _row(layer: str) -> st.SearchStrategy[dict[str, Any]]:
    names = [f.name for f in get_layer(layer).fields] + ["lon", "lat", "未知列"]
    return st.dictionaries(st.sampled_from(names), VALUES, max_size=len(names))


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = sorted({key for row in rows for key in row} | {"code"})
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else str(v) for k, v in row.items()})


def _write_geojson(path: Path, rows: list[dict[str, Any]], coordinates: list[tuple[float, float]]) -> None:
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy)},
                 "properties": {k: v for k, v in row.items() if k not in ("lon", "lat")}}
                for row, xy in zip(rows, coordinates, strict=False)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                               allow_nan=False, default=str), encoding="utf-8")


def _check(path: Path, fmt: FileFormat, layer: str) -> None:
    spec = get_layer(layer)
    try:
        validate(read_source(path, spec, fmt), spec, codes_taken=lambda codes: set())
    except ImportRejectedError as exc:
        assert exc.problems
        for problem in exc.problems:  # a row's problem names its row; the file's (e.g. no geometry) its file
            assert problem.file == path.name and problem.message, problem


@pytest.mark.parametrize("layer", LAYERS)
def test_any_csv_is_accepted_or_refused_with_row_and_field(layer: str) -> None:
    @given(rows=st.lists(_row(layer), min_size=1, max_size=5))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    def check(rows: list[dict[str, Any]]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "fuzz.csv"
            _write_csv(path, rows)
            _check(path, FileFormat.CSV, layer)

    check()


@pytest.mark.parametrize("layer", LAYERS)
def test_any_geojson_is_accepted_or_refused_with_row_and_field(layer: str) -> None:
    coordinate = st.tuples(st.floats(-200, 200, allow_nan=False), st.floats(-100, 100, allow_nan=False))

    @given(rows=st.lists(_row(layer), min_size=1, max_size=5), coordinates=st.lists(coordinate, min_size=5,
                                                                                    max_size=5))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    def check(rows: list[dict[str, Any]], coordinates: list[tuple[float, float]]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "fuzz.geojson"
            try:
                _write_geojson(path, rows, coordinates)
            except ValueError:
                return  # NaN/inf cannot be written as JSON: not a file anyone can send
            _check(path, FileFormat.GEOJSON, layer)

    check()
