"""The asset ledger as office files: the Excel template, import (all or nothing, every problem by row and
column; ``update`` upserts by asset code with history), and export to Excel or GeoPackage (EPSG:4544, with
the registration pathway)."""

from __future__ import annotations

import getpass
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import Engine

from gis_service.access import ALL_TOWNS, Principal, Role, require_edit
from gis_service.crs import analysis_crs, parse_crs, storage_crs, transform_geometries
from gis_service.db.engine import write_transaction
from gis_service.errors import CellProblem, ImportRejectedError, InvalidInputError, PermissionDeniedError, RowProblem
from gis_service.fileio.features import feature_snapshot
from gis_service.fileio.formats import FileFormat, detect_format, is_missing
from gis_service.fileio.ledger_excel import COMPUTED, SheetLayout, ledger_columns, sheet_layout, write_ledger
from gis_service.fileio.readers import SourceTable, read_source
from gis_service.fileio.writers import office_table, write_layer
from gis_service.layers.codelists import label
from gis_service.layers.registry import get_layer
from gis_service.layers.validation import ValidLayer, validate
from gis_service.repositories.features import FeatureRepository, FeatureWriter, first_free_id
from gis_service.repositories.history import HistoryRepository
from gis_service.repositories.layers import LayerRepository
from gis_service.repositories.ledger_excel import asset_keys
from gis_service.services.features import Features, features_from_rows
from gis_service.services.ledger_registration import assess

LAYER = "assets"
SCOPE_TOLERANCE_M = 1.0  # as for edits: digitising slack at a village boundary
GPKG_CRS = 4544
# Excel keeps 15 significant digits of a number: a value read back may differ from the stored one by this much.
EXCEL_RELATIVE = 1e-14
EXCEL_DEGREES = 1e-9


@dataclass
class LedgerImportReport:
    """What a ledger import did."""

    file: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ignored_columns: list[str] = field(default_factory=list)


class LedgerExcelService:
    """Template, import and export of the asset ledger; messages and headers in ``language``."""

    def __init__(self, engine: Engine, language: str = "zh") -> None:
        self.engine = engine
        self.language = language

    def template(self, out: Path) -> Path:
        """Write the blank ledger template to ``out`` (.xlsx)."""
        return write_ledger(None, _xlsx(out), self.language)

    def export(self, out: Path, *, village: str | None = None) -> Path:
        """Write the ledger (of ``village``) to ``out``: .xlsx for the office, .gpkg (EPSG:4544) for GIS."""
        fmt = detect_format(out)
        if fmt not in (FileFormat.XLSX, FileFormat.GPKG):
            raise InvalidInputError(f"{out.name}: export the ledger as .xlsx or .gpkg")
        frame = self._read(village)
        pathways = assess(frame, self._zones())
        frame["registration_pathway"] = [a.pathway.pathway for a in pathways]
        frame["registration_reason"] = [a.reason(self.language) for a in pathways]
        if fmt is FileFormat.GPKG:
            return _write_gpkg(frame, out, self.language)
        return write_ledger(_ledger_rows(frame, self.language), out, self.language)

    def import_file(self, path: Path, principal: Principal, *, update: bool = False) -> LedgerImportReport:
        """Import a ledger workbook: every row or none.

        Parameters
        ----------
        path
            The .xlsx file (first sheet: the ledger, headers in row 1).
        principal
            Who imports (recorded in the history); editors limited to villages may import only their rows.
        update
            Upsert by asset code: known codes are updated (unchanged rows are left alone), new ones added.
            Without it a code already stored is an error.

        Raises
        ------
        ImportRejectedError
            With a :class:`CellProblem` (row, column letter and header) for every problem; nothing written.
        """
        require_edit(principal, LAYER)
        layer = get_layer(LAYER)
        if detect_format(path) is not FileFormat.XLSX:
            raise InvalidInputError(f"{path.name}: the ledger is imported from an Excel .xlsx file")
        layout = sheet_layout(path)
        try:
            source = _without_blank_rows(read_source(path, layer, FileFormat.XLSX), layout.blank_rows)
        except ImportRejectedError as exc:
            raise self._rejected(exc.problems, layout) from None
        report = LedgerImportReport(source.file, ignored_columns=[
            c for c in source.ignored_columns if c not in _computed_headers()])
        with write_transaction(self.engine) as conn:
            writer = FeatureWriter(conn, layer)
            writer.dialect.lock_for_edit(conn, LAYER)
            try:
                valid = validate(source, layer, codes_taken=_nothing_taken if update else writer.codes_taken)
            except ImportRejectedError as exc:
                raise self._rejected(exc.problems, layout) from None
            _check_scope(writer, principal, valid, source)
            _write_rows(writer, valid, _actor(principal), report)
        return report

    # ------------------------------------------------------------------ helpers

    def _read(self, village: str | None) -> gpd.GeoDataFrame:
        with self.engine.connect() as conn:
            frame = LayerRepository(conn, get_layer(LAYER)).read_frame()
        if village is not None:
            frame = frame[frame["village_code"] == village].reset_index(drop=True)
        return frame

    def _zones(self) -> gpd.GeoDataFrame:
        from gis_service.repositories.ledger_registration import RegistrationRepository

        with self.engine.connect() as conn:
            return RegistrationRepository(conn).zones()

    def _rejected(self, problems: list[RowProblem], layout: SheetLayout) -> ImportRejectedError:
        layer = get_layer(LAYER)
        cells = []
        for problem in problems:
            found = layout.column_of(problem.field, layer)
            column, header = found if found else (None, problem.field)
            message = translate(problem.message, self.language)
            cells.append(CellProblem(problem.file, problem.row, problem.field, message,
                                     column=column, header=header, language=self.language))
        return ImportRejectedError(problems=list(cells))


def _xlsx(out: Path) -> Path:
    if out.suffix.lower() != ".xlsx":
        raise InvalidInputError(f"{out.name}: the template is an Excel .xlsx file")
    return out


def _nothing_taken(codes: Any) -> set[str]:
    return set()


def _computed_headers() -> set[str]:
    return {labels[i] for labels in COMPUTED.values() for i in (0, 1)}


def _actor(principal: Principal) -> str:
    if principal.name == "cli":
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):
            return "cli"
    return principal.name


CLI_PRINCIPAL = Principal("cli", Role.ADMIN, towns=(ALL_TOWNS,))


# ---------------------------------------------------------------------- import


def _without_blank_rows(source: SourceTable, blank: frozenset[int]) -> SourceTable:
    """``source`` without the rows a clerk left entirely empty (and the problems the reader found there)."""
    keep = np.array([int(r) not in blank for r in source.row_numbers], dtype=bool)
    if keep.all():
        return source
    return SourceTable(
        file=source.file, attributes=source.attributes[keep].reset_index(drop=True),
        geometries=source.geometries[keep], crs=source.crs, row_numbers=source.row_numbers[keep],
        extra_geometries={k: v[keep] for k, v in source.extra_geometries.items()},
        ignored_columns=source.ignored_columns,
        problems=[p for p in source.problems if p.row is None or p.row not in blank])


def _write_rows(writer: FeatureWriter, valid: ValidLayer, actor: str, report: LedgerImportReport) -> None:
    """Insert new codes and update changed ones, each recorded in the history; unchanged rows are left alone."""
    stored = asset_keys(writer.conn, (row[valid.columns.index("code")] for row in valid.rows))
    history = HistoryRepository(writer.conn, LAYER)
    now = datetime.now(UTC)
    for index, row in enumerate(valid.rows):
        values = dict(zip(valid.columns, row, strict=True))
        shapes = {name: geoms[index] for name, geoms in valid.geometries.items()}
        wkb = {name: None if g is None else shapely.to_wkb(g) for name, g in shapes.items()}
        known = stored.get(values["code"])
        if known is None:
            explicit = first_free_id(writer.conn, writer.table) if writer.dialect.reuses_deleted_ids else None
            feature_id = writer.insert_one(values, wkb, feature_id=explicit)
            history.add(feature_id, "create", actor, now, None, _snapshot(_current(writer, feature_id)))
            report.created += 1
            continue
        current = _current(writer, known[0])
        if _unchanged(current, values, shapes):
            report.unchanged += 1
            continue
        writer.update_one(known[0], values, wkb)
        history.add(known[0], "update", actor, now, _snapshot(current), _snapshot(_current(writer, known[0])))
        report.updated += 1


def _current(writer: FeatureWriter, feature_id: int) -> Features:
    row = writer.get_for_update(feature_id)
    assert row is not None  # found or written in this transaction
    return features_from_rows(writer.layer, [row])


def _snapshot(features: Features) -> dict[str, Any]:
    return feature_snapshot(features.ids[0], features.properties[0], features.geometries[0],
                            {name: geoms[0] for name, geoms in features.extra_geometries.items()})


def _unchanged(current: Features, values: dict[str, Any], shapes: dict[str, Any]) -> bool:
    """Whether the row holds what is stored (then nothing is written and no history recorded), up to what
    Excel can hold: 15 significant digits, i.e. coordinates within 1e-9 degrees (0.1 mm)."""
    stored = {current.layer.geometry_column: current.geometries[0],
              **{name: geoms[0] for name, geoms in current.extra_geometries.items()}}
    same_geometry = all(
        (new is None and stored[name] is None)
        or (new is not None and stored[name] is not None
            and bool(shapely.equals_exact(new, stored[name], tolerance=EXCEL_DEGREES)))
        for name, new in shapes.items())
    return same_geometry and all(_same_value(current.properties[0].get(k), v) for k, v in values.items())


def _same_value(stored: Any, new: Any) -> bool:
    if isinstance(stored, float) and isinstance(new, float):
        return math.isclose(stored, new, rel_tol=EXCEL_RELATIVE)
    return bool(stored == new)


def _check_scope(writer: FeatureWriter, principal: Principal, valid: ValidLayer, source: SourceTable) -> None:
    """An editor limited to villages imports only rows of those villages: their village code (and that of the
    asset they update) is one of the editor's, and the asset lies inside them."""
    if not principal.villages:
        return
    rows = [dict(zip(valid.columns, row, strict=True)) for row in valid.rows]
    stored = asset_keys(writer.conn, (row["code"] for row in rows))
    villages = FeatureRepository(writer.conn, get_layer("villages")).geometries_by_code(principal.villages)
    area = shapely.buffer(shapely.union_all(transform_geometries(
        np.array(villages, dtype=object), storage_crs(), analysis_crs())), SCOPE_TOLERANCE_M)
    points = transform_geometries(valid.geometries["geom"], storage_crs(), analysis_crs())
    outside = []
    for i, row in enumerate(rows):
        before = stored.get(row["code"])
        village_codes = {row.get("village_code"), row.get("village_code") if before is None else before[1]}
        if not village_codes <= set(principal.villages) or not shapely.covers(area, points[i]):
            outside.append(str(source.row_numbers[i]))
    if outside:
        raise PermissionDeniedError(
            f"user '{principal.name}' edits only villages {', '.join(principal.villages)}; rows "
            f"{', '.join(outside[:50])} belong to other villages or lie outside them; nothing was imported")


# ---------------------------------------------------------------------- export


def _ledger_rows(frame: gpd.GeoDataFrame, language: str) -> pd.DataFrame:
    """The stored assets as ledger rows keyed by :class:`LedgerColumn` key: labels, real dates, lon/lat."""
    layer = get_layer(LAYER)
    table = office_table(frame, layer, storage_crs(), language)
    rows = pd.DataFrame(index=table.index)
    for column in ledger_columns(language):
        if column.key in ("lon", "lat"):
            rows[column.key] = shapely.get_x(frame.geometry.to_numpy()) if column.key == "lon" else \
                shapely.get_y(frame.geometry.to_numpy())
        elif column.kind == "date":
            rows[column.key] = [_as_date(v) for v in frame[column.key]]
        else:
            rows[column.key] = table[column.header].astype(object).to_numpy()
    rows["registration_pathway"] = [label("registration_pathway", p, language) for p in frame["registration_pathway"]]
    rows["registration_reason"] = frame["registration_reason"].to_numpy()
    return rows


def _as_date(value: Any) -> date | None:
    if is_missing(value):
        return None
    return value.date() if isinstance(value, datetime) else value


def _write_gpkg(frame: gpd.GeoDataFrame, out: Path, language: str) -> Path:
    """Assets (points) with the pathway, and a second layer of the surveyed footprints, in EPSG:4544."""
    layer = get_layer(LAYER)
    frame = frame.copy()
    frame["registration_pathway_label"] = [label("registration_pathway", p, language)
                                           for p in frame["registration_pathway"]]
    target = parse_crs(GPKG_CRS)
    write_layer(frame, layer, FileFormat.GPKG, out, crs=target)
    footprints = frame[~shapely.is_missing(frame["footprint"].to_numpy(dtype=object))]
    if len(footprints):
        outlines = gpd.GeoDataFrame(
            footprints[["code", "name", "village_code", "registration_pathway", "registration_pathway_label"]]
            .reset_index(drop=True),
            geometry=gpd.GeoSeries(transform_geometries(footprints["footprint"].to_numpy(dtype=object),
                                                        storage_crs(), target), crs=target))
        pyogrio.write_dataframe(outlines, out, layer="asset_footprints", driver="GPKG", append=False)
    return out


# ---------------------------------------------------------------------- messages

# Validation speaks English; the clerk reads Chinese. Each pattern of gis_service.layers.validation and
# readers, and its Chinese form ({0}, {1}: the pattern's groups).
_ZH_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), zh) for p, zh in (
    (r"^required value is empty$", "必填项为空"),
    (r"^required column missing \((.*)\)$", "缺少必填列({0})"),
    (r"^'(.*)' is not a whole number$", "“{0}”不是整数"),
    (r"^'(.*)' is not a number$", "“{0}”不是数字"),
    (r"^'(.*)' is not a date \(YYYY-MM-DD\)$", "“{0}”不是日期(应为 YYYY-MM-DD)"),
    (r"^'(.*)' is not text$", "“{0}”不是文本"),
    (r"^'(.*)' is not one of: (.*)$", "“{0}”不在可选值中,可选:{1}"),
    (r"^'(.*)' must be (\d+) digits$", "“{0}”应为{1}位数字"),
    (r"^(.*) is below the minimum (.*)$", "{0} 小于最小值 {1}(不能为负数)"),
    (r"^duplicate code '(.*)' \(also on row (\d+)\)$", "资产编码“{0}”在表中重复(第{1}行已有)"),
    (r"^code '(.*)' already exists in the layer.*$", "资产编码“{0}”已存在于数据库(更新已有资产请用更新导入 --update)"),
    (r"^coordinate missing$", "坐标为空"),
    (r"^coordinate '(.*)' is not a number$", "坐标“{0}”不是数字"),
    (r"^latitude and longitude look swapped \((.*)\)$", "经度和纬度疑似填反了({0})"),
    (r"^coordinates \((.*)\) lie outside China.*$", "坐标({0})不在中国境内,请检查经纬度"),
    (r"^geometry is missing or empty$", "缺少位置(经纬度)"),
    (r"^contains control characters.*$", "含有不可见的控制字符,请删除"),
    (r"^not valid WKT: (.*)$", "不是有效的WKT:{0}"),
    (r"^invalid geometry: (.*)$", "几何图形无效:{0}"),
))


def translate(message: str, language: str) -> str:
    """``message`` from validation in ``language`` (English passes through; unknown messages stay English)."""
    if language != "zh":
        return message
    for pattern, template in _ZH_MESSAGES:
        match = pattern.match(message)
        if match:
            return template.format(*match.groups())
    return message
