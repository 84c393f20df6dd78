"""The daily cost summary, aggregated inside PostgreSQL from the mirrored line items.

A day is rebuilt by deleting and re-inserting it in one transaction, so re-running after a
restatement leaves exactly one set of rows per day. The transaction is opened through the guard
like every other use of the target: bounded by the client deadline, failures translated.
Measures are summed as ``numeric``: a float measure (CUR 2.0 costs are DOUBLE PRECISION) then
counts each value as PostgreSQL casts it, to 15 significant digits, and its sum no longer depends
on the order rows are read in.
"""

from __future__ import annotations

from datetime import date

from psycopg2 import sql

from qupersync_dagster.domain.entities import (
    SUMMARY_DIMENSIONS,
    SUMMARY_MEASURES,
    SummarySpec,
    TableSpec,
)
from qupersync_dagster.infrastructure.postgres.guard import GuardedEngine


def _create(summary: SummarySpec) -> list[sql.Composable]:
    table = sql.Identifier(summary.target.schema, summary.target.name)
    columns: list[sql.Composable] = [sql.SQL("usage_date date NOT NULL")]
    columns += [sql.SQL("{} text").format(sql.Identifier(name)) for name, _ in SUMMARY_DIMENSIONS]
    columns += [sql.SQL("{} numeric").format(sql.Identifier(name)) for name, _ in SUMMARY_MEASURES]
    columns.append(sql.SQL("line_count bigint NOT NULL"))
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(summary.target.schema)),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(table, sql.SQL(", ").join(columns)),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (usage_date)").format(
            sql.Identifier(f"{summary.target.name}_usage_date_idx"[:63]), table
        ),
    ]


def rebuild(
    database: GuardedEngine, summary: SummarySpec, line_items: TableSpec, start: date, end: date
) -> int:
    """Replace the summary rows of ``[start, end)``; returns the number of rows written."""
    target = sql.Identifier(summary.target.schema, summary.target.name)
    partition = sql.Identifier(line_items.partition_column)
    names = (
        ["usage_date"]
        + [n for n, _ in SUMMARY_DIMENSIONS]
        + [n for n, _ in SUMMARY_MEASURES]
        + ["line_count"]
    )
    select = (
        [sql.SQL("CAST({} AS date)").format(partition)]
        + [sql.Identifier(column) for _, column in SUMMARY_DIMENSIONS]
        + [
            sql.SQL("SUM(CAST({} AS numeric))").format(sql.Identifier(column))
            for _, column in SUMMARY_MEASURES
        ]
        + [sql.SQL("COUNT(*)")]
    )
    group_by = sql.SQL(", ").join(sql.SQL(str(i)) for i in range(1, len(SUMMARY_DIMENSIONS) + 2))
    window = {"start": start, "end": end}
    with database.cursor(summary.name, begin=True) as cursor:
        for statement in _create(summary):
            cursor.execute(statement)
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE usage_date >= %(start)s AND usage_date < %(end)s").format(
                target
            ),
            window,
        )
        cursor.execute(
            sql.SQL(
                "INSERT INTO {target} ({names}) SELECT {select} FROM {source}"
                " WHERE {partition} >= %(start)s AND {partition} < %(end)s GROUP BY {group_by}"
            ).format(
                target=target,
                names=sql.SQL(", ").join(map(sql.Identifier, names)),
                select=sql.SQL(", ").join(select),
                source=sql.Identifier(line_items.target.schema, line_items.target.name),
                partition=partition,
                group_by=group_by,
            ),
            window,
        )
        return cursor.rowcount
