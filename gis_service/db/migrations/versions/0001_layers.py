"""The spatial layers: boundaries, assets, service points, schools, facilities, settlements, networks, zones.

Revision ID: 0001_layers
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gis_service.db.dialects import dialect_for

revision = "0001_layers"
down_revision = None
branch_labels = None
depends_on = None

SRID = 4490


def _text(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable)


def _int(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=nullable)


def _float(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Float, nullable=nullable)


# table -> (attribute columns, [(geometry column, type, nullable)])
LAYERS: dict[str, tuple[list[sa.Column], list[tuple[str, str, bool]]]] = {
    "villages": (
        [_text("name", False), _text("kind", False), _int("population"), _int("households"), _text("branch")],
        [("geom", "MULTIPOLYGON", False)],
    ),
    "former_villages": (
        [_text("name", False), _text("merged_into", False), _int("population"), _int("households"),
         sa.Column("dissolved_on", sa.Date)],
        [("geom", "MULTIPOLYGON", False)],
    ),
    "assets": (
        [_text("name", False), _text("ownership", False), _text("owner_unit"), _text("asset_class", False),
         _text("category", False), _text("former_use"), _text("village_code"), _text("former_village_code"),
         _text("location"), _float("floor_area"), _float("land_area"), _float("original_value"),
         _text("use_status", False)],
        [("geom", "POINT", False), ("footprint", "MULTIPOLYGON", True)],
    ),
    "service_points": (
        [_text("name", False), _text("kind", False), _text("village_code", False), _text("services"),
         _text("host_asset_code"), _text("opening_hours")],
        [("geom", "POINT", False)],
    ),
    "schools": (
        [_text("name", False), _text("level", False), _text("status", False), _int("capacity"),
         _int("enrolment"), _text("village_code")],
        [("geom", "POINT", False)],
    ),
    "facilities": (
        [_text("name", False), _text("kind", False), _int("capacity"), _text("village_code")],
        [("geom", "POINT", False)],
    ),
    "settlements": (
        [_text("name", False), _text("village_code", False), _text("former_village_code"),
         _int("population", False), _int("households"), _int("elderly"), _int("children")],
        [("geom", "POINT", False)],
    ),
    "roads": (
        [_text("name", False), _text("road_class", False), _float("walk_speed_kmh"), _float("drive_speed_kmh")],
        [("geom", "MULTILINESTRING", False)],
    ),
    "rivers": (
        [_text("name", False), _float("width_m")],
        [("geom", "MULTILINESTRING", False)],
    ),
    "bridges": (
        [_text("name", False), _text("kind", False), _text("river_code", False), _text("road_code")],
        [("geom", "POINT", False)],
    ),
    "planning_zones": (
        [_text("name"), _text("zone_type", False), _text("land_use_code"), _text("land_use_name"),
         _text("plan_name")],
        [("geom", "MULTIPOLYGON", False)],
    ),
}


def upgrade() -> None:
    conn = op.get_bind()
    dialect = dialect_for(conn)
    for table, (columns, geometries) in LAYERS.items():
        op.create_table(
            table,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("code", sa.Text, nullable=False, unique=True),
            *columns,
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.func.current_timestamp()),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.func.current_timestamp()),
        )
        for column, geometry_type, nullable in geometries:
            dialect.add_geometry_column(conn, table, column, geometry_type, SRID, nullable)


def downgrade() -> None:
    conn = op.get_bind()
    dialect = dialect_for(conn)
    for table, (_columns, geometries) in reversed(LAYERS.items()):
        dialect.drop_geometry_table(conn, table, [name for name, _, _ in geometries])
