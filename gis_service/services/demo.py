"""The demo town: create the database and load the bundled Penglai-like layers in one transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from gis_service.db.migrate import upgrade
from gis_service.errors import InvalidInputError
from gis_service.layers.registry import list_layers
from gis_service.services.layers import ImportReport, LayerService


def demo_files(demo_dir: Path) -> list[tuple[Path, str]]:
    """The bundled file of every layer, ``<layer>.geojson`` in ``demo_dir``."""
    items = [(demo_dir / f"{spec.name}.geojson", spec.name) for spec in list_layers()]
    missing = [str(path) for path, _ in items if not path.exists()]
    if missing:
        raise InvalidInputError(f"demo data missing: {', '.join(missing)}")
    return items


def load_demo(engine: Engine, demo_dir: Path, *, show_progress: bool = False) -> list[ImportReport]:
    """Migrate the schema and replace every layer with the demo town (all layers or none)."""
    upgrade(engine)
    service = LayerService(engine, show_progress=show_progress)
    return service.import_files(demo_files(demo_dir), mode="replace")
