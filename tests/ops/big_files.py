"""Large import files for the fault tests: enough rows that an import is still writing when it is killed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from openpyxl import load_workbook

from gis_service.fileio.ledger_excel import ledger_columns
from gis_service.services.ledger_excel import LedgerExcelService

# A row a clerk might type (tests/services/test_ledger_excel.py's GOOD_ROW); codes and positions vary.
LEDGER_ROW = {"name": "永丰村凉水集体门市", "asset_class": "经营性", "category": "门市", "ownership": "村集体",
              "village_code": "510923100201", "floor_area": 120.5, "use_status": "出租",
              "lease_start": date(2021, 1, 1), "inventoried_on": date(2021, 3, 15)}


def settlements_file(path: Path, count: int, prefix: str = "K") -> Path:
    """``count`` settlement points around the demo town (EPSG:4490), codes ``<prefix><i>``."""
    rng = np.random.default_rng(count)
    frame = gpd.GeoDataFrame(
        {"code": [f"{prefix}{i}" for i in range(count)], "name": ["王家湾"] * count,
         "village_code": ["510923100201"] * count, "population": rng.integers(1, 500, count)},
        geometry=shapely.points(105.2 + rng.random(count) * 0.1, 30.55 + rng.random(count) * 0.1), crs=4490)
    pyogrio.write_dataframe(frame, path)
    return path


def ledger_workbook(ledger: LedgerExcelService, path: Path, count: int, prefix: str = "BIG-") -> Path:
    """The ledger template with ``count`` valid asset rows typed in (codes ``<prefix><i>``)."""
    columns = {column.key: i + 1 for i, column in enumerate(ledger_columns())}
    book = load_workbook(ledger.template(path))
    sheet = book.worksheets[0]
    for i in range(count):
        row = i + 2  # under the header row
        sheet.cell(row, columns["code"], f"{prefix}{i}")
        sheet.cell(row, columns["lon"], 105.2 + (i % 100) / 1000)
        sheet.cell(row, columns["lat"], 30.55 + (i // 100) / 1000)
        for key, value in LEDGER_ROW.items():
            sheet.cell(row, columns[key], value)
    book.save(path)
    return path
