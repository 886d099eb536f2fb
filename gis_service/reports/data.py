"""The layers a report shows and the data version printed on it, read in one transaction.

Reading the layers and their versions in one transaction makes the version on the page describe exactly the
features drawn, even while someone edits. The layer service's ``read`` drops the audit columns, so the
repository is used here directly, the way services do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, select

from gis_service.crs import analysis_crs
from gis_service.layers.registry import get_layer
from gis_service.reports.i18n import format_time
from gis_service.repositories.layers import LayerRepository
from gis_service.repositories.versions import layer_versions

DIGEST_LENGTH = 8


@dataclass(frozen=True)
class DataVersion:
    """What a person reads to tell two builds apart.

    Attributes
    ----------
    updated_at
        The latest ``updated_at`` among the features shown (UTC), ``None`` when every layer is empty. It does not
        move when a feature is deleted; ``digest`` does.
    digest
        Eight hex digits of a hash of the layers' data versions, which database triggers change on every insert,
        update and delete.
    """

    updated_at: datetime | None
    digest: str

    def describe(self, language: str) -> str:
        """E.g. ``2026-11-26 18:49 (北京时间) · 3f2a9c1b``: when the data last changed, and the digest."""
        if self.updated_at is None:
            return self.digest
        return f"{format_time(self.updated_at, language)} · {self.digest}"


@dataclass(frozen=True)
class ReportData:
    """The layers of one report (GeoDataFrames in EPSG:4490 with ``updated_at``) and their data version."""

    frames: Mapping[str, gpd.GeoDataFrame]
    version: DataVersion
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # ledger tables, e.g. revitalisation_plans
    permitted_uses: Any = None  # the permitted-use table to judge uses with (None: the built-in one)
    town: str | None = None  # the name of the town the data is of

    def __getitem__(self, layer: str) -> gpd.GeoDataFrame:
        return self.frames[layer]

    def projected(self, layers: Iterable[str]) -> dict[str, gpd.GeoDataFrame]:
        """``layers`` in the analysis CRS (EPSG:4544), for the analyses a report shows the numbers of."""
        return {name: self.frames[name].to_crs(analysis_crs()) for name in layers}


def load_report_data(engine: Engine, layers: Iterable[str], tables: Iterable[str] = ()) -> ReportData:
    """Read ``layers`` (and the non-layer ``tables``, e.g. ``revitalisation_plans``) and their data version in
    one transaction.

    Examples
    --------
    >>> data = load_report_data(engine, ["villages", "assets"])  # doctest: +SKIP
    >>> len(data["assets"]), data.version.digest  # doctest: +SKIP
    (282, '3f2a9c1b')
    """
    names, extra = tuple(dict.fromkeys(layers)), tuple(dict.fromkeys(tables))
    with engine.connect() as conn, conn.begin():
        frames = {name: LayerRepository(conn, get_layer(name)).read_frame(with_audit=True) for name in names}
        rows = {name: read_table(conn, name) for name in extra}
        digest = _digest(conn, names + extra)
        town = town_name(conn)
    return ReportData(frames, DataVersion(_latest_update(frames.values()), digest), rows, town=town)


def town_name(conn: Connection) -> str | None:
    """The name of the transaction's town, as the database lists it (None before there was a town list)."""
    from gis_service.db.engine import town_of
    from gis_service.repositories.towns import TownRepository

    row = TownRepository(conn).get(town_of(conn))
    return None if row is None else str(row.name)


def data_digest(engine: Engine, layers: Iterable[str]) -> str:
    """The ``digest`` of :class:`DataVersion` alone: one small query, to tell whether a built report is stale."""
    with engine.connect() as conn:
        return _digest(conn, tuple(dict.fromkeys(layers)))


def read_table(conn: Connection, name: str) -> pd.DataFrame:
    """Every row of a non-layer table (no geometry), e.g. the revitalisation plans."""
    from gis_service.db import ledger  # noqa: F401  (registers the ledger tables)
    from gis_service.db.base import Base

    result = conn.execute(select(Base.metadata.tables[name]))
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _digest(conn: Connection, names: tuple[str, ...]) -> str:
    versions = layer_versions(conn)
    text = ";".join(f"{name}={versions.get(name, 0)}" for name in sorted(names))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]


def _latest_update(frames: Iterable[gpd.GeoDataFrame]) -> datetime | None:
    latest: datetime | None = None
    for frame in frames:
        if frame.empty:
            continue
        value = pd.Timestamp(frame["updated_at"].max()).to_pydatetime()
        # SpatiaLite hands back naive UTC timestamps, PostgreSQL aware ones: compare them as aware.
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        latest = value if latest is None or value > latest else latest
    return latest
