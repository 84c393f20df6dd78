"""The target's fingerprint of each day: its row count and exact measure sum, one query.

Two readers share it, so both read the very same figures: the read model, after the fact (the
checks, and the asset for days a run did not rewrite), and a day's own transaction right before
it commits (the asset for the days it rewrote). Read inside the transaction, the rows it has just
written cost the server less than once committed: the first read after a commit looks each row's
transaction up and sets its hint bits, a write to every page of a freshly loaded day.
"""

from __future__ import annotations

from datetime import date

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from qupersync_dagster.domain.entities import SourceFingerprint, TableSpec
from qupersync_dagster.infrastructure.float_sql import postgres_float_measure_sum
from qupersync_dagster.infrastructure.postgres.guard import one_row
from qupersync_dagster.infrastructure.postgres.sql_fragments import (
    table,
    window_params,
    window_predicate,
)

# Whether the measure column is a float (real or double precision) in the table as it stands:
# one catalogue row, where describing the whole table would take two information_schema reads.
_FLOAT_MEASURE = sql.SQL(
    "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(%(table)s)"
    " AND attname = %(column)s AND attnum > 0 AND NOT attisdropped"
    " AND atttypid IN (CAST('real' AS regtype), CAST('double precision' AS regtype)))"
)


def fingerprint_query(spec: TableSpec, *, float_measure: bool) -> sql.Composed:
    """Per day of the window: the day, its row count and its exact measure sum (decimal text).

    A float measure is summed by the source's float rule, in the form PostgreSQL computes
    cheaply (the same text as the source's).
    """
    measure: sql.Composable
    if not spec.measure_column:
        measure = sql.SQL("NULL")
    else:
        rule = (
            postgres_float_measure_sum("{column}")
            if float_measure
            else "CAST(SUM({column}) AS text)"
        )
        measure = sql.SQL(rule).format(column=sql.Identifier(spec.measure_column))
    return sql.SQL(
        "SELECT CAST({column} AS date), COUNT(*), {measure} FROM {table} WHERE {window} GROUP BY 1"
    ).format(
        column=sql.Identifier(spec.partition_column),
        measure=measure,
        table=table(spec),
        window=window_predicate(spec),
    )


def fingerprints_by_day(
    cursor: Cursor, spec: TableSpec, start: date, end: date
) -> dict[date, SourceFingerprint]:
    """Each day of ``[start, end)`` with rows in the target, as ``cursor``'s transaction sees it."""
    query = fingerprint_query(spec, float_measure=_float_measure(cursor, spec))
    cursor.execute(query, window_params(start, end))
    return {day: SourceFingerprint(count, total) for day, count, total in cursor.fetchall()}


def _float_measure(cursor: Cursor, spec: TableSpec) -> bool:
    if not spec.measure_column:
        return False
    cursor.execute(
        _FLOAT_MEASURE, {"table": table(spec).as_string(cursor), "column": spec.measure_column}
    )
    return bool(one_row(cursor)[0])
