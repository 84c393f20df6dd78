"""The target table's shape: created and evolved by DDL, read back from the catalogue.

Kept apart from the writes because it runs in its own short transactions before any day is
written, and because the catalogue is the one place the mirror's actual columns are known.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg2 import sql

from qupersync_dagster.domain.entities import Column, TableSchema, TableSpec
from qupersync_dagster.domain.errors import ConfigError
from qupersync_dagster.infrastructure.catalog_types import from_catalog
from qupersync_dagster.infrastructure.postgres import types
from qupersync_dagster.infrastructure.postgres.guard import GuardedEngine
from qupersync_dagster.infrastructure.postgres.sql_fragments import names, table

_DESCRIBE = sql.SQL(
    """
    SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,
           is_nullable = 'YES' AS nullable
    FROM information_schema.columns
    WHERE table_schema = %(schema)s AND table_name = %(table)s
    ORDER BY ordinal_position
    """
)

_PRIMARY_KEY = sql.SQL(
    """
    SELECT a.attname
    FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indisprimary
      AND i.indrelid = to_regclass(quote_ident(%(schema)s) || '.' || quote_ident(%(table)s))
    ORDER BY array_position(i.indkey, a.attnum)
    """
)


def describe(target: GuardedEngine, spec: TableSpec) -> TableSchema | None:
    """The target table's columns and primary key, or None when it does not exist yet."""
    params = {"schema": spec.target.schema, "table": spec.target.name}
    with target.cursor(spec.name) as cursor:
        cursor.execute(_DESCRIBE, params)
        rows = cursor.fetchall()
        if not rows:
            return None
        cursor.execute(_PRIMARY_KEY, params)
        primary_key = tuple(name for (name,) in cursor.fetchall())
    return TableSchema(tuple(_column(spec, *row) for row in rows), primary_key)


def _column(spec: TableSpec, name, data_type, length, precision, scale, nullable) -> Column:
    """One catalogue row of ``_DESCRIBE`` as a column; a type QuperSync does not map is refused."""
    column_type = from_catalog(data_type, length, precision, scale)
    if column_type is None:
        raise ConfigError(
            f"table {spec.name!r}: target column {name!r} has type "
            f"{data_type!r}, which QuperSync does not map"
        )
    return Column(name, column_type, nullable)


def create_table(target: GuardedEngine, spec: TableSpec, schema: TableSchema) -> None:
    """The schema, the table (keys NOT NULL, primary key) and the index by day, if missing."""
    key = set(spec.primary_key)
    definitions = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name),
            sql.SQL(types.ddl(c.type)),
            sql.SQL(" NOT NULL" if c.name in key or not c.nullable else ""),
        )
        for c in schema.columns
    ]
    if spec.primary_key:
        definitions.append(sql.SQL("PRIMARY KEY ({})").format(names(spec.primary_key)))
    statements = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(spec.target.schema)),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
            table(spec), sql.SQL(", ").join(definitions)
        ),
        # Every sync deletes or reconciles by day: keep that a range scan.
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
            sql.Identifier(f"{spec.target.name}_{spec.partition_column}_idx"[:63]),
            table(spec),
            sql.Identifier(spec.partition_column),
        ),
    ]
    _execute(target, spec, statements)


def evolve_table(
    target: GuardedEngine, spec: TableSpec, added: list[Column], widened: list[Column]
) -> None:
    """Add ``added`` and widen ``widened`` to their new types, in one transaction."""
    statements = [
        sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
            table(spec), sql.Identifier(c.name), sql.SQL(types.ddl(c.type))
        )
        for c in added
    ] + [
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {}").format(
            table(spec), sql.Identifier(c.name), sql.SQL(types.ddl(c.type))
        )
        for c in widened
    ]
    _execute(target, spec, statements)


def _execute(target: GuardedEngine, spec: TableSpec, statements: Sequence[sql.Composable]) -> None:
    with target.cursor(spec.name, begin=True) as cursor:
        for statement in statements:
            cursor.execute(statement)
