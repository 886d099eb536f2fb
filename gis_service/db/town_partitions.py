"""PostgreSQL: every town-owned table partitioned by town code, and row-level security by town.

A county or province runs one database for many towns (issue 9). Each town table is ``PARTITION BY LIST
(town_code)`` with one partition per town (``assets_510923100``); its primary key, unique keys and foreign keys
lead with ``town_code``, so codes and ids are unique per town and everything of a town lives in one partition
(which is also what Citus needs to distribute the same tables by town; see ``docs/province.md``).

Row-level security is what confines a transaction to its town: every town table has a policy that shows and
accepts only rows of ``current_setting('gis.town')``, which the engine sets at ``BEGIN`` together with the role
:data:`~gis_service.towns.TOWN_ROLE_SQL` (see :mod:`gis_service.db.engine`). A query that forgets its town therefore
still sees one town, and the planner prunes to that town's partition when the query starts.

SpatiaLite has neither partitions nor row-level security; a SpatiaLite file holds one town (a CHECK on every
table). Alembic cannot generate any of this, so it is written here by hand and called by migration 0005.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from gis_service.towns import TOWN_CODE, TOWN_ROLE_SQL

POLICY = "town_rows"
TOWN_FILTER = "town_code = current_setting('gis.town', true)"


@dataclass(frozen=True)
class Key:
    """A primary key (``p``), unique constraint (``u``), unique index (``i``) or other index (``x``) of a table."""

    name: str
    kind: str
    columns: tuple[str, ...]
    definition: str  # CREATE INDEX statement for ``x``


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    on_delete: str


def partition_name(table: str, town: str) -> str:
    return f"{table}_{_checked(town)}"


def partitioned_tables(conn: Connection) -> list[str]:
    """The tables partitioned by town, by name."""
    return [str(r[0]) for r in conn.exec_driver_sql(
        "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() ORDER BY c.relname")]


def partitions_of(conn: Connection, table: str) -> list[str]:
    """The town codes that have a partition of ``table``."""
    rows = conn.exec_driver_sql(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass", (f'"{table}"',))
    return sorted(bound.split("'")[1] for (bound,) in rows)


def create_town_partitions(conn: Connection, town: str) -> list[str]:
    """A partition of every partitioned table for ``town`` (those it lacks); returns the tables given one.

    Each is made as a table of its own and then attached: ``ATTACH PARTITION`` takes only a SHARE UPDATE
    EXCLUSIVE lock on the parent, so the other towns go on reading and writing meanwhile (``CREATE TABLE …
    PARTITION OF`` would lock them out). The partition gets the parent's keys, indexes and row triggers on
    attaching, and no rights of its own: the service reaches it only through the parent and its policy.
    """
    _with_lock_timeout(conn)
    created = []
    for table in partitioned_tables(conn):
        if town in partitions_of(conn, table):
            continue
        part = partition_name(table, town)
        conn.exec_driver_sql(f'CREATE TABLE "{part}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                             "INCLUDING STORAGE)")
        conn.exec_driver_sql(f'ALTER TABLE "{part}" ADD CONSTRAINT "{part}_town" CHECK (town_code = \'{town}\')')
        conn.exec_driver_sql(f'ALTER TABLE "{table}" ATTACH PARTITION "{part}" FOR VALUES IN (\'{town}\')')
        created.append(table)
    # Every layer of the new town has a data version from the start, so that a write made with no town chosen
    # (which changes every existing version) also reaches this town's cache.
    conn.exec_driver_sql("INSERT INTO layer_versions (town_code, layer, version) "
                         "SELECT %s, layer, 0 FROM layer_versions GROUP BY layer ON CONFLICT DO NOTHING", (town,))
    return created


def drop_town_partitions(conn: Connection, town: str) -> None:
    """Remove ``town`` and every row it has, partition by partition (fast, unlike a DELETE).

    Detaching takes an ACCESS EXCLUSIVE lock on each parent for a moment; other towns wait that long, and a
    lock that cannot be had within the lock timeout fails the whole removal rather than queue everyone behind it.
    Referencing tables go first; a referenced partition is detached before it is dropped, which is how
    PostgreSQL lets a partition go that a foreign key of the partitioned table points into.
    """
    _with_lock_timeout(conn)
    for table in _referencing_first(conn, partitioned_tables(conn)):
        if town in partitions_of(conn, table):
            part = partition_name(table, town)
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DETACH PARTITION "{part}"')
            conn.exec_driver_sql(f'DROP TABLE "{part}"')


LOCK_TIMEOUT = "5s"


def _with_lock_timeout(conn: Connection) -> None:
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _referencing_first(conn: Connection, tables: list[str]) -> list[str]:
    """``tables`` ordered so that every table comes before the tables its foreign keys point to."""
    targets: dict[str, set[str]] = {table: set() for table in tables}
    for key in foreign_keys(conn, tables):
        if key.table in targets and key.target != key.table:
            targets[key.table].add(key.target)
    ordered: list[str] = []
    while targets:
        # a table nobody left still points to can go next
        ready = sorted(t for t in targets if not any(t in pointed for other, pointed in targets.items()
                                                     if other != t))
        if not ready:  # a cycle: take them in name order (PostgreSQL will say what blocks)
            ready = sorted(targets)
        for table in ready:
            ordered.append(table)
            del targets[table]
    return ordered


# --- migration 0005: one flat table becomes a partitioned one, and back ---------------------------------------


def foreign_keys(conn: Connection, tables: Iterable[str]) -> list[ForeignKey]:
    """Foreign keys from or to any of ``tables``."""
    names = list(tables)
    rows = conn.exec_driver_sql(
        "SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text, c.confdeltype, "
        "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o) "
        "      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), "
        "ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o) "
        "      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) "
        "FROM pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0 "
        "AND (c.conrelid::regclass::text = ANY(%s) OR c.confrelid::regclass::text = ANY(%s))", (names, names))
    actions = {"c": "CASCADE", "r": "RESTRICT", "a": "NO ACTION", "n": "SET NULL", "d": "SET DEFAULT"}
    return [ForeignKey(name, table.strip('"'), tuple(cols), target.strip('"'), tuple(target_cols), actions[act])
            for name, table, target, act, cols, target_cols in rows]


def drop_foreign_key(conn: Connection, key: ForeignKey) -> None:
    conn.exec_driver_sql(f'ALTER TABLE "{key.table}" DROP CONSTRAINT "{key.name}"')


def add_foreign_key(conn: Connection, key: ForeignKey, *, with_town: bool) -> None:
    """Re-create ``key``; ``with_town`` leads both sides with ``town_code`` (a town's rows refer to its own)."""
    columns = _without_town(key.columns)
    targets = _without_town(key.target_columns)
    if with_town:
        columns, targets = ("town_code", *columns), ("town_code", *targets)
    on_delete = key.on_delete
    if with_town and on_delete in ("SET NULL", "SET DEFAULT"):
        on_delete += f" ({_names(_without_town(key.columns))})"  # never the town code itself (PostgreSQL 15)
    conn.exec_driver_sql(f'ALTER TABLE "{key.table}" ADD CONSTRAINT "{key.name}" FOREIGN KEY ({_names(columns)}) '
                         f'REFERENCES "{key.target}" ({_names(targets)}) ON DELETE {on_delete}')


def partition_by_town(conn: Connection, table: str, town: str) -> None:
    """Turn the flat ``table`` into one partitioned by town code, its rows becoming ``town``'s partition.

    Foreign keys from or to the table must have been dropped (:func:`foreign_keys`); they come back with
    :func:`add_foreign_key`. Keys and unique indexes gain ``town_code`` as their first column; other indexes,
    triggers and the id sequence move to the partitioned table, so towns added later get them too.
    """
    part = partition_name(table, town)
    run = conn.exec_driver_sql
    run(f'ALTER TABLE "{table}" ADD COLUMN town_code text NOT NULL DEFAULT \'{town}\'')
    keys, triggers, sequence = _keys(conn, table), _triggers(conn, table), _id_sequence(conn, table)
    _drop_keys_and_triggers(conn, table, keys, triggers)
    run(f'ALTER TABLE "{table}" RENAME TO "{part}"')
    run(f'CREATE TABLE "{table}" (LIKE "{part}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE '
        "INCLUDING COMMENTS) PARTITION BY LIST (town_code)")
    # Rows take the town of the transaction: no code has to name it, and none can name another (the policy).
    run(f"ALTER TABLE \"{table}\" ALTER COLUMN town_code SET DEFAULT current_setting('gis.town', true)")
    _create_keys(conn, table, keys, with_town=True)
    run(f'ALTER TABLE "{part}" ADD CONSTRAINT "{part}_town" CHECK (town_code = \'{town}\')')  # attach: no scan
    run(f'ALTER TABLE "{table}" ATTACH PARTITION "{part}" FOR VALUES IN (\'{town}\')')
    if sequence:
        run(f'ALTER SEQUENCE {sequence} OWNED BY "{table}".id')
    for definition in triggers.values():
        run(definition)


def flatten(conn: Connection, table: str, town: str) -> None:
    """Undo :func:`partition_by_town`: ``town``'s partition becomes the flat table again (the only town left)."""
    part = partition_name(table, town)
    run = conn.exec_driver_sql
    keys, triggers, sequence = _keys(conn, table), _triggers(conn, table), _id_sequence(conn, table)
    run(f'ALTER TABLE "{table}" DETACH PARTITION "{part}"')
    if sequence:
        run(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    run(f'DROP TABLE "{table}"')
    _drop_keys_and_triggers(conn, part, _keys(conn, part), _triggers(conn, part))
    run(f'ALTER TABLE "{part}" RENAME TO "{table}"')
    run(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{part}_town"')
    run(f'ALTER TABLE "{table}" DROP COLUMN town_code')
    _create_keys(conn, table, keys, with_town=False)
    if sequence:
        run(f'ALTER SEQUENCE {sequence} OWNED BY "{table}".id')
    for definition in triggers.values():
        run(definition)


def secure_by_town(conn: Connection, table: str) -> None:
    """Row-level security: a transaction sees and writes only rows of its own town (``gis.town``), owner too."""
    conn.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    conn.exec_driver_sql(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    conn.exec_driver_sql(f'CREATE POLICY {POLICY} ON "{table}" USING ({TOWN_FILTER}) WITH CHECK ({TOWN_FILTER})')


def unsecure(conn: Connection, table: str) -> None:
    conn.exec_driver_sql(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
    conn.exec_driver_sql(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    conn.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')


def create_town_role(conn: Connection, town_tables: Iterable[str]) -> None:
    """This database's town role (:data:`~gis_service.towns.TOWN_ROLE_SQL`), with exactly the rights the service
    needs: read and write the town tables (through their partitioned parents only), read the key and town lists.

    One role per database: roles belong to the whole PostgreSQL cluster, and a role shared by several databases
    would let a member of it in one database use its rights in another. Writing ``api_users`` and ``towns`` is
    administration (``admin_transaction``), never a town's transaction.
    """
    _plpgsql(conn,
        f"DO $$ DECLARE r text := {TOWN_ROLE_SQL}; BEGIN "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN "
        "EXECUTE format('CREATE ROLE %I NOLOGIN NOBYPASSRLS', r); END IF; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; "
        "WHEN insufficient_privilege THEN RAISE EXCEPTION 'creating the role % needs CREATEROLE: as a superuser run "
        "CREATE ROLE % NOLOGIN NOBYPASSRLS; GRANT % TO %; then run the upgrade again', r, quote_ident(r), "
        "quote_ident(r), quote_ident(current_user); END $$")
    grants = [("USAGE", "SCHEMA", "current_schema()")]
    grants += [("SELECT, INSERT, UPDATE, DELETE", "TABLE", _literal(table)) for table in town_tables]
    grants += [("SELECT", "TABLE", _literal(table)) for table in ("api_users", "towns", "alembic_version")]
    for rights, kind, target in grants:
        _plpgsql(conn, f"DO $$ BEGIN EXECUTE format('GRANT {rights} ON {kind} %I TO %I', {target}, "
                             f"{TOWN_ROLE_SQL}); END $$")
    for table in town_tables:
        sequence = _id_sequence(conn, table)
        if sequence:
            _plpgsql(conn, f"DO $$ BEGIN EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE {sequence} "
                                 f"TO %I', {TOWN_ROLE_SQL}); END $$")
    # A service that connects as an ordinary user (the tables' owner) must be allowed to switch to the role;
    # a superuser always is.
    _plpgsql(conn,
        f"DO $$ DECLARE r text := {TOWN_ROLE_SQL}; BEGIN "
        "IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
        "AND NOT pg_has_role(current_user, r, 'MEMBER') THEN "
        "EXECUTE format('GRANT %I TO %I', r, current_user); END IF; END $$")


def drop_town_role(conn: Connection) -> None:
    """Take the role's rights in this database and drop it (downgrade)."""
    _plpgsql(conn,
        f"DO $$ DECLARE r text := {TOWN_ROLE_SQL}; BEGIN "
        "IF EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN "
        "EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), r); "
        "EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', current_schema(), r); "
        "EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', current_schema(), r); "
        "EXECUTE format('DROP ROLE %I', r); END IF; END $$")


def _plpgsql(conn: Connection, statement: str) -> None:
    # psycopg reads every % as a placeholder, even without parameters; format()'s %I and RAISE's % are not.
    conn.exec_driver_sql(statement.replace("%", "%%"))


def _literal(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


# --- helpers -------------------------------------------------------------------------------------------------


def _keys(conn: Connection, table: str) -> list[Key]:
    rows = conn.exec_driver_sql(
        "SELECT ic.relname, coalesce(con.contype::text, CASE WHEN i.indisunique THEN 'i' ELSE 'x' END), "
        "ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) "
        "      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), "
        "pg_get_indexdef(i.indexrelid), con.conname "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u') "
        "WHERE i.indrelid = %s::regclass ORDER BY ic.relname", (f'"{table}"',))
    return [Key(str(constraint or name), str(kind), tuple(columns), str(definition))
            for name, kind, columns, definition, constraint in rows]


def _triggers(conn: Connection, table: str) -> dict[str, str]:
    rows = conn.exec_driver_sql(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
        "AND tgparentid = 0", (f'"{table}"',))
    return {str(name): str(definition) for name, definition in rows}


def _id_sequence(conn: Connection, table: str) -> str | None:
    has_id = conn.exec_driver_sql(
        "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id' AND NOT attisdropped",
        (f'"{table}"',)).first()
    if not has_id:
        return None
    sequence = conn.exec_driver_sql("SELECT pg_get_serial_sequence(%s, 'id')", (f'"{table}"',)).scalar()
    return str(sequence) if sequence else None


def _drop_keys_and_triggers(conn: Connection, table: str, keys: Sequence[Key], triggers: dict[str, str]) -> None:
    for name in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}" ON "{table}"')
    for key in sorted(keys, key=lambda k: k.kind == "p"):  # the primary key last
        if key.kind in ("p", "u"):
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{key.name}"')
        else:
            conn.exec_driver_sql(f'DROP INDEX "{key.name}"')


def _create_keys(conn: Connection, table: str, keys: Sequence[Key], *, with_town: bool) -> None:
    for key in keys:
        columns = _without_town(key.columns)
        if with_town and key.kind in ("p", "u", "i"):
            columns = ("town_code", *columns)  # unique keys of a partitioned table must hold the partition key
        if key.kind == "p":
            conn.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{key.name}" PRIMARY KEY ({_names(columns)})')
        elif key.kind == "u":
            conn.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{key.name}" UNIQUE ({_names(columns)})')
        elif key.kind == "i":
            conn.exec_driver_sql(f'CREATE UNIQUE INDEX "{key.name}" ON "{table}" ({_names(columns)})')
        else:  # one town per partition: other indexes need no town column (GiST ones could not take it anyway)
            method = key.definition.split(" USING ", 1)[1].split(" ", 1)[0]
            conn.exec_driver_sql(f'CREATE INDEX "{key.name}" ON "{table}" USING {method} ({_names(columns)})')


def _without_town(columns: Sequence[str]) -> tuple[str, ...]:
    return tuple(c for c in columns if c != "town_code")


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _checked(town: str) -> str:
    # Town codes become part of table names and DDL literals: only ever 9 digits.
    if not TOWN_CODE.match(town):
        raise ValueError(f"not a town code: {town!r}")
    return town
