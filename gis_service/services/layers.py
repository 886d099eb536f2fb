"""Layer use cases: list, import and export. Each public method owns its transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Engine
from tqdm import tqdm

from gis_service.crs import parse_crs
from gis_service.errors import InvalidInputError
from gis_service.fileio.formats import detect_format
from gis_service.fileio.readers import read_source
from gis_service.fileio.writers import write_layer
from gis_service.layers.registry import LayerSpec, get_layer, list_layers
from gis_service.layers.validation import ValidLayer, validate
from gis_service.repositories.layers import LayerRepository, LayerStats

INSERT_CHUNK = 10_000
BULK_LOAD_ROWS = 10_000  # from this many rows, index upkeep is deferred to the end of the load
IMPORT_MODES = ("append", "replace")


@dataclass(frozen=True)
class LayerSummary:
    layer: LayerSpec
    stats: LayerStats


@dataclass
class ImportReport:
    """What an import did."""

    layer: str
    file: str
    imported: int
    replaced: int = 0
    ignored_columns: list[str] = field(default_factory=list)


class LayerService:
    """List, import and export layers on one database."""

    def __init__(self, engine: Engine, *, show_progress: bool = False) -> None:
        self.engine = engine
        self.show_progress = show_progress

    def summaries(self) -> list[LayerSummary]:
        """Every layer with its feature count and extent."""
        with self.engine.connect() as conn:
            return [LayerSummary(spec, LayerRepository(conn, spec).stats()) for spec in list_layers()]

    def summary(self, layer_name: str) -> LayerSummary:
        """One layer with its feature count and extent."""
        spec = get_layer(layer_name)
        with self.engine.connect() as conn:
            return LayerSummary(spec, LayerRepository(conn, spec).stats())

    def import_file(
        self, path: Path, layer_name: str, *, fmt: str | None = None, src_crs: str | None = None,
        encoding: str | None = None, mode: str = "append",
    ) -> ImportReport:
        """Import ``path`` into ``layer_name``: all rows or none.

        Raises
        ------
        ImportRejectedError
            Listing every file/row/field problem; the database is unchanged.
        """
        return self.import_files([(path, layer_name)], fmt=fmt, src_crs=src_crs,
                                 encoding=encoding, mode=mode)[0]

    def import_files(
        self, items: Sequence[tuple[Path, str]], *, fmt: str | None = None, src_crs: str | None = None,
        encoding: str | None = None, mode: str = "append",
    ) -> list[ImportReport]:
        """Import several files in one transaction (e.g. a whole town): if one fails, none is kept."""
        if mode not in IMPORT_MODES:
            raise InvalidInputError(f"unknown import mode '{mode}'; use one of {', '.join(IMPORT_MODES)}")
        crs = parse_crs(src_crs) if src_crs else None
        sources = []
        for path, layer_name in items:
            layer = get_layer(layer_name)
            file_format = detect_format(Path(path), fmt)
            sources.append((layer, read_source(Path(path), layer, file_format, src_crs=crs, encoding=encoding)))
        reports = []
        with self.engine.begin() as conn:
            for layer, source in sources:
                repo = LayerRepository(conn, layer)
                replaced = repo.delete_all() if mode == "replace" else 0
                # After a replace nothing is stored: skip the database look-up (duplicates within the
                # file are still caught).
                codes_taken = repo.existing_codes if mode == "append" else _nothing_stored
                valid = validate(source, layer, codes_taken=codes_taken)
                self._insert(repo, valid)
                reports.append(ImportReport(layer.name, source.file, len(valid), replaced,
                                            valid.ignored_columns))
        return reports

    def _insert(self, repo: LayerRepository, valid: ValidLayer) -> None:
        bulk = repo.bulk_load() if len(valid) >= BULK_LOAD_ROWS else nullcontext()
        with bulk, tqdm(total=len(valid), desc=f"import {repo.layer.name}", unit="feat",
                        disable=not self.show_progress or len(valid) < INSERT_CHUNK, leave=False) as bar:
            for start, stop in _chunks(len(valid), INSERT_CHUNK):
                geometries = {name: geoms[start:stop] for name, geoms in valid.geometries.items()}
                repo.insert(valid.columns, valid.rows[start:stop], geometries)
                bar.update(stop - start)

    def export(
        self, layer_name: str, fmt: str, out: Path, *, crs: str | None = None, encoding: str | None = None,
        language: str = "zh",
    ) -> list[Path]:
        """Write ``layer_name`` to ``out``; returns every file written."""
        layer = get_layer(layer_name)
        file_format = detect_format(out, fmt)
        target = parse_crs(crs) if crs else None
        with self.engine.connect() as conn:
            repo = LayerRepository(conn, layer)
            total = repo.count()
            with tqdm(total=total, desc=f"export {layer.name}", unit="feat", leave=False,
                      disable=not self.show_progress or total < INSERT_CHUNK) as bar:
                frame = repo.read_frame(on_rows=bar.update)
        return write_layer(frame, layer, file_format, out, crs=target, encoding=encoding, language=language)

    def read(self, layer_name: str) -> gpd.GeoDataFrame:
        """The layer as a GeoDataFrame in EPSG:4490."""
        with self.engine.connect() as conn:
            return LayerRepository(conn, get_layer(layer_name)).read_frame()


def _nothing_stored(codes: Iterable[str]) -> set[str]:
    return set()


def _chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(start + size, total)

