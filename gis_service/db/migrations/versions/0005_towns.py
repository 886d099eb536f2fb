"""Many towns in one database: ``towns``, ``town_code`` on every town table, partitions and row security.

On PostgreSQL every town table becomes ``PARTITION BY LIST (town_code)``; the rows it had become the configured
town's partition (``settings.town_code``). Keys lead with the town code, row-level security confines each
transaction to its town, and the role ``gis_town_<database>`` is what the service runs town transactions as
(:mod:`gis_service.db.town_partitions`). On SQLite the tables gain the column with a CHECK to the one town.
API keys gain the list of towns they may work on (existing keys: the configured town).

Revision ID: 0005_towns
Revises: 0004_scenarios_runs
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from gis_service.db import town_partitions as tp
from gis_service.towns import UNSECURED_TOWN_TABLES

revision = "0005_towns"
down_revision = "0004_scenarios_runs"
branch_labels = None
depends_on = None

# Every table that belongs to a town, as of this revision (later migrations create theirs partitioned).
TOWN_TABLES = (
    "villages", "former_villages", "assets", "service_points", "schools", "facilities", "settlements", "roads",
    "rivers", "bridges", "planning_zones", "feature_history", "layer_versions", "asset_transfers",
    "village_claims", "revitalisation_plans", "documents", "ledger_milestones", "scenarios", "scenario_changes",
    "analysis_runs",
)

# The version trigger learns the town: the transaction's, or, for a write from outside the service with no town
# chosen (psql, a desktop GIS on PostGIS), every town's version of the layer changes, so no cache goes stale.
VERSION_FUNCTION = """
CREATE OR REPLACE FUNCTION gis_bump_layer_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    town text := nullif(current_setting('gis.town', true), '');
BEGIN
    IF town IS NULL THEN
        UPDATE layer_versions SET version = (random() * 9.2e18)::bigint WHERE layer = TG_TABLE_NAME;
    ELSE
        INSERT INTO layer_versions (town_code, layer, version) VALUES (town, TG_TABLE_NAME, (random() * 9.2e18)::bigint)
        ON CONFLICT (town_code, layer) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END $$
"""
OLD_VERSION_FUNCTION = (
    "CREATE OR REPLACE FUNCTION gis_bump_layer_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO layer_versions (layer, version) VALUES (TG_TABLE_NAME, (random() * 9.2e18)::bigint) "
    "ON CONFLICT (layer) DO UPDATE SET version = EXCLUDED.version; RETURN NULL; END $$"
)


def _town() -> tuple[str, str]:
    return context.config.attributes.get("town") or ("510923100", "蓬莱镇")


def upgrade() -> None:
    town, name = _town()
    conn = op.get_bind()
    op.create_table(
        "towns",
        sa.Column("town_code", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("county_code", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.current_timestamp()),
        sa.CheckConstraint("length(town_code) = 9 AND county_code = substr(town_code, 1, 6)", name="towns_code"),
    )
    op.bulk_insert(sa.table("towns", sa.column("town_code"), sa.column("name"), sa.column("county_code")),
                   [{"town_code": town, "name": name, "county_code": town[:6]}])
    conn.exec_driver_sql("ALTER TABLE api_users ADD COLUMN towns TEXT NOT NULL DEFAULT '*'")
    conn.execute(sa.text("UPDATE api_users SET towns = :town"), {"town": town})
    if conn.dialect.name == "postgresql":
        _partition(conn, town)
    else:
        for table in TOWN_TABLES:
            conn.exec_driver_sql(f"ALTER TABLE \"{table}\" ADD COLUMN town_code TEXT NOT NULL DEFAULT '{town}' "
                                 f"CHECK (town_code = '{town}')")


def _partition(conn: sa.Connection, town: str) -> None:
    keys = tp.foreign_keys(conn, TOWN_TABLES)
    for key in keys:
        tp.drop_foreign_key(conn, key)
    for table in TOWN_TABLES:
        tp.partition_by_town(conn, table, town)
        if table not in UNSECURED_TOWN_TABLES:
            tp.secure_by_town(conn, table)
    for key in keys:
        tp.add_foreign_key(conn, key, with_town=True)
    conn.exec_driver_sql(VERSION_FUNCTION)
    conn.exec_driver_sql("ALTER TABLE api_users ALTER COLUMN towns DROP DEFAULT")  # every key names its towns
    tp.create_town_role(conn, TOWN_TABLES)


def downgrade() -> None:
    conn = op.get_bind()
    towns = [str(r[0]) for r in conn.exec_driver_sql("SELECT town_code FROM towns ORDER BY town_code")]
    if len(towns) > 1:
        raise RuntimeError(f"this database holds {len(towns)} towns ({', '.join(towns)}); going back to one town "
                           "per database would lose all but one: remove the others first (gis-service towns drop)")
    if conn.dialect.name == "postgresql":
        _flatten(conn, towns[0] if towns else _town()[0])
    else:
        for table in TOWN_TABLES:  # SQLite >= 3.35 drops a column in place (a copy would lose SpatiaLite's setup)
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP COLUMN town_code')
    conn.exec_driver_sql("ALTER TABLE api_users DROP COLUMN towns")
    op.drop_table("towns")


def _flatten(conn: sa.Connection, town: str) -> None:
    tp.drop_town_role(conn)
    keys = tp.foreign_keys(conn, TOWN_TABLES)
    for key in keys:
        tp.drop_foreign_key(conn, key)
    for table in TOWN_TABLES:
        if table not in UNSECURED_TOWN_TABLES:
            tp.unsecure(conn, table)
        tp.flatten(conn, table, town)
    for key in keys:
        tp.add_foreign_key(conn, key, with_town=False)
    conn.exec_driver_sql(OLD_VERSION_FUNCTION)
