"""The towns one database serves: list them, add one (its partition of every table), remove one.

A county or province keeps all its towns in one PostGIS database (issue 9). Adding a town creates its partition
of every town table in the same transaction as its row in ``towns``, so a town is either fully there or not at
all. A SpatiaLite file holds exactly one town.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from gis_service.db import town_partitions
from gis_service.db.engine import admin_transaction, engine_town
from gis_service.errors import ConflictError, InvalidInputError, NotFoundError
from gis_service.repositories.towns import TownRepository
from gis_service.towns import check_town_code


@dataclass(frozen=True)
class TownInfo:
    code: str
    name: str
    county_code: str
    created_at: datetime
    default: bool  # the service's configured town (settings.town_code)


class TownService:
    """Town administration on one database: runs as the connecting user, across every town."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgis = engine.dialect.name == "postgresql"

    def list(self) -> builtins.list[TownInfo]:
        default = engine_town(self.engine)[0]
        with self.engine.connect() as conn:
            return [TownInfo(row.town_code, row.name, row.county_code, row.created_at, row.town_code == default)
                    for row in TownRepository(conn).all()]

    def codes(self) -> frozenset[str]:
        with self.engine.connect() as conn:
            return frozenset(TownRepository(conn).codes())

    def add(self, code: str, name: str) -> builtins.list[str]:
        """Serve town ``code`` (9-digit NBS code) named ``name``; returns the tables it got a partition of."""
        check_town_code(code)
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInputError("a town needs a name of 1-100 characters (镇名)")
        with admin_transaction(self.engine) as conn:
            repo = TownRepository(conn)
            if repo.get(code) is not None:
                raise ConflictError(f"town {code} is already served here")
            if not self.is_postgis:
                raise ConflictError("a SpatiaLite database holds one town; serve several towns from PostGIS "
                                    "(一个SpatiaLite数据库只存一个镇,多镇请用PostGIS)")
            repo.add(code, name)
            return town_partitions.create_town_partitions(conn, code)

    def drop(self, code: str) -> None:
        """Stop serving ``code`` and delete every row it has (its partitions), in one transaction."""
        check_town_code(code)
        if code == engine_town(self.engine)[0]:
            raise ConflictError(f"town {code} is this service's own town (GIS_TOWN_CODE); it cannot be removed")
        with admin_transaction(self.engine) as conn:
            repo = TownRepository(conn)
            if repo.get(code) is None:
                raise NotFoundError(f"no town {code} here")
            town_partitions.drop_town_partitions(conn, code)
            repo.delete(code)
