"""The mirror as the checks and the asset's metadata read it: counts, sums, keys, a preview.

These reads never write and run outside any day's transaction; they implement the domain's
``TargetReadModel`` port so the Dagster layer reaches them without knowing the adapter.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from qupersync_dagster.domain.entities import (
    KeyViolations,
    SourceFingerprint,
    TableSchema,
    TableSpec,
)
from qupersync_dagster.domain.repositories import TargetReadModel
from qupersync_dagster.infrastructure.postgres import schema
from qupersync_dagster.infrastructure.postgres.fingerprints import fingerprints_by_day
from qupersync_dagster.infrastructure.postgres.guard import GuardedEngine, one_row
from qupersync_dagster.infrastructure.postgres.sql_fragments import (
    table,
    window_params,
    window_predicate,
)


def key_violations_query(spec: TableSpec) -> sql.Composed:
    """Rows, rows with a NULL key, duplicated keys and their extra rows, in one grouped scan."""
    keys = [sql.Identifier(k) for k in spec.primary_key]
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(k) for k in keys)
    return sql.SQL(
        "SELECT COALESCE(SUM(n), 0), COALESCE(SUM(n) FILTER (WHERE {any_null}), 0),"
        " COUNT(*) FILTER (WHERE n > 1 AND NOT ({any_null})),"
        " COALESCE(SUM(n - 1) FILTER (WHERE n > 1 AND NOT ({any_null})), 0)"
        " FROM (SELECT {keys}, COUNT(*) AS n FROM {table} WHERE {window} GROUP BY {keys}) AS k"
    ).format(
        any_null=any_null,
        keys=sql.SQL(", ").join(keys),
        table=table(spec),
        window=window_predicate(spec),
    )


# Whether a valid primary key of the target covers exactly the given columns: PostgreSQL then
# rejects every NULL and duplicate key, and the rows need no grouping to prove it.
_KEY_ENFORCED = """
SELECT EXISTS (
    SELECT FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS c ON c.oid = i.indrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND i.indisprimary AND i.indisvalid
      AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
           FROM pg_catalog.pg_attribute AS a
           WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) = %(columns)s::text[]
)
"""


def previews_query(spec: TableSpec) -> sql.Composed:
    """At most ``%(limit)s`` rows of each day of ``%(days)s``, each row followed by its day."""
    column = sql.Identifier(spec.partition_column)
    return sql.SQL(
        "SELECT t.*, d.day FROM unnest(CAST(%(days)s AS date[])) AS d(day) CROSS JOIN LATERAL"
        " (SELECT * FROM {table} WHERE {column} >= d.day AND {column} < d.day + 1"
        " LIMIT %(limit)s) AS t"
    ).format(table=table(spec), column=column)


def count_query(spec: TableSpec) -> sql.Composed:
    return sql.SQL("SELECT COUNT(*) FROM {} WHERE {}").format(table(spec), window_predicate(spec))


class PostgresReadModel(TargetReadModel):
    """``timeout_s`` bounds every read (0: no limit)."""

    def __init__(self, engine: sa.Engine, timeout_s: float = 3600):
        self.target = GuardedEngine(engine, timeout_s)

    def describe(self, spec: TableSpec) -> TableSchema | None:
        return schema.describe(self.target, spec)

    def fingerprints(
        self, spec: TableSpec, start: date, end: date
    ) -> dict[date, SourceFingerprint]:
        with self.target.cursor(spec.name) as cursor:
            return fingerprints_by_day(cursor, spec, start, end)

    def key_violations(self, spec: TableSpec, start: date, end: date) -> KeyViolations:
        """Counted by grouping the window's rows, unless the table's primary key is the key."""
        with self.target.cursor(spec.name) as cursor:
            if self._key_enforced(cursor, spec):
                cursor.execute(count_query(spec), window_params(start, end))
                return KeyViolations(int(one_row(cursor)[0]), 0, 0, 0)
            cursor.execute(key_violations_query(spec), window_params(start, end))
            return KeyViolations(*map(int, one_row(cursor)))

    def key_enforced(self, spec: TableSpec) -> bool:
        with self.target.cursor(spec.name) as cursor:
            return self._key_enforced(cursor, spec)

    @staticmethod
    def _key_enforced(cursor: Cursor, spec: TableSpec) -> bool:
        key = {"schema": spec.target.schema, "table": spec.target.name}
        cursor.execute(_KEY_ENFORCED, key | {"columns": sorted(spec.primary_key)})
        return bool(one_row(cursor)[0])

    def preview(
        self, spec: TableSpec, start: date, end: date, limit: int = 10
    ) -> tuple[list[str], list[tuple[object, ...]]]:
        query = sql.SQL("SELECT * FROM {} WHERE {} LIMIT %(limit)s").format(
            table(spec), window_predicate(spec)
        )
        with self.target.cursor(spec.name) as cursor:
            cursor.execute(query, {**window_params(start, end), "limit": limit})
            return [d.name for d in cursor.description or ()], cursor.fetchall()

    def previews(
        self, spec: TableSpec, days: list[date], limit: int = 10
    ) -> dict[date, tuple[list[str], list[tuple[object, ...]]]]:
        if not days:
            return {}
        found: dict[date, list[tuple[object, ...]]] = {day: [] for day in days}
        with self.target.cursor(spec.name) as cursor:
            cursor.execute(previews_query(spec), {"days": days, "limit": limit})
            columns = [d.name for d in cursor.description or ()][:-1]
            for *row, day in cursor.fetchall():
                found[day].append(tuple(row))
        return {day: (columns, rows) for day, rows in found.items()}
