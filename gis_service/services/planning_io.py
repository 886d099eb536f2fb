"""Planning data in and out (一张图): import the plan layers as the office receives them, export the
submission package. Formats and conventions: :mod:`gis_service.fileio.onemap`.

An import is all or nothing: every recognised layer is validated as ``planning_zones`` (problems with
file:layer, row and field, from every layer at once) and written in one transaction; ``replace`` removes the
stored zones first, in the same transaction, so a rejected import leaves the zones as they were.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from gis_service.db.engine import write_transaction
from gis_service.errors import ImportRejectedError, RowProblem
from gis_service.fileio.onemap import MAX_UNPACKED_BYTES, opened, read_planning, write_package
from gis_service.layers.registry import get_layer
from gis_service.layers.validation import MAX_PROBLEMS, ValidLayer, validate
from gis_service.repositories.layers import LayerRepository

LAYER = "planning_zones"


@dataclass
class PlanningImport:
    """What an import did: features per source layer (``file:layer``), zones replaced, layers left out."""

    layers: dict[str, int] = field(default_factory=dict)
    replaced: int = 0
    ignored_layers: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return sum(self.layers.values())


class PlanningIOService:
    """Import and export the planning zones of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def import_path(self, path: Path, *, plan_name: str | None = None, replace: bool = False,
                    max_unpacked: int = MAX_UNPACKED_BYTES) -> PlanningImport:
        """Import a GeoPackage, a Shapefile, a folder or a .zip of them.

        Parameters
        ----------
        path
            What the office received.
        plan_name
            Plan name (规划名称) for every imported zone; default: the files' GHMC, if any.
        replace
            Remove every stored planning zone first (same transaction).
        max_unpacked
            Most bytes a .zip may unpack to (checked before unpacking).

        Raises
        ------
        ImportRejectedError
            With every problem of every layer, or a .zip member compressed like a zip bomb; nothing is written.
        PayloadTooLargeError
            A .zip that would unpack to more than ``max_unpacked`` bytes; nothing is written.
        """
        with opened(path, max_unpacked) as files:
            sources, ignored = read_planning(files)
        if plan_name:
            for source in sources:
                source.table.attributes["plan_name"] = plan_name
        spec = get_layer(LAYER)
        report = PlanningImport(ignored_layers=ignored)
        with write_transaction(self.engine) as conn:
            repo = LayerRepository(conn, spec)
            report.replaced = repo.delete_all() if replace else 0
            seen: set[str] = set()

            def taken(codes: Iterable[str]) -> set[str]:
                wanted = set(codes)
                return (wanted & seen) | (set() if replace else repo.existing_codes(wanted))

            problems: list[RowProblem] = []
            valid: list[tuple[str, ValidLayer]] = []
            for source in sources:
                try:
                    checked = validate(source.table, spec, codes_taken=taken)
                except ImportRejectedError as exc:
                    problems += exc.problems
                    continue
                seen.update(str(row[checked.columns.index("code")]) for row in checked.rows)
                valid.append((source.table.file, checked))
            if problems:
                raise ImportRejectedError(problems=problems[:MAX_PROBLEMS])
            for name, checked in valid:
                repo.insert(checked.columns, checked.rows, checked.geometries)
                report.layers[name] = len(checked)
        return report

    def export(self, folder: Path) -> list[Path]:
        """Write the submission package (GeoPackage, GBK Shapefiles, metadata) into ``folder``."""
        from gis_service.services.layers import LayerService

        zones = LayerService(self.engine).read(LAYER)
        plans = sorted({p for p in zones["plan_name"] if isinstance(p, str) and p})
        source = "、".join(plans) or "planning_zones"
        return write_package(zones, folder, source=source)

    def export_zip(self) -> bytes:
        """The submission package as one .zip (paths relative to the package folder)."""
        with tempfile.TemporaryDirectory(prefix="onemap-export-") as scratch:
            folder = Path(scratch)
            files = self.export(folder)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    archive.write(file, file.relative_to(folder).as_posix())
            return buffer.getvalue()
